"""The CPU fused step with the update inside the BLAS calls (scratchnet.fast.fused_cpu) against the reference.

The reference (Network.forward, cost, backward and SGD.step) is checked against torch and central differences
elsewhere; here the BLAS step must take the same steps: the same C and the same W^[l], b^[l] after each
(float64 to 1e-12; float32 to its parity tolerance), for any ReLU network, batch sizes up to the one it was
built for, and an α that moves between steps; a non-finite C leaves the parameters as they were.
Skipped, saying why, where numpy runs no OpenBLAS that scratchnet can call; the np.matmul fallback is tested
everywhere, with cpu_blas set to give None. Run it unforced and with a forced kernel (.ci/run does both):

    env -u OPENBLAS_CORETYPE python -m pytest tests/test_fused_cpu.py
    OPENBLAS_CORETYPE=Sandybridge python -m pytest tests/test_fused_cpu.py
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import SGD, Network
from scratchnet.errors import DivergenceError, UsageError
from scratchnet.fast import blas as blas_module
from scratchnet.fast.choose import fused_step, make_step
from scratchnet.fast.fused import FusedStep
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.run.config import TrainConfig
from scratchnet.schedules import Cosine
from scratchnet.step import ReferenceStep

from conftest import NetworkCase, network_cases
from helpers import TOLERANCE, assert_close, assert_same_networks

RELU_CE = {"activations": ("relu",), "losses": ("cross-entropy",)}




def twins(case, blas, lr):
    """The same network twice (reference, BLAS step), each with its plain SGD; the BLAS step built for case.m."""
    ref, x, y = case.build()
    fast, _, _ = case.build()
    opt_ref, opt_fast = SGD(ref, lr=lr), SGD(fast, lr=lr)
    return ref, opt_ref, fast, opt_fast, BlasStep(fast, opt_fast, case.m, blas), x, y


@given(case=network_cases(layers=(2, 5), max_width=24, max_batch=48, **RELU_CE),
       lrs=st.lists(st.floats(1e-3, 0.5), min_size=1, max_size=4), data=st.data())
def test_blas_steps_equal_the_reference(blas, case, lrs, data):
    """Each step: C, then every W^[l], b^[l], as the reference computes them (float64, 1e-12)."""
    ref, opt_ref, fast, opt_fast, step, x, y = twins(case, blas, lrs[0])
    for t, lr in enumerate(lrs, start=1):
        rows = slice(0, data.draw(st.integers(1, case.m), label=f"batch size of step {t}"))
        opt_ref.lr = opt_fast.lr = lr
        C_ref = ReferenceStep(ref, opt_ref).step(x[rows], y[rows])
        C_fast = step.step(x[rows], y[rows])
        assert_close(C_fast, C_ref, f"C at step {t}", rtol=1e-12, atol=1e-15)
        assert_same_networks(fast, ref, f"after step {t}", rtol=1e-12, atol=1e-14)
    assert opt_fast.t == opt_ref.t == len(lrs)
    step.sync()  # no divergence: nothing raised


def test_float32_tutorial_model_stays_with_the_reference(blas):
    """784-512-512-10, float32, 30 steps of batch 64: folding α and the update into the GEMMs moves only rounding."""
    case = NetworkCase([784, 512, 512, 10], "relu", "cross-entropy", "float32", m=64, seed=0, x_scale=1.0)
    ref, opt_ref, fast, opt_fast, step, _, _ = twins(case, blas, 0.05)
    reference = ReferenceStep(ref, opt_ref)
    rng = np.random.default_rng(0)
    for t in range(30):
        x = rng.random((64, 784), dtype=np.float32)
        y = rng.integers(0, 10, 64)
        assert_close(step.step(x, y), reference.step(x, y), f"C at step {t}", **TOLERANCE["float32"])
    assert_same_networks(fast, ref, "after 30 steps", **TOLERANCE["float32"])


def test_a_schedule_sets_alpha_before_every_step(blas):
    """α_t read from the optimizer's schedule, as ReferenceStep reads it: the same parameters after every step
    (float64), and one step counted per step."""
    case = NetworkCase([6, 5, 3], "relu", "cross-entropy", "float64", m=8, seed=4, x_scale=1.0)
    ref, opt_ref, fast, opt_fast, _, x, y = twins(case, blas, 0.3)
    opt_ref.lr = opt_fast.lr = Cosine(0.3, 6)
    reference = ReferenceStep(ref, opt_ref)
    step = BlasStep(fast, opt_fast, case.m, blas)
    for t in range(6):
        reference.step(x, y)
        step.step(x, y)
        assert opt_fast.t == opt_ref.t == t + 1 and step.alpha[0] == Cosine(0.3, 6).lr_at(t)
        assert_same_networks(fast, ref, f"after step {t + 1}", rtol=1e-12, atol=1e-14)


def test_the_cpu_fused_step_is_the_blas_step(blas):
    net = Network([6, 5, 3])
    assert isinstance(fused_step(net, SGD(net, lr=0.1), 4), BlasStep)


@pytest.mark.parametrize("setting", ["auto", "fused"])
def test_without_numpys_blas_the_fused_step_runs_on_np_matmul(setting, monkeypatch):
    """cpu_blas set to give None (as on a numpy with MKL): FusedStep on np.matmul, said only for --step fused,
    and BlasStep's line names the kernel where the BLAS is there. Runs on every machine, BLAS or not."""
    monkeypatch.setattr(blas_module, "cpu_blas", lambda: None)
    net = Network([6, 5, 3])
    opt = SGD(net, lr=0.1)
    step, said = make_step(TrainConfig(step=setting, batch_size=4), net, opt, fused=True)
    assert isinstance(step, FusedStep) and step.xp is np
    assert (said is None) == (setting == "auto") and ("np.matmul" in (said or "")) == (setting == "fused")


