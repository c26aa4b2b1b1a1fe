"""The CPU step on several workers (scratchnet.fast.parallel) against itself on one: the same bits, always.

The pieces a product is cut into depend on its shape alone, so 1, 2 or 3 workers must give bit-identical C,
W^[l] and b^[l] after every one of 50 steps of the tutorial's model (float32, the epoch's partial batch among
them), and a run continued on another worker count must be the run that never stopped; `python -m
scratchnet.train --threads N` must print the same lines and save the same checkpoint for any N, resumed on
another N or not. Since on some kernels other pieces happen to give the same bits, the pieces themselves are
compared too (the same for any worker count), and each is checked to run on one OpenBLAS thread. That the
pieces compute the reference's step is test_fused_cpu.py's business (and here, with
the pieces made as small as they go). The pool itself: each task runs once, its calls in order, and what a
task raises reaches the caller.

    python -m pytest tests/test_parallel.py
"""

import threading

import numpy as np
import pytest

from scratchnet import SGD, Network
from scratchnet.fast import parallel
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.fast.parallel import Workers, blocks, cuts, shared_workers
from scratchnet.run.checkpoint import load_checkpoint
from scratchnet.step import ReferenceStep

from conftest import NetworkCase
from helpers import assert_same_networks, run_train

SIZES = [784, 512, 512, 10]


@pytest.mark.parametrize("size,pieces", [(512, 4), (784, 3), (10, 1), (33, 2), (16, 5)])
def test_blocks_cover_the_range_once_in_aligned_pieces(size, pieces):
    cut = blocks(size, pieces)
    assert [i for s in cut for i in range(size)[s]] == list(range(size))
    assert all((s.stop - s.start) % parallel.ALIGN == 0 for s in cut[:-1]) and len(cut) <= pieces


def test_pieces_follow_the_shape_and_stay_few():
    assert cuts(64, 512, 784) == 4 and cuts(64, 10, 512) == 1 and cuts(4096, 4096, 4096) == parallel.MAX_PIECES
    assert cuts(64, 512, 512, flops_each=2) > cuts(64, 512, 512)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_each_task_runs_once_with_its_calls_in_order(count):
    ran, lock = [], threading.Lock()

    def call(task, part):
        def record():
            with lock:
                ran.append((task, part))
        return record

    tasks = [[call(t, 0), call(t, 1)] for t in range(7)]
    for _ in range(20):
        ran.clear()
        shared_workers(count).run(tasks)
        assert sorted(ran) == [(t, p) for t in range(7) for p in (0, 1)]
        assert all(ran.index((t, 0)) < ran.index((t, 1)) for t in range(7))


def test_what_a_task_raises_reaches_the_caller():
    workers = Workers(2)

    def fail():
        raise ValueError("piece 3")

    with pytest.raises(ValueError, match="piece 3"):
        workers.run([[lambda: None], [fail], [lambda: None]])
    workers.run([[lambda: None], [lambda: None]])  # the pool still works afterwards


def steps(blas, workers, count, start=None, batches=None):
    """(net, the C of each step): `count` steps of the tutorial's model, float32, from seed 0 or from `start`."""
    net = Network(SIZES, seed=0)
    if start is not None:
        for l in net.W:
            net.W[l][...], net.b[l][...] = start.W[l], start.b[l]
    step = BlasStep(net, SGD(net, lr=0.05), 64, blas, workers=shared_workers(workers))
    return net, [float(step.step(x, y)) for x, y in batches[:count]]


@pytest.fixture(scope="module")
def batches():
    rng = np.random.default_rng(0)
    sizes = [64] * 24 + [32] + [64] * 25  # 50 steps, one of them an epoch's partial last batch
    return [(rng.random((m, 784), dtype=np.float32), rng.integers(0, 10, m)) for m in sizes]


def test_one_two_three_workers_take_bit_identical_steps(blas, batches):
    one, C_one = steps(blas, 1, 50, batches=batches)
    for count in (2, 3):
        net, C = steps(blas, count, 50, batches=batches)
        assert C == C_one, f"C with {count} workers"
        assert_same_networks(net, one, f"after 50 steps on {count} workers", rtol=0, atol=0)


