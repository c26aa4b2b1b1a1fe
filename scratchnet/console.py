"""What a command-line run shows the user: a progress bar on a terminal, and errors as one line.

The bar goes to stderr and only when stderr is a terminal; in a pipe or a log, only the plain lines
that the tutorial prints appear.
"""

import sys
import time

from scratchnet.errors import ScratchnetError


def info(message):
    """A status line for the user (stderr, so stdout keeps the tutorial's exact output)."""
    print(message, file=sys.stderr, flush=True)


class Progress:
    """A one-line bar `label [#####     ] done/total  elapsed` redrawn in place on a terminal."""

    def __init__(self, total, label, stream=None, unit=""):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.perf_counter()
        self.done = 0

    def update(self, done):
        self.done = done
        if self.enabled:
            width = 30
            filled = int(width * done / self.total) if self.total else width
            elapsed = time.perf_counter() - self.start
            bar = "#" * filled + " " * (width - filled)
            line = f"{self.label} [{bar}] {done}/{self.total}{self.unit}  {elapsed:5.1f}s"
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()

    def print(self, line):
        """Print a line to stdout without tearing the bar: clear it, print, redraw."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
        print(line, flush=True)
        self.update(self.done)

    def close(self):
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run_cli(main, argv=None):
    """Run `main(argv)`; a ScratchnetError becomes one line on stderr and its exit status, never a traceback."""
    try:
        return main(argv)
    except ScratchnetError as e:
        print(f"{e.prefix}{e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
