"""Teaching material made from the engine: explain --html's page of one digit's pass (explain_html, which trains
its network with a run of run/), and the code links of docs/backprop.md read back and repaired (doclinks).

May import: scratchnet.errors, shell, engine, mnist, run. Never fast/ directly, checking/, grade/, nor the commands.
"""