def test_a_run_continued_on_another_count_is_the_run_never_stopped(blas, batches):
    whole, C_whole = steps(blas, 1, 50, batches=batches)
    half, C_half = steps(blas, 3, 25, batches=batches)
    rest, C_rest = steps(blas, 2, 25, start=half, batches=batches[25:])
    assert C_half + C_rest == C_whole
    assert_same_networks(rest, whole, "after 25 steps on 3 workers and 25 on 2", rtol=0, atol=0)


def test_the_smallest_pieces_still_compute_the_reference_step(blas, monkeypatch):
    """Pieces of one aligned column each (float64): the step is the reference's to 1e-12, on 3 workers."""
    monkeypatch.setattr(parallel, "PIECE_FLOPS", 1)
    monkeypatch.setattr(parallel, "ALIGN", 1)
    case = NetworkCase([9, 7, 6, 3], "relu", "cross-entropy", "float64", m=12, seed=3, x_scale=1.0)
    ref, x, y = case.build()
    fast, _, _ = case.build()
    step = BlasStep(fast, SGD(fast, lr=0.2), case.m, blas, workers=shared_workers(3))
    assert len(step._plan(case.m)[1][1]) > 2, "the layer was cut into pieces"
    reference = ReferenceStep(ref, SGD(ref, lr=0.2))
    for t in range(5):
        np.testing.assert_allclose(step.step(x, y), reference.step(x, y), rtol=1e-12, err_msg=f"C at step {t}")
        assert_same_networks(fast, ref, f"after step {t + 1}", rtol=1e-12, atol=1e-14)


SMALL = ["--train-size", "1280", "--test-size", "200", "--hidden", "64", "32", "--lr", "0.05", "--sampling", "shuffle"]


@pytest.mark.slow
def test_cli_threads_print_and_save_the_same_and_resume_on_another_count(blas, mnist_dir, tmp_path):
    flags = [*SMALL, "--data-dir", mnist_dir]
    runs = {}
    for count in ("1", "3"):
        done = run_train(*flags, "--epochs", "2", "--threads", count, "--save", str(tmp_path / f"{count}.npz"))
        assert done.returncode == 0, done.stderr
        runs[count] = done.stdout
    half = tmp_path / "half.npz"
    assert run_train(*flags, "--epochs", "1", "--threads", "2", "--save", str(half)).returncode == 0
    resumed = run_train("--resume", str(half), "--epochs", "2", "--threads", "3")
    assert resumed.returncode == 0, resumed.stderr
    assert runs["1"] == runs["3"] and runs["1"].endswith(resumed.stdout.split("Epoch 2", 1)[-1])
    expected = load_checkpoint(str(tmp_path / "1.npz"))[0]
    for other in (tmp_path / "3.npz", half):
        got = load_checkpoint(str(other))[0]
        assert sorted(got) == sorted(expected)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{name} in {other.name}")


def layout(step, m):
    """Each task's products as (shape, strides) of their operands: the pieces, whatever arrays they are on."""
    return [[[[(a.shape, a.strides) for a in product.arrays] for product in task] for task in tasks]
            for tasks in (*step._plan(m)[0], *step._plan(m)[1])]


def test_the_pieces_are_the_same_for_any_worker_count(blas):
    """Machine-independent: on some kernels other pieces would give the same bits, so compare the pieces."""
    nets = [Network(SIZES, seed=0) for _ in range(3)]
    steps = [BlasStep(net, SGD(net, lr=0.05), 64, blas, workers=shared_workers(n)) for n, net in enumerate(nets, 1)]
    for m in (64, 32, 1):
        assert layout(steps[0], m) == layout(steps[1], m) == layout(steps[2], m), f"pieces at m = {m}"


def test_each_piece_runs_on_one_openblas_thread(blas, monkeypatch):
    """Inside the step numpy's OpenBLAS runs one thread, whatever it ran before (its own split would move digits)."""
    seen = []
    real = parallel.Batch.work
    monkeypatch.setattr(parallel.Batch, "work", lambda self: (seen.append(blas._get_threads()), real(self))[1])
    net = Network(SIZES, seed=0)
    step = BlasStep(net, SGD(net, lr=0.05), 64, blas, workers=shared_workers(2))
    before = blas._get_threads()
    blas._set_threads(2)
    try:
        step.step(np.ones((64, 784), np.float32), np.zeros(64, np.int64))
        assert seen and set(seen) == {1} and blas._get_threads() == 2
    finally:
        blas._set_threads(before)
