"""A training run: its configuration (TrainConfig and the command line), how it is built (network, optimizer,
schedule, step), run control (Ctrl-C, resume, the divergence message), checkpoints and their schema, metrics,
plots.

May import: the engine, shell/, fast/, mnist/. Never teaching/, grade/, nor the commands.
"""
