"""Peak memory of one contender, measured alone in a fresh process: python -m benchmarks.memory NAME.

The growth of resident memory (sampled every 2 ms) over the process's state once the data is loaded,
while the contender is built and trains STEPS steps: its parameters, gradients, optimizer state,
activations and allocator caches, without what the other contenders left behind.
"""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

from benchmarks.contenders import CONTENDERS, Work
from scratchnet.config import TrainConfig
from scratchnet.data import load_data

STEPS = 50


class PeakRSS:
    """The peak growth of this process's resident memory while the block runs."""

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


def peak_memory_mib(name, data_dir):
    """Run this module for contender `name` in a fresh interpreter and return its peak MiB."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.memory", name, data_dir],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement of {name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)["peak_mib"]


def measure(name, data_dir):
    (x_train, y_train), (x_test, y_test) = load_data(TrainConfig(data_dir=data_dir), np)
    work = Work(x_train, y_train, x_test, y_test, [784, 512, 512, 10], 64, data_dir=data_dir)
    with PeakRSS() as rss:
        contender = CONTENDERS[name](work)
        contender.steps(STEPS)
    return rss.mib


if __name__ == "__main__":
    print(json.dumps({"name": sys.argv[1], "peak_mib": measure(sys.argv[1], sys.argv[2])}))
