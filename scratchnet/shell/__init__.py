"""The command-line shell: one-line errors and exit codes, the progress bar and signal messages (console), signals
turned into a flag the run polls (signals), argument parsing that fails in one line (cli), files written whole
or not at all (fileio), and the memory a model needs against what the machine has (memory).

May import: scratchnet.errors. Nothing else of scratchnet: the engine and every other folder stand above it.
"""
