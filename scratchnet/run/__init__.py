"""A training run: its configuration (config: TrainConfig and the recipes), its command line (flags), what it
may ask for (request: refused before any work), how it is built once (build: device, network, optimizer with
its α_t, resume, step), run control around the loop (control: Ctrl-C, checkpoints, the divergence message),
checkpoints and their schema, metrics, plots.

May import: scratchnet.errors, shell, engine, mnist, fast. Never checking/, teaching/, grade/, nor the commands.
"""
