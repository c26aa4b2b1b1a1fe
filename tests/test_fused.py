"""The fused step (scratchnet.fast.fused) against the reference engine it must equal, on NumPy and on CuPy.

The reference (Network.forward, cost, backward and SGD.step) is checked against torch and central
differences elsewhere; here the fused step must take the same steps: the same C and the same W^[l], b^[l]
after each (float64 to 1e-10; float32 to its parity tolerance), for any ReLU network, batch sizes up to the
one it was built for (the epoch's last, partial batch), and an α that a schedule moves between steps. On a
GPU the same tests run its CUDA kernels and its direct cuBLAS calls. Then what differs by design: a
divergence is recorded on the device and the update skipped; the train loop reads it when it prints.

    python -m pytest tests/test_fused.py
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import SGD, Adam, Network
from scratchnet.backend import to_numpy
from scratchnet.errors import DivergenceError, UsageError
from scratchnet.fast.fused import FusedStep
from scratchnet.fast.rules import check_fusable
from scratchnet.run.checkpoint import load_checkpoint
from scratchnet.run.config import TrainConfig
from scratchnet.step import ReferenceStep
from scratchnet.train import main

from conftest import REPO, NetworkCase, network_cases
from helpers import TOLERANCE, assert_close, assert_same_networks, run_train

RELU_CE = {"activations": ("relu",), "losses": ("cross-entropy",)}


def twins(case, xp, lr):
    """The same network twice (reference, fused), each with its plain SGD; the fused one built for case.m."""
    ref, x, y = case.build(xp)
    fast, _, _ = case.build(xp)
    opt_ref, opt_fast = SGD(ref, lr=lr), SGD(fast, lr=lr)
    return ReferenceStep(ref, opt_ref), fast, opt_fast, FusedStep(fast, opt_fast, max_batch=case.m), x, y


def assert_same_network(fused, ref, when, rtol, atol):
    """After fused.sync(), the sync point: the fused network's W, b against the reference's."""
    fused.sync()
    assert_same_networks(fused.net, ref, when, rtol, atol)


@given(case=network_cases(layers=(2, 5), max_width=24, max_batch=48, **RELU_CE),
       lrs=st.lists(st.floats(1e-3, 0.5), min_size=1, max_size=4), data=st.data())
def test_fused_steps_equal_the_reference(xp, case, lrs, data):
    """Each step: C, then every W^[l], b^[l], as the reference computes them; α changes between steps."""
    reference, fast, opt_fast, fused, x, y = twins(case, xp, lrs[0])
    for t, lr in enumerate(lrs, start=1):
        rows = slice(0, data.draw(st.integers(1, case.m), label=f"batch size of step {t}"))
        reference.opt.lr = opt_fast.lr = lr
        C_ref = reference.step(x[rows], y[rows])
        C_fast = fused.step(x[rows], y[rows])
        assert_close(C_fast, C_ref, f"C at step {t}", rtol=1e-12, atol=1e-15)
        assert_same_network(fused, reference.net, f"after step {t}", rtol=1e-10, atol=1e-13)
    assert opt_fast.t == reference.opt.t == len(lrs) and fused.first_bad_step() is None


def test_float32_tutorial_model_stays_with_the_reference(xp):
    """784-512-512-10, float32, 30 steps of batch 64: the α folded into δ^[L] only moves the rounding."""
    case = NetworkCase([784, 512, 512, 10], "relu", "cross-entropy", "float32", m=64, seed=0, x_scale=1.0)
    reference, fast, opt_fast, fused, _, _ = twins(case, xp, 0.05)
    rng = np.random.default_rng(0)
    for t in range(30):
        x = xp.asarray(rng.random((64, 784), dtype=np.float32))
        y = xp.asarray(rng.integers(0, 10, 64))
        assert_close(fused.step(x, y), reference.step(x, y), f"C at step {t}", **TOLERANCE["float32"])
    assert_same_network(fused, reference.net, "after 30 steps", **TOLERANCE["float32"])


def test_the_step_owns_its_parameters_and_meets_the_network_at_check(xp):
    """θ is the step's own flat buffer: filled from the Network when the step is made, copied back (into the
    very same arrays) at sync(), and not before."""
    net = Network([6, 5, 3], seed=2, xp=xp)
    W2, W2_array = net.W[2].copy(), net.W[2]
    fused = FusedStep(net, SGD(net, lr=0.1), max_batch=4)
    assert_close(fused.theta[:30], W2.ravel(), "θ holds W[2] first", rtol=0)
    assert_close(fused.theta[30:35], net.b[2], "then b[2]", rtol=0)
    fused.step(xp.ones((4, 6), dtype=np.float32), xp.asarray(np.array([0, 1, 2, 0])))
    assert_close(net.W[2], W2, "W[2] before sync(): the Network is not touched", rtol=0)
    fused.sync()
    assert net.W[2] is W2_array, "sync() writes into the Network's own arrays"
    assert not np.array_equal(to_numpy(net.W[2]), to_numpy(W2)), "the step moved W[2]"
    assert_close(fused.theta[:30], net.W[2].ravel(), "after sync(), net.W[2] is θ's W[2]", rtol=0)


def test_a_non_finite_loss_is_recorded_and_the_parameters_kept(xp):
    """C becomes NaN at step 3: first_bad_step says 3, and no later step changes W or b."""
    net = Network([5, 4, 3], dtype="float64", seed=0, xp=xp)
    fused = FusedStep(net, SGD(net, lr=0.1), max_batch=8)
    rng = np.random.default_rng(1)
    good = [xp.asarray(rng.normal(size=(8, 5))) for _ in range(4)]
    y = xp.asarray(rng.integers(0, 3, 8))
    fused.step(good[0], y)
    fused.step(good[1], y)
    fused.sync()
    W_before, b_before = {l: net.W[l].copy() for l in net.W}, {l: net.b[l].copy() for l in net.b}
    bad = good[2].copy()
    bad[3, 1] = np.nan
    assert np.isnan(float(fused.step(bad, y)))
    fused.step(good[3], y)
    assert fused.first_bad_step() == 3 and fused.opt.t == 4
    with pytest.raises(DivergenceError, match="the loss became NaN or infinite") as raised:
        fused.sync()
    assert raised.value.t == 3
    for l in net.W:
        assert_close(net.W[l], W_before[l], f"W[{l}] after the bad step", rtol=0)
        assert_close(net.b[l], b_before[l], f"b[{l}] after the bad step", rtol=0)


@pytest.mark.parametrize("change,message", [
    (lambda net, x, y: (net, np.ones((9, 4)), y), "built for batches of at most 8 rows, got 9"),
    (lambda net, x, y: (net, x, y.astype(np.int32)), "int64 labels, got float64 and int32"),
    (lambda net, x, y: (net, x.astype(np.float32), y), "x in the network's float64 .*got float32"),
])
def test_misuse_is_refused(change, message):
    net = Network([4, 3], dtype="float64")
    fused = FusedStep(net, SGD(net, lr=0.1), max_batch=8)
    net, x, y = change(net, np.ones((8, 4)), np.zeros(8, dtype=np.int64))
    with pytest.raises(UsageError, match=message):
        fused.step(x, y)


def test_a_cuda_graph_needs_a_gpu():
    net = Network([4, 3])
    with pytest.raises(UsageError, match="a CUDA graph needs the network on a GPU"):
        FusedStep(net, SGD(net, lr=0.1), max_batch=4).capture()


@pytest.mark.parametrize("build,problem", [
    (lambda: (Network([4, 3, 2], loss="quadratic"), None), "cross-entropy"),
    (lambda: (Network([4, 3, 2], activation="tanh"), None), "ReLU in every hidden layer"),
    (lambda: (Network([4, 3, 2], dropout=0.5), None), "no dropout"),
    (lambda: (Network([4, 3, 2]), "momentum"), "plain SGD"),
    (lambda: (Network([4, 3, 2]), "adam"), "plain SGD"),
])
def test_models_it_cannot_compute_are_refused(build, problem):
    net, kind = build()
    opt = {None: SGD(net, lr=0.1), "momentum": SGD(net, lr=0.1, momentum=0.9), "adam": Adam(net, lr=0.1)}[kind]
    with pytest.raises(UsageError, match=problem):
        check_fusable(net, opt)
    with pytest.raises(UsageError, match=problem):
        FusedStep(net, opt, max_batch=4)


# --- the training loop's fused path (on the CPU here; tests/test_gpu.py runs it on cuda) ---

SMALL = ["--train-size", "1280", "--test-size", "200", "--hidden", "32", "16", "--lr", "0.05"]  # 20 steps an epoch


@pytest.mark.slow
def test_cli_fused_trains_like_the_reference(mnist_dir, tmp_path):
    """--step fused prints the reference's lines; --step auto on the CPU is the fused step
    (with numpy's BLAS), said only when asked for."""
    runs = {}
    for step in ("reference", "fused", "auto"):
        out = tmp_path / f"{step}.json"
        done = run_train(*SMALL, "--epochs", "2", "--data-dir", mnist_dir, "--step", step, "--metrics-out", str(out))
        assert done.returncode == 0, done.stderr
        assert ("training step: fused" in done.stderr) == (step == "fused")  # the default run says nothing of it
        runs[step] = (done.stdout, json.loads(out.read_text())["epochs"])
    (out_ref, m_ref), (out_fast, m_fast) = runs["reference"], runs["fused"]
    assert out_ref == out_fast == runs["auto"][0]  # the tutorial's lines, to the digits it prints
    for e_ref, e_fast in zip(m_ref, m_fast, strict=True):
        assert e_fast["test_accuracy"] == e_ref["test_accuracy"]
        assert abs(e_fast["train_loss"] - e_ref["train_loss"]) <= 1e-5


def divergence_line(done):
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("where,flags", [
    ("epoch 1", ["--epochs", "1", "--lr", "1000"]),
    ("epoch 2", ["--epochs", "2", "--lr", "0.05", "--schedule", "step", "--lr-step-epochs", "1",
                 "--lr-gamma", "100000"]),  # α jumps from 0.05 to 5000 when epoch 2 starts
])
@pytest.mark.slow
def test_cli_fused_divergence_names_the_step_the_reference_names(where, flags, mnist_dir, tmp_path):
    """The fused step finds a divergence only when it prints the loss, yet names the very step at which the
    reference stops, in the first epoch and in a later one; the last checkpoint is the last good one."""
    ckpt = tmp_path / "c.npz"
    common = ["--data-dir", mnist_dir, "--train-size", "6400", "--test-size", "100", *flags]
    reference = divergence_line(run_train(*common, "--step", "reference"))
    fused = divergence_line(run_train(*common, "--step", "fused", "--save", str(ckpt), "--save-every", "2"))
    assert reference.startswith(f"error: {where}, step ") and fused.startswith(f"error: {where}, step ")
    step = int(fused.split("step ")[1].split(":")[0])
    assert step == int(reference.split("step ")[1].split(":")[0])
    assert "the loss became NaN or infinite; the fused step kept the parameters of the step before" in fused
    good, meta = load_checkpoint(str(ckpt))
    assert meta["state"]["batch"] == (step - 1) // 2 * 2  # the last save before the bad step
    assert all(np.isfinite(a).all() for a in good.values())


@pytest.mark.slow
def test_cli_fused_divergence_after_a_mid_epoch_resume(mnist_dir, tmp_path):
    """Resumed after step 31 of the epoch, the fused step counts its steps from there."""
    ckpt = tmp_path / "c.npz"
    common = ["--data-dir", mnist_dir, "--train-size", "6400", "--test-size", "100", "--epochs", "1"]
    done = run_train(*common, "--lr", "0.05", "--save", str(ckpt), "--save-every", "30", "--step", "reference",
                     prelude=STOP_AT_STEP_31)
    assert done.returncode == 130, done.stderr
    lines = {}
    for step in ("reference", "fused"):
        resumed = tmp_path / f"{step}.npz"
        resumed.write_bytes(ckpt.read_bytes())
        lines[step] = divergence_line(run_train("--resume", str(resumed), "--lr", "1000", "--step", step))
    assert lines["fused"].split(":")[1] == lines["reference"].split(":")[1]
    assert int(lines["fused"].split("step ")[1].split(":")[0]) > 30


STOP_AT_STEP_31 = """
import os, signal
from scratchnet.step import ReferenceStep
real_step = ReferenceStep.step
def step_then_interrupt(self, x, y):
    C = real_step(self, x, y)
    if self.opt.t == 31:
        os.kill(os.getpid(), signal.SIGINT)
    return C
ReferenceStep.step = step_then_interrupt
"""

INTERRUPT_FUSED_AT_27 = """
import os, signal
from scratchnet.fast.fused_cpu import BlasStep  # the fused step on the CPU
real_step, count = BlasStep.step, [0]
def step_then_interrupt(self, x, y):
    C = real_step(self, x, y)
    count[0] += 1
    if count[0] == 27:
        os.kill(os.getpid(), signal.SIGINT)
    return C
BlasStep.step = step_then_interrupt
"""


@pytest.mark.slow
def test_cli_fused_interrupted_and_resumed_equals_uninterrupted(mnist_dir, tmp_path):
    flags = [*SMALL, "--epochs", "2", "--data-dir", mnist_dir, "--step", "fused", "--sampling", "shuffle"]
    assert run_train(*flags, "--save", str(tmp_path / "alone.npz")).returncode == 0
    broken = tmp_path / "broken.npz"
    done = run_train(*flags, "--save", str(broken), prelude=INTERRUPT_FUSED_AT_27)
    assert done.returncode == 130 and "after step 7" in done.stderr, done.stderr
    assert run_train("--resume", str(broken)).returncode == 0
    expected, got = load_checkpoint(str(tmp_path / "alone.npz"))[0], load_checkpoint(str(broken))[0]
    assert sorted(expected) == sorted(got)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize("flags,message", [
    (["--step", "fused", "--optimizer", "adam"], "--step fused: the fused step needs plain SGD"),
    (["--step", "fused", "--activation", "tanh"], "--step fused: the fused step needs ReLU"),
])
@pytest.mark.slow
def test_cli_fused_refuses_a_model_it_cannot_compute(flags, message, mnist_dir, tmp_path):
    """Before any work: not even the samples' picture is drawn."""
    picture = tmp_path / "s.png"
    done = run_train(*SMALL, "--data-dir", mnist_dir, *flags, "--plot-samples", str(picture))
    assert done.returncode == 2 and done.stderr.strip().endswith("use --step reference"), done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not picture.exists()


def test_an_unknown_step_is_refused():
    with pytest.raises(UsageError, match="unknown step 'fsued': use one of auto, reference, fused"):
        main(TrainConfig(step="fsued"))


def test_torch_ref_refuses_step(tmp_path):
    done = subprocess.run([sys.executable, "-m", "torch_ref.train", "--step", "fused"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "--step is python -m scratchnet.train's" in done.stderr, done.stderr