def test_the_blas_step_line_names_kernel_and_threads(blas):
    net = Network([6, 5, 3])
    _, said = make_step(TrainConfig(step="fused", batch_size=4, threads="1"), net, SGD(net, lr=0.1), fused=True)
    assert f"{blas.lib.kernel} kernel, on 1 worker" in said and os.sep not in said


def test_parameters_stay_the_networks_own_arrays(blas):
    net = Network([6, 5, 3], seed=2)
    W2, b2 = net.W[2], net.b[2]
    before = W2.copy()
    BlasStep(net, SGD(net, lr=0.1), 4, blas).step(np.ones((4, 6), np.float32), np.array([0, 1, 2, 0]))
    assert net.W[2] is W2 and net.b[2] is b2
    assert not np.array_equal(W2, before), "the step moved W[2] in place"


def test_a_non_finite_loss_is_recorded_and_the_parameters_kept(blas):
    """C becomes NaN at step 3: sync() says 3, and no later step changes W or b."""
    net = Network([5, 4, 3], dtype="float64", seed=0)
    step = BlasStep(net, SGD(net, lr=0.1), 8, blas)
    rng = np.random.default_rng(1)
    good = [rng.normal(size=(8, 5)) for _ in range(4)]
    y = rng.integers(0, 3, 8)
    step.step(good[0], y)
    step.step(good[1], y)
    W_before, b_before = {l: net.W[l].copy() for l in net.W}, {l: net.b[l].copy() for l in net.b}
    bad = good[2].copy()
    bad[3, 1] = np.nan
    assert np.isnan(float(step.step(bad, y)))
    step.step(good[3], y)
    with pytest.raises(DivergenceError) as raised:
        step.sync()
    assert raised.value.t == 3
    for l in net.W:
        assert_close(net.W[l], W_before[l], f"W[{l}] after the bad step", rtol=0)
        assert_close(net.b[l], b_before[l], f"b[{l}] after the bad step", rtol=0)


@pytest.mark.parametrize("x,y,message", [
    (np.ones((9, 4)), np.zeros(9, np.int64), "at most 8 rows, got 9"),
    (np.ones((8, 4)), np.zeros(8, np.int32), "int64 labels, got float64 and int32"),
    (np.ones((8, 4), np.float32), np.zeros(8, np.int64), "x in the network's float64 .*got float32"),
])
def test_misuse_is_refused(blas, x, y, message):
    net = Network([4, 3], dtype="float64")
    step = BlasStep(net, SGD(net, lr=0.1), 8, blas)
    with pytest.raises(UsageError, match=message):
        step.step(x, y)
