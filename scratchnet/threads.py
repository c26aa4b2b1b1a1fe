"""How many BLAS threads the CPU step runs on: a fixed count (--threads N), or `auto`, which times the steps
themselves and keeps the count that runs them fastest now, re-measured as the machine's load changes.

OpenBLAS splits every product between its threads and waits for the slowest. When another process takes
one of the cores, the thread sharing that core is descheduled for whole time slices, and every product of
every step waits for it. Measured on the project's 2-core machine (batch 64, the tutorial's 8 products
per step, ms per step): idle, 2 threads 4.4 and 1 thread 6.2; with one core kept busy, 2 threads 20–240
(5–20 × slower) and 1 thread 6.5–19; OpenBLAS's own spin setting (OPENBLAS_THREAD_TIMEOUT=4 or 30) left
2 threads at 110–160. So fewer threads is the setting that survives a busy machine, and all of them is the
faster one on an idle machine: `auto` measures which one holds right now.

`auto` tries each count of CANDIDATES for PROBE_STEPS steps, runs on the fastest, and tries the others
again after an interval that doubles each time they lose (from FIRST_RETRY_S up to LAST_RETRY_S), or at
once when the steps it runs become SLOWDOWN times slower than when it chose (another process arrived).
"""

import collections
import os
import time

from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError

PROBE_STEPS = 2        # steps timed at each candidate count; the faster of them counts
FIRST_RETRY_S = 2.0    # seconds before a losing count is tried again; doubled each time it loses
LAST_RETRY_S = 60.0
SLOWDOWN = 2.0         # the steps at the chosen count this many times slower than when chosen: try them all again


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
    if n < 1:
        raise UsageError(f"--threads {text}: give a positive number of BLAS threads, or auto")
    return n


def make_threads(setting):
    """The policy for a --threads setting: FixedThreads(n) or AutoThreads(); `close()` restores the counts."""
    return AutoThreads() if setting == "auto" else FixedThreads(setting)


class _BlasPools:
    """Every BLAS thread pool loaded in this process (numpy's OpenBLAS among them), set together."""

    def __init__(self):
        self.libs = ThreadpoolController().select(user_api="blas").lib_controllers
        self.original = [lib.num_threads for lib in self.libs]

    def set(self, n):
        for lib in self.libs:
            lib.set_num_threads(n)

    def restore(self):
        for lib, n in zip(self.libs, self.original, strict=True):
            lib.set_num_threads(n)


class FixedThreads:
    """Every step runs on n BLAS threads. `timed(seconds)` after each step is accepted and ignored."""

    def __init__(self, n):
        self.current, self.pools = n, _BlasPools()
        self.pools.set(n)

    def timed(self, seconds):
        pass

    def close(self):
        """Give every BLAS pool back the thread count it had before."""
        self.pools.restore()

    def describe(self):
        return f"{self.current} BLAS thread{'s' if self.current > 1 else ''} (--threads {self.current})"


class AutoThreads:
    """The BLAS thread count, chosen among `candidates` by timing the steps (module docstring).

    After each step, call `timed(seconds)` with its duration; the count for the next step (`current`) is then
    set. `steps_at` counts the steps run at each count, `choices` the counts chosen, in order.

    Args:
        candidates: the counts to try, e.g. (2, 1); default: all cores, all but one, and 1.
        clock: time.monotonic, or a fake one in tests.
    """

    def __init__(self, candidates=None, clock=time.monotonic):
        n = cores()
        self.candidates = tuple(candidates or sorted({n, max(n - 1, 1), 1}, reverse=True))
        self.clock, self.pools = clock, _BlasPools()
        self.steps_at = dict.fromkeys(self.candidates, 0)
        self.retry_s = dict.fromkeys(self.candidates, FIRST_RETRY_S)
        self.next_try = dict.fromkeys(self.candidates, 0.0)
        self.recent = collections.deque(maxlen=5)  # seconds of the last steps at the chosen count
        self.choices, self.chosen, self.chosen_s = [], None, None
        self._probe(self.candidates)

    def _set(self, n):
        self.current = n
        self.pools.set(n)

    def _probe(self, counts):
        """Time the next PROBE_STEPS steps at each of `counts`, and at the chosen count to compare with."""
        counts = [c for c in self.candidates if c in counts or c == self.chosen]
        self.queue = [c for c in counts for _ in range(PROBE_STEPS)]
        self.probed = collections.defaultdict(list)
        self._set(self.queue[0])

    def timed(self, seconds):
        """Record the step just run at `current` (its wall-clock seconds) and set the count for the next one."""
        self.steps_at[self.current] += 1
        if self.queue:
            self.probed[self.queue.pop(0)].append(seconds)
            if self.queue:
                self._set(self.queue[0])
            else:
                self._choose()
            return
        self.recent.append(seconds)
        if len(self.recent) == self.recent.maxlen and min(self.recent) > SLOWDOWN * self.chosen_s:
            self._probe(self.candidates)  # the chosen count got slower: another process arrived
            return
        now = self.clock()
        due = [c for c in self.candidates if c != self.chosen and now >= self.next_try[c]]
        if due:
            self._probe(due)

    def _choose(self):
        """Keep the fastest count probed; a count that lost waits twice as long as last time to be tried again."""
        best = {count: min(s) for count, s in self.probed.items()}
        winner = min(best, key=best.get)
        for count in best:
            lost_again = count != winner and count != self.chosen
            self.retry_s[count] = min(2 * self.retry_s[count], LAST_RETRY_S) if lost_again else FIRST_RETRY_S
            self.next_try[count] = self.clock() + self.retry_s[count]
        if winner != self.chosen:
            self.choices.append(winner)
        self.chosen, self.chosen_s = winner, best[winner]
        self.recent.clear()
        self._set(winner)

    def close(self):
        """Give every BLAS pool back the thread count it had before."""
        self.pools.restore()

    def describe(self):
        now = f"; now {self.chosen}" if self.chosen is not None else ""
        return (f"auto BLAS threads: the fastest of {', '.join(map(str, self.candidates))}, "
                f"timed on the steps themselves{now}")
