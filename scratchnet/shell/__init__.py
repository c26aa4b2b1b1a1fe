"""The command-line shell: one-line errors and exit codes (console), the progress bar, signals, argument
parsing that fails in one line (cli), files written whole or not at all (fileio).

May import: scratchnet.errors and the standard library. Never the engine, nor any other folder.
"""
