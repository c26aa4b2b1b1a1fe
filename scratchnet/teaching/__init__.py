"""Teaching material made from the engine: explain --html's page of one digit's backward pass, and the code
links of docs/backprop.md read back.

May import: everything below it (the engine, shell/, checking/, fast/, mnist/, run/). Never grade/.
"""
