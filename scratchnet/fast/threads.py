"""How many threads a run computes on: --threads N, or auto; and which threads those are.

Where numpy's OpenBLAS is bound (scratchnet.fast.blas), the CPU fused step cuts each product into pieces fixed
by its shape and hands them to N workers (scratchnet.fast.parallel), while numpy's OpenBLAS runs one thread,
for the step and for everything else (the test-set pass, --step reference): no figure then depends on N, a run
resumed on another N continues exactly, and auto is every core, since a worker on a busy core only takes fewer
pieces. Elsewhere (another BLAS, a numpy without OpenBLAS) N is the BLAS's own thread count and auto all the
cores but one, for the reason measured below.

OpenBLAS splits every product between its threads and waits for the slowest. When another process holds one
of the cores, the thread that shares it is descheduled for whole time slices, and every product of every
step waits for it. Measured on the project's 2-core machine, the tutorial's step at batch 64 (ms per step,
medians of interleaved bursts in one process):

    the 8 products alone, quiet machine:            2 threads 4.4,    1 thread 6.2
    the same, one core kept busy:                   2 threads 20–59,  1 thread 6.6–7.2
    OPENBLAS_THREAD_TIMEOUT=4 or 30, one core busy: 2 threads 110–160 (OpenBLAS's own spin setting: no cure)
    the BLAS step, machine shared with ~7 jobs:     2 threads 154,    1 thread 21.8
    the same, plus one core kept busy:              2 threads 304,    1 thread 31.4

OpenBLAS's rounding also depends on its thread count (where it splits a product between threads), so a count
that moved with the load would no longer repeat bit for bit: with a BLAS's own threads, auto stays cores − 1.
"""

import os

from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError
from scratchnet.fast import blas as cpu


def cores():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


MAX_WORKERS = 64  # the parallel step's workers at most; more than its pieces (scratchnet.fast.parallel) just wait


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


def parallel_step():
    """Whether the CPU fused step's own workers do the parallel work (numpy's OpenBLAS is bound), so that numpy's
    BLAS runs one thread and no figure depends on the count; otherwise OpenBLAS's (or another BLAS's) threads do."""
    return cpu.cpu_blas() is not None


def pool_thread_count(setting):
    """--threads for a thread pool that splits each product between its threads and waits for the slowest (a
    BLAS's own, torch's, XLA's): N itself, or for auto all the cores but one, so a busy core does not stall it."""
    return max(cores() - 1, 1) if setting == "auto" else setting


def thread_count(setting):
    """The thread count for a --threads setting: N itself, or for auto every core where the workers of the
    parallel step run (a busy core takes fewer pieces), and pool_thread_count where a BLAS's own threads do."""
    if not parallel_step():
        return pool_thread_count(setting)
    return cores() if setting == "auto" else min(setting, MAX_WORKERS)


class BlasThreads:
    """While active, the process runs --threads: the fused step's workers (`count`), and every BLAS thread pool
    (numpy's OpenBLAS among them) on one thread where those workers do the parallel work, on `count` otherwise.

        with BlasThreads("auto") as threads:   # or BlasThreads(4), BlasThreads("4")
            ...                                # threads.describe() says what runs
    """

    def __init__(self, setting):
        self.setting = parse_threads(str(setting))  # "auto", "4" (a flag's text) or 4
        self.count, self.parallel = thread_count(self.setting), parallel_step()
        self.blas_count = 1 if self.parallel else self.count

    def __enter__(self):
        self.limits = ThreadpoolController().limit(limits=self.blas_count, user_api="blas")
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
            why = f"--threads {self.setting}" + (f", more than the {cores()} cores" if self.count > cores() else "")
            why += f": at most {MAX_WORKERS} workers" if self.parallel and self.setting > MAX_WORKERS else ""
        elif self.parallel:
            why = "auto: every core; a busy one takes fewer pieces"
        else:
            why = f"auto: {cores()} cores, one left for other work" if cores() > 1 else "auto: the only core"
        if self.parallel:
            plural = "s" if self.count > 1 else ""
            return (f"{self.count} worker{plural} on fixed pieces of each product, each on numpy's OpenBLAS at one "
                    f"thread: the same digits on any count ({why})")
        if self.setting != "auto" and running != self.count:
            why += f": this BLAS runs {running} at most"
        return f"{running} BLAS thread{'s' if running > 1 else ''} ({why})"
