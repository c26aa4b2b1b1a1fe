"""scratchnet.fast.threads: --threads N is the fused step's workers where numpy's OpenBLAS is bound (which then
runs one thread, so that no digit depends on N; auto is every core), and the BLAS pools' own count elsewhere
(auto leaves one core for other work).

What auto should be was measured (the module's docstring); here: the count each setting gives on either path,
that the pools really run their count while active and that the previous counts come back after, and that a
bad --threads value is refused with the flag named. Timings are the benchmark's business, never asserted.

    python -m pytest tests/test_threads.py
"""

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError
from scratchnet.fast import blas as blas_module
from scratchnet.fast import threads as threads_module
from scratchnet.fast.threads import BlasThreads, cores, parse_threads, thread_count


def blas_thread_counts():
    return [lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info()]


@pytest.mark.parametrize("parallel", [True, False])
def test_auto_is_every_core_for_the_workers_and_all_but_one_for_a_blas(parallel, monkeypatch):
    monkeypatch.setattr(threads_module, "parallel_step", lambda: parallel)
    assert thread_count("auto") == (cores() if parallel else max(cores() - 1, 1))
    assert thread_count(3) == 3


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("setting", ["auto", 1, 3])
def test_the_pools_run_their_count_while_active_and_get_theirs_back(setting, parallel, monkeypatch):
    """With the parallel step numpy's BLAS runs one thread and the workers the count; without, the BLAS the count."""
    monkeypatch.setattr(threads_module, "parallel_step", lambda: parallel)
    before = blas_thread_counts()
    with BlasThreads(setting) as threads:
        assert set(blas_thread_counts()) == {1 if parallel else thread_count(setting)}
        np.ones((64, 64)) @ np.ones((64, 64))  # the pools work at that count
        said = "worker" if parallel else "BLAS thread"
        assert threads.count == thread_count(setting) and threads.describe().startswith(f"{threads.count} {said}")
    assert blas_thread_counts() == before


def test_parallel_where_numpys_openblas_is_bound(monkeypatch):
    monkeypatch.setattr(blas_module, "cpu_blas", lambda: None)
    assert not threads_module.parallel_step()


@pytest.mark.parametrize("text", ["0", "-2", "two", ""])
def test_threads_flag_refuses_what_is_not_a_count(text):
    with pytest.raises(UsageError, match="--threads"):
        parse_threads(text)


def test_threads_flag_reads_counts_and_auto():
    assert parse_threads("3") == 3 and parse_threads("auto") == "auto"
