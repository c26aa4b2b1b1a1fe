"""Peak memory of one contender: the growth of resident memory while it is built and trains STEPS steps.

Measured in the contender's own process (benchmarks/worker.py) once the data is loaded: its parameters,
gradients, optimizer state, activations and allocator caches, without what other contenders leave behind.
"""

import os
import threading
import time

STEPS = 50


class PeakRSS:
    """The peak growth of this process's resident memory while the block runs (sampled every 2 ms)."""

    def __enter__(self):
        self.start = self.peak = _rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, _rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, _rss())
        self.mib = (self.peak - self.start) / 2**20


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
