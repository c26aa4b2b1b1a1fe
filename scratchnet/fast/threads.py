"""How many threads numpy's BLAS runs on: --threads N, or auto, the count that stays fast when another
process takes a core: all the cores but one (and at least one).

OpenBLAS splits every product between its threads and waits for the slowest. When another process holds one
of the cores, the thread that shares it is descheduled for whole time slices, and every product of every
step waits for it. Measured on the project's 2-core machine, the tutorial's step at batch 64 (ms per step,
medians of interleaved bursts in one process):

    the 8 products alone, quiet machine:            2 threads 4.4,    1 thread 6.2
    the same, one core kept busy:                   2 threads 20–59,  1 thread 6.6–7.2
    OPENBLAS_THREAD_TIMEOUT=4 or 30, one core busy: 2 threads 110–160 (OpenBLAS's own spin setting: no cure)
    the BLAS step, machine shared with ~7 jobs:     2 threads 154,    1 thread 21.8
    the same, plus one core kept busy:              2 threads 304,    1 thread 31.4

So a thread fewer than the cores is what survives a busy machine (5–20 × faster than numpy's default there),
at the price of 1/cores of the idle speed. A count chosen by timing the steps as the load changes was tried
too: it kept within 2–7 % of the best fixed count, but OpenBLAS's rounding depends on the thread count (where
it splits a product between threads), so a run whose count moved with the load would no longer repeat bit for
bit, and a resumed run would not continue exactly. auto is therefore fixed for the machine: cores − 1.
"""

import os

from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError


def cores():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_threads(text):
    """--threads: "auto", or a positive integer (as an int)."""
    if text == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n < 2**31:  # BLAS libraries take a C int (and run fewer: BlasThreads.running)
        raise UsageError(f"--threads {text}: give a positive number of BLAS threads (below 2**31), or auto")
    return n


def thread_count(setting):
    """The BLAS thread count for a --threads setting: N itself, or for auto all the cores but one."""
    return max(cores() - 1, 1) if setting == "auto" else setting


class BlasThreads:
    """While active, every BLAS thread pool in this process (numpy's OpenBLAS among them) runs `count` threads.

        with BlasThreads("auto") as threads:   # or BlasThreads(4), BlasThreads("4")
            ...                                # threads.describe() says what runs
    """

    def __init__(self, setting):
        self.setting = parse_threads(str(setting))  # "auto", "4" (a flag's text) or 4
        self.count = thread_count(self.setting)

    def __enter__(self):
        self.limits = ThreadpoolController().limit(limits=self.count, user_api="blas")
        return self

    def __exit__(self, *exc):
        self.limits.restore_original_limits()

    def running(self):
        """The threads BLAS really runs when asked for `count`: a library caps the count (OpenBLAS at the
        MAX_THREADS it was built with, 64 in numpy's wheel); `count` itself where no BLAS pool is loaded."""
        with ThreadpoolController().limit(limits=self.count, user_api="blas"):
            counts = [pool["num_threads"] for pool in ThreadpoolController().select(user_api="blas").info()]
        return max(counts, default=self.count)

    def describe(self):
        """What runs, e.g. '64 BLAS threads (--threads 1000: this BLAS runs 64 at most, more than the 2 cores)'."""
        running = self.running()
        if self.setting != "auto":
            why = f"--threads {self.count}" + ("" if running == self.count else f": this BLAS runs {running} at most")
            why += f", more than the {cores()} cores" if running > cores() else ""
        else:
            why = f"auto: {cores()} cores, one left for other work" if cores() > 1 else "auto: the only core"
        return f"{running} BLAS thread{'s' if running > 1 else ''} ({why})"
