"""A busy machine, made on purpose: one process spinning on one core for a bounded time.

    python -m benchmarks.busy SECONDS [CORE]      # spin on CORE (default: the last one) for SECONDS at most

`BusyCore(seconds)` starts it and stops it when the block ends; the deadline bounds it, and it stops as soon
as the benchmark that started it is gone. It stands for what users run beside training: a browser, a build.
"""

import os
import subprocess
import sys
import time


def spin(seconds, core):
    """Keep `core` busy for `seconds`, or until the process that started this one ends."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    deadline, parent = time.monotonic() + seconds, os.getppid()
    while time.monotonic() < deadline and os.getppid() == parent:
        pass


class BusyCore:
    """While the block runs, one core is kept busy by a process of its own (at most `seconds`)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        core = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.busy", str(self.seconds), str(core)])
        self.core = core
        return self

    def __exit__(self, *exc):
        self.process.kill()  # not terminate(): a benchmark started with SIGTERM ignored passes that on to its child
        self.process.wait()


def main(argv=None):
    from scratchnet.shell.cli import OneLineParser  # here: BusyCore's importers need no scratchnet

    parser = OneLineParser(prog="python -m benchmarks.busy", description=__doc__.splitlines()[0])
    parser.add_argument("seconds", type=float, help="how long to spin at most")
    parser.add_argument("core", type=int, nargs="?", help="the core to keep busy (default: the last one)")
    args = parser.parse_args(argv)
    spin(args.seconds, max(os.sched_getaffinity(0)) if args.core is None else args.core)


if __name__ == "__main__":
    main()
