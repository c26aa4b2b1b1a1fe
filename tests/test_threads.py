"""scratchnet.fast.threads: --threads N sets every BLAS pool in the process; auto leaves one core for other work.

What auto should be was measured (the module's docstring); here: the count each setting gives, that it is
the count the pools really run while active and that the previous counts come back after, and that a bad
--threads value is refused with the flag named. Timings are the benchmark's business, never asserted.

    python -m pytest tests/test_threads.py
"""

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError
from scratchnet.fast.threads import BlasThreads, cores, parse_threads, thread_count


def blas_thread_counts():
    return [lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info()]


def test_auto_leaves_one_core_free_and_n_is_n():
    assert thread_count("auto") == max(cores() - 1, 1)
    assert thread_count(3) == 3


@pytest.mark.parametrize("setting", ["auto", 1, 3])
def test_the_pools_run_the_count_while_active_and_get_theirs_back(setting):
    before = blas_thread_counts()
    with BlasThreads(setting) as threads:
        assert set(blas_thread_counts()) == {thread_count(setting)}
        np.ones((64, 64)) @ np.ones((64, 64))  # the pools work at that count
        assert threads.describe().startswith(f"{thread_count(setting)} BLAS thread")
    assert blas_thread_counts() == before


@pytest.mark.parametrize("text", ["0", "-2", "two", ""])
def test_threads_flag_refuses_what_is_not_a_count(text):
    with pytest.raises(UsageError, match="--threads"):
        parse_threads(text)


def test_threads_flag_reads_counts_and_auto():
    assert parse_threads("3") == 3 and parse_threads("auto") == "auto"
