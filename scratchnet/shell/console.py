"""What a command-line run shows the user: a progress bar on a terminal, and errors as one line.

The bar goes to stderr and only when stderr is a terminal; in a pipe or a log, only the plain lines
that the tutorial prints appear. The bar fits the terminal's width and is cleared before any other
message, so no line is ever glued to it.

`run_cli` is every command's entry point: a ScratchnetError becomes one line and its exit status; a reader
that goes away (`… | head -1`) ends the command quietly, as Unix tools end, with status 141 (128 + SIGPIPE);
SIGTERM and SIGHUP stop it as Ctrl-C does, with one line and status 128 + the signal's number (a training run
saves first: scratchnet.run.control), unless the command was started with them ignored (nohup ignores
SIGHUP); on a stream that cannot encode α, σ, δ or ≤ (`PYTHONIOENCODING=latin-1`, `LC_ALL=C`) each such
character is written in ASCII (alpha, sigma, delta, <=) instead of failing; and a stream closed before the
command started (`>&-`, `2>&-`) is taken as the user's wish to discard it, as `>/dev/null` would: the command
runs and ends with its own exit status, what it prints there is dropped.
"""

import codecs
import os
import signal
import sys
import time

from scratchnet.errors import ScratchnetError
from scratchnet.shell.signals import STOPPING, Stopped, handle, raise_stopped, stopped_by

ASCII = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "η": "eta", "θ": "theta",
         "λ": "lambda", "μ": "mu", "µ": "u", "σ": "sigma", "Σ": "sum", "Δ": "Delta", "∂": "d", "∇": "grad",
         "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "±": "+-", "×": "x", "·": "*", "⊙": "(.)", "√": "sqrt ",
         "′": "'", "−": "-", "–": "-", "—": "--", "…": "...", "→": "->", "←": "<-", "⇄": "<->", "‖": "||",
         "½": "1/2", "∈": "in", "ᵀ": "^T", "ᵗ": "^t", "\u0302": "^", "é": "e", "à": "a"}
ASCII.update({sup: "^" + digit for sup, digit in zip("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789", strict=True)})
ASCII.update({sub: digit for sub, digit in zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True)})
ERRORS = "scratchnet-ascii"  # the codec error handler that writes those spellings


def _readable(error):
    """codecs error handler: each character the stream cannot encode in ASCII spelling, or '?'."""
    bad = error.object[error.start:error.end]
    return "".join(ASCII.get(char, "?") for char in bad), error.end


codecs.register_error(ERRORS, _readable)

_bar = None  # the Progress drawn on the terminal now, cleared before any other message


def clear_bar():
    """Erase the progress bar, if one is drawn, so that the next message starts on a clean line."""
    if _bar is not None:
        _bar.clear()


def info(message):
    """A status line for the user (stderr, so stdout keeps the tutorial's exact output)."""
    clear_bar()
    print(message, file=sys.stderr, flush=True)


class Progress:
    """A one-line bar `label [#####     ] done/total  elapsed` redrawn in place on a terminal, never wider."""

    WIDTH = 30  # the bar's width where the terminal has room

    def __init__(self, total, label, stream=None, unit=""):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.perf_counter()
        self.done = 0

    def update(self, done):
        global _bar
        self.done = done
        if self.enabled:
            self.stream.write("\r\x1b[K" + self.line(_columns(self.stream)))
            self.stream.flush()
            _bar = self

    def line(self, columns):
        """The bar as drawn in a terminal `columns` wide: at most columns − 1 characters, so it never wraps."""
        counts = f" {self.done}/{self.total}{self.unit}  {time.perf_counter() - self.start:5.1f}s"
        width = min(self.WIDTH, columns - 1 - len(self.label) - len(counts) - 3)
        if width < 5:  # no room for a bar worth the name: the counts alone
            return (self.label + counts)[:columns - 1]
        filled = int(width * self.done / self.total) if self.total else width
        return f"{self.label} [{'#' * filled}{' ' * (width - filled)}]{counts}"

    def print(self, line):
        """Print a line to stdout without tearing the bar: clear it, print, redraw."""
        self.clear()
        print(line, flush=True)
        self.update(self.done)

    def clear(self):
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def close(self):
        global _bar
        self.clear()
        if _bar is self:
            _bar = None


def _columns(stream):
    """The terminal's width in columns: the terminal's own, else $COLUMNS, else 80."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0  # not a terminal, or one that does not know its size (a fresh pty says 0)
    if columns <= 0:
        try:
            columns = int(os.environ.get("COLUMNS", ""))
        except ValueError:
            columns = 80
    return max(columns, 2)


def readable_streams():
    """Make stdout and stderr write what they cannot encode in ASCII spellings instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if encoding and hasattr(stream, "reconfigure") and codecs.lookup(encoding).name != "utf-8":
            stream.reconfigure(errors=ERRORS)


def discard_closed_streams():
    """Point a stdout or stderr that was closed at start (Python makes it None) at /dev/null, descriptor included,
    so that prints and child processes write nowhere, and no file the command opens takes descriptor 1 or 2."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.fstat(fd)
        except OSError:  # the descriptor is free: /dev/null takes it
            os.dup2(devnull, fd)
            os.close(devnull)
            devnull = fd
        setattr(sys, name, open(devnull, "w", encoding="utf-8", errors=ERRORS, closefd=devnull != fd))


def run_cli(main, argv=None):
    """Run `main(argv)`; a ScratchnetError becomes one line on stderr and its exit status, never a traceback."""
    discard_closed_streams()
    readable_streams()
    handle((signal.SIGTERM, signal.SIGHUP), raise_stopped)  # as Ctrl-C: an exception, so files are left whole
    try:
        try:
            return main(argv)
        finally:  # --help exits through here too: a reader gone away shows now, not as a warning at exit
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_exit()
    except ScratchnetError as e:
        _last_words(f"{e.prefix}{e}", e.exit_code)
    except KeyboardInterrupt as e:
        for other in STOPPING:  # stopping already: another Ctrl-C must not cut the last line or its exit status
            signal.signal(other, signal.SIG_IGN)
        signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
        _last_words(stopped_by(signum), 128 + signum)
    except MemoryError:
        _last_words("error: out of memory; use a smaller model (--hidden), batch (--batch-size) or "
                    "--train-size", 1)


def _last_words(message, code):
    """One line on stderr, the bar cleared first, then exit `code`; quietly if stderr itself is gone."""
    try:
        clear_bar()
        print(message, file=sys.stderr, flush=True)
    except BrokenPipeError:
        _quiet_exit()
    sys.exit(code)


def _quiet_exit():
    """The reader closed the pipe: point stdout and stderr at /dev/null (so that the final flush cannot fail
    again) and exit 128 + SIGPIPE, what a shell shows for a Unix tool stopped by its reader."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    sys.exit(128 + signal.SIGPIPE)
