"""Signals during a training run: Ctrl-C (SIGINT), SIGTERM and SIGHUP all stop it the same way, losing nothing.

While an `InterruptFlag` is active, the first of these signals only raises its flag: the step in progress
finishes, then run control (scratchnet.run.control) saves a checkpoint and stops with the command that resumes it,
exit status 128 + the signal's number (130, 143, 129), wherever the signal arrived: in a step, in the test
after an epoch, between epochs. A second signal stops at once, without saving (`Stopped`), except
while a checkpoint is being written: that write finishes first, so that the last message can say what was saved.
Outside a run, scratchnet.shell.console's run_cli turns SIGTERM and SIGHUP into `Stopped` as Python does Ctrl-C,
and `stopped_by` says which signal it was. A signal the command was started with ignored stays ignored, as in
every Unix program: `nohup python -m scratchnet.train … &` keeps training when the terminal closes (SIGHUP),
and a script's `python -m scratchnet.train … &` is not stopped by the Ctrl-C meant for the script (SIGINT).
"""

import contextlib
import signal

from scratchnet.errors import ScratchnetError

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOPPING = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


class Stopped(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived where nothing else handles it."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


def stopped_by(signum):
    """How the user's signal reads in a message: 'interrupted (SIGINT)', 'terminated (SIGTERM)', …"""
    return f"{STOPPING[signum]} ({signal.Signals(signum).name})"


def raise_stopped(signum, frame):
    """A signal handler: the signal as Stopped, an exception like Ctrl-C's."""
    raise Stopped(signum)


def handle(signums, handler):
    """Install handler for each of signums that is not ignored (nohup, `… &` in a script: the user's wish);
    return the previous handlers of those it replaced, {signum: handler}, for restoring them."""
    return {signum: signal.signal(signum, handler) for signum in signums
            if signal.getsignal(signum) is not signal.SIG_IGN}


class InterruptError(ScratchnetError):
    """A signal stopped the run; the message says what was saved and how to resume (exit status 128 + signal)."""

    prefix = ""

    def __init__(self, message, signum):
        super().__init__(message)
        self.exit_code = 128 + signum


class InterruptFlag:
    """The first SIGINT, SIGTERM or SIGHUP sets `signum` (one the process was started with ignored stays
    ignored); a second one raises Stopped, unless a checkpoint is being written (`with flag.writing():`),
    which it lets finish."""

    def __enter__(self):
        self.signum, self._writing = None, False
        self.previous = handle(SIGNALS, self._handle)
        return self

    @property
    def requested(self):
        return self.signum is not None

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        elif not self._writing:
            raise Stopped(signum)

    @contextlib.contextmanager
    def writing(self):
        """While the body writes a checkpoint, any signal only waits for it."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
