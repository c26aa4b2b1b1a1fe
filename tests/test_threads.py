"""scratchnet.threads: --threads N sets every BLAS pool; `auto` keeps the count that runs the steps fastest.

`auto` is driven here by a simulated machine (a step's seconds as a function of the thread count and of
whether another process holds a core) on a fake clock: it must settle on all cores when idle, move to one
thread within a few steps when a core is taken, come back when it is freed, and spend few steps on the
losing count meanwhile. Real timings are the benchmark's business, never asserted.

    python -m pytest tests/test_threads.py
"""

import pytest
from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError
from scratchnet.threads import FIRST_RETRY_S, LAST_RETRY_S, PROBE_STEPS, AutoThreads, FixedThreads, parse_threads

# seconds per step on the project's 2-core machine (benchmark figures, rounded): idle, and one core busy
IDLE = {2: 0.0044, 1: 0.0062}
BUSY = {2: 0.05, 1: 0.0065}


class Machine:
    """A fake clock that advances by each step's simulated seconds."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def run(self, threads, steps, seconds_at):
        for _ in range(steps):
            seconds = seconds_at[threads.current]
            self.now += seconds
            threads.timed(seconds)


@pytest.fixture
def machine():
    return Machine()


@pytest.fixture
def auto(machine):
    threads = AutoThreads(candidates=(2, 1), clock=machine)
    yield threads
    threads.close()


def blas_thread_counts():
    return [lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info()]


def test_idle_machine_runs_on_every_core(auto, machine):
    machine.run(auto, 5000, IDLE)
    assert auto.chosen == 2 and auto.choices == [2]
    assert auto.steps_at[1] <= PROBE_STEPS * 10, auto.steps_at  # the retries of 1 thread back off


def test_busy_core_moves_to_one_thread_and_back(auto, machine):
    machine.run(auto, 1000, IDLE)
    machine.run(auto, 10, BUSY)
    assert auto.chosen == 1, "5 slow steps and one probe should be enough to notice a busy core"
    before = dict(auto.steps_at)
    machine.run(auto, 20000, BUSY)  # ~130 s of a busy machine
    wasted = auto.steps_at[2] - before[2]
    assert wasted <= PROBE_STEPS * (2 + 130 / FIRST_RETRY_S / 4), f"{wasted} steps on 2 threads while busy"
    machine.run(auto, int(LAST_RETRY_S / IDLE[1]) + 10, IDLE)  # the core is free again: back within a retry
    assert auto.chosen == 2 and auto.choices == [2, 1, 2]


def test_the_count_set_is_the_count_the_pools_run(auto, machine):
    machine.run(auto, 100, BUSY)
    assert set(blas_thread_counts()) == {auto.current} == {1}


def test_fixed_threads_set_every_pool_and_close_restores():
    before = blas_thread_counts()
    threads = FixedThreads(1)
    assert set(blas_thread_counts()) == {1}
    threads.close()
    assert blas_thread_counts() == before


@pytest.mark.parametrize("text", ["0", "-2", "two", ""])
def test_threads_flag_refuses_what_is_not_a_count(text):
    with pytest.raises(UsageError, match="--threads"):
        parse_threads(text)


def test_threads_flag_reads_counts_and_auto():
    assert parse_threads("3") == 3 and parse_threads("auto") == "auto"
