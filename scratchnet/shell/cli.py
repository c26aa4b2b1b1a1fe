"""Argument parsing for every command: a bad flag is one line and exit status 2, never argparse's usage block."""

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (the problem and where to look), exit status 2. `elsewhere` maps a
    flag (or value) this command does not take to where it belongs, which the line then says."""

    elsewhere = {}

    def error(self, message):
        where = next((hint for word, hint in self.elsewhere.items() if word in message), "")
        self.exit(2, f"{self.prog}: error: {message}{where} (see --help)\n")
