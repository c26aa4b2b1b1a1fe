"""Watching one child process: its job and each call's arguments sent when it may have them, its output and
records read, its clocks kept (scratchnet/grade/sandbox.py starts it and reads what it did).

The grader writes to the child without ever blocking (Outbox): the job at once, then call i's arguments
when the child starts call i and call i-1's outcome is back (Steps), since a call's answer is often a
later call's argument. Each step has its own clock, time_limit + GRACE from its start; a call index
starts once, so nothing the child sends extends it. When the child exits, whatever it left running is
killed at once, since it would hold the pipes open.
"""

import fcntl
import os
import selectors
import time
from dataclasses import dataclass, field

from scratchnet.grade.isolation import stop

MAX_OUTPUT_BYTES = 80_000    # bytes of a child's own output read into memory; the rest is drained and dropped
GRACE = 2.0                  # seconds past the limit before the parent kills a child that ignores its alarm
STARTUP = 30.0               # seconds the child may take to start Python and NumPy before the import begins


@dataclass
class Watched:
    """What one child did: its records in order (the "start"s aside), how it ended, its output and exit status."""

    records: list = field(default_factory=list)
    current: object = None     # the last step started: "import", a call's index in the job, or None
    killed: str = None         # None, "time" (one step overran), "budget" (the whole submission), "channel"
    broken: str = None         # what the channel reader refused
    output: bytes = b""
    status: int = 0


class Outbox:
    """The pipe to the child, written without blocking: the job at once, each call's arguments on release."""

    def __init__(self, fd, job, calls):
        self.fd, self.pending, self.calls = fd, bytearray(job), calls
        os.set_blocking(fd, False)

    def release(self, i):
        self.pending += self.calls[i]

    def flush(self):
        try:
            del self.pending[:os.write(self.fd, self.pending[:1 << 16])]
        except BlockingIOError:
            pass
        except OSError:  # the child is gone
            self.pending.clear()


def above_stdio(fd):
    """fd, or a copy of it numbered 3 or more (when the grader was started with stdin, stdout or stderr closed)."""
    if fd > 2:
        return fd
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 3)
    os.close(fd)
    return high


def watch(proc, token, fd, reader, steps, budget_end):
    """Drain the child's output and records until both end, sending each call's arguments when the child may
    have them (`steps`, a Steps, owns the Outbox); kill it when a step or the budget runs out."""
    watched, output, outbox = Watched(), bytearray(), steps.outbox
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "output")
    sel.register(fd, selectors.EVENT_READ, "records")
    exited, reading = None, 2
    while reading:
        outbox.flush()
        for key, _ in sel.select(timeout=0.01 if outbox.pending else 0.1):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                reading -= 1
            elif key.data == "output":
                output += chunk[:max(MAX_OUTPUT_BYTES - len(output), 0)]
            else:
                watched.records += [item for item in reader.feed(chunk) if steps.keep(item)]
        step_end, watched.current = steps.end, steps.current
        now = time.monotonic()
        watched.killed = ("channel" if reader.broken else "budget" if now > budget_end
                          else "time" if now > step_end else None)
        if watched.killed:
            break
        if exited is None and proc.poll() is not None:
            exited = now
            stop(proc, token)  # whatever it left running holds the pipes open
        elif exited is not None and now > exited + 1.0:
            break
    sel.close()
    stop(proc, token)
    watched.broken, watched.output, watched.status = reader.broken, bytes(output), proc.returncode
    return watched


class Steps:
    """The child's steps as the grader lets them go: the import, then each call in order, a call's arguments
    released only once the call before it has its outcome back; each step on its own clock."""

    def __init__(self, outbox, limits):
        self.outbox, self.limits = outbox, limits
        self.current, self.last, self.awaiting, self.imported = None, -1, None, False
        self.end = time.monotonic() + STARTUP

    def keep(self, item):
        """Act on one record from the child; True when it is a record for records.apply (not a "start")."""
        record = item[0] if isinstance(item, tuple) else getattr(item, "record", None)  # an oversized one keeps it
        record = record if isinstance(record, dict) else {}
        kind, step = record.get("kind"), record.get("step")
        if kind == "import":
            self.imported = True
        elif kind == "call" and record.get("index") == self.awaiting:
            self.awaiting = None
        if kind != "start":
            return True
        if step == "import" and self.current is None:
            self._start("import")
        elif (type(step) is int and self.imported and self.awaiting is None
              and self.last < step < len(self.outbox.calls)):
            self.last = self.awaiting = step
            self._start(step)
            self.outbox.release(step)
        return False

    def _start(self, step):
        self.current, self.end = step, time.monotonic() + self.limits.time_limit + GRACE
