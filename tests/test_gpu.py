"""The same engine on a GPU: CuPy against NumPy, and a float32 training run against torch CUDA.

Skipped, not failed, without CuPy and a CUDA device (marker `gpu`). On the GPU machine:

    PYTHONPATH=. python3 -m pytest -m gpu tests/          # or: bash benchmarks/gpu_check.sh
"""

import re
import subprocess
import sys

import numpy as np
import pytest

from scratchnet import SGD, Network
from scratchnet.errors import UsageError
from scratchnet.fast.fused import FusedStep
from scratchnet.fast.kernels import matmul_into
from scratchnet.step import ReferenceStep

from conftest import REPO, _cupy_or_skip
from helpers import assert_close

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    return _cupy_or_skip()


@pytest.mark.parametrize("sizes,activation,loss", [([784, 512, 512, 10], "relu", "cross-entropy"),
                                                   ([20, 16, 8, 4], "tanh", "quadratic"),
                                                   ([20, 16, 8, 4], ["sigmoid", "relu"], "cross-entropy")])
def test_cupy_gradients_equal_numpys(cupy, sizes, activation, loss):
    """float64, rtol 1e-10: the same equations on two array libraries differ only in summation order."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(33, sizes[0])), rng.integers(0, sizes[-1], size=33)
    grads = {}
    for xp in (np, cupy):
        net = Network(sizes, activation=activation, loss=loss, dtype="float64", seed=1, xp=xp)
        net.forward(xp.asarray(x))
        C, delta_L = net.cost(xp.asarray(y))
        dW, db = net.backward(delta_L)
        grads[xp.__name__] = (C, dW, db, net.delta, net.input_gradient())
    (C_n, dW_n, db_n, d_n, dx_n), (C_c, dW_c, db_c, d_c, dx_c) = grads["numpy"], grads["cupy"]
    assert_close(C_c, C_n, "C", rtol=1e-12)
    for l in dW_n:
        assert_close(dW_c[l], dW_n[l], f"dW[{l}]", rtol=1e-10, atol=1e-14)
        assert_close(db_c[l], db_n[l], f"db[{l}]", rtol=1e-10, atol=1e-14)
        assert_close(d_c[l], d_n[l], f"delta[{l}]", rtol=1e-10, atol=1e-14)
    assert_close(dx_c, dx_n, "input gradient", rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("step", ["reference", "fused"])
def test_float32_trajectory_stays_with_torch_cuda(cupy, mnist_dir, step):
    """200 steps of the tutorial's model from identical weights on identical batches: within compare's
    float32 tolerances of torch CUDA eager, for the reference step and for the fused one."""
    torch = pytest.importorskip("torch")
    from scratchnet.mnist.load import load_data
    from scratchnet.run.config import TrainConfig
    from torch_ref.bridge import to_torch
    from torch_ref.compare import tolerance_for
    from torch_ref.train import Training
    from torch_ref.train import train_step as torch_train_step

    (x, y), _ = load_data(TrainConfig(data_dir=mnist_dir, train_size=12800, test_size=64), cupy)
    net = Network([784, 512, 512, 10], seed=0, xp=cupy)
    model = to_torch(net, device="cuda")
    opt, optimizer = SGD(net, lr=1e-3), torch.optim.SGD(model.parameters(), lr=1e-3)
    trainer = FusedStep(net, opt, 64) if step == "fused" else ReferenceStep(net, opt)
    x_t, y_t = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
    loss_fn = torch.nn.CrossEntropyLoss()
    tol = tolerance_for("float32", 200)
    for t in range(200):
        rows = slice(64 * t, 64 * (t + 1))
        C_s = float(trainer.step(x[rows], y[rows]))
        C_t = float(torch_train_step(Training(model, loss_fn, optimizer), x_t[rows], y_t[rows]))
        assert abs(C_s - C_t) <= tol["loss"], f"step {t}: {C_s} vs {C_t}"
    trainer.sync()  # the fused step's sync point: net.W ← θ
    for l, linear in zip(range(2, 5), model.linears(), strict=True):
        W_t = linear.weight.detach().cpu().numpy()
        assert_close(cupy.asnumpy(net.W[l]), W_t, f"W[{l}]", rtol=0, atol=tol["parameters"] * np.abs(W_t).max())


def test_train_cli_on_cuda_prints_what_the_cpu_prints(cupy, mnist_dir):
    """--step auto is the fused step on cuda; it prints the reference's lines and the CPU's: the same lines, losses
    to 1e-4 (float32 sums in another order), accuracy to one test sample in 1000."""
    outputs = {}
    for device, step in (("cpu", "reference"), ("cuda", "reference"), ("cuda", "auto")):
        done = subprocess.run([sys.executable, "-m", "scratchnet.train", "--device", device, "--step", step,
                               "--epochs", "1", "--data-dir", mnist_dir, "--train-size", "6400",
                               "--test-size", "1000", "--lr", "0.05"],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert ("training step: fused" in done.stderr) == (step == "auto")
        outputs[device, step] = done.stdout
    assert outputs["cuda", "auto"].endswith("Done!\n") and " Accuracy: " in outputs["cuda", "auto"]
    expected = outputs["cpu", "reference"]
    for key in (("cuda", "reference"), ("cuda", "auto")):
        assert NUMBER.sub("#", outputs[key]) == NUMBER.sub("#", expected), key
        losses = [float(v) for v in LOSS.findall(outputs[key])]
        assert np.allclose(losses, [float(v) for v in LOSS.findall(expected)], rtol=1e-4), key
        accuracy = float(ACCURACY.search(outputs[key])[1])
        assert abs(accuracy - float(ACCURACY.search(expected)[1])) <= 0.1 + 1e-9, key


NUMBER = re.compile(r"\d+\.\d+")
LOSS = re.compile(r"loss: *(\d+\.\d+)")
ACCURACY = re.compile(r"Accuracy: (\d+\.\d)%")


SPIN = r"""
extern "C" __global__ void spin(long long cycles) {
    long long start = clock64();
    while (clock64() - start < cycles) { }
}
"""


@pytest.mark.parametrize("graph", [False, True], ids=["kernels", "CUDA graph"])
def test_fused_steps_never_wait_for_the_device(cupy, graph):
    """Behind a kernel that keeps the GPU busy for seconds, fused steps (shuffled batches sliced on the device,
    the loss added up as the loop does) return while that kernel still runs: not one of them waited.

    Few enough steps that their launches fit in the GPU's queue of pending work, which would block the host
    when full (a limit of the driver, not a synchronisation).
    """
    from scratchnet.sampling import epoch_batches

    net = Network([784, 512, 512, 10], seed=0, xp=cupy)
    fused = FusedStep(net, SGD(net, lr=1e-3), 64)
    if graph:
        fused.capture()
    rng = np.random.default_rng(0)
    x, y = cupy.asarray(rng.random((3200, 784), dtype=np.float32)), cupy.asarray(rng.integers(0, 10, 3200))
    batches = epoch_batches(3200, 64, "shuffle", rng, cupy)
    loss_sum = 0.0 + fused.step(x[batches[0]], y[batches[0]])  # every kernel compiled and loaded (loading a
    loss_sum = loss_sum + fused.step(x[batches[1]], y[batches[1]])  # module waits for the device), the sum's
    cupy.cuda.Device().synchronize()                                # array + array kernel too
    busy = cupy.RawKernel(SPIN, "spin")
    busy((1,), (1,), (np.int64(5 * 10**9),))  # several seconds at any clock rate of a current GPU
    spinning = cupy.cuda.Event()
    spinning.record()
    for idx in batches[2:12]:
        loss_sum = loss_sum + fused.step(x[idx], y[idx])
    assert not spinning.done, "a step waited for the device"
    assert np.isfinite(float(loss_sum)) and fused.first_bad_step() is None


def test_the_captured_step_equals_the_launched_one(cupy):
    """float64: the graph's replays take the very steps the kernels take, full batches, a partial one (which
    the graph cannot replay), an α that moves, and a divergence recorded on the device."""
    rng = np.random.default_rng(0)
    x, y = cupy.asarray(rng.normal(size=(200, 30))), cupy.asarray(rng.integers(0, 5, 200))
    nets = [Network([30, 20, 10, 5], dtype="float64", seed=4, xp=cupy) for _ in range(2)]
    steps = [FusedStep(net, SGD(net, lr=0.1), 16) for net in nets]
    steps[1].capture()
    for t in range(12):
        rows = slice(16 * t, 16 * t + (16 if t != 5 else 7))
        for fused in steps:
            fused.opt.lr = 0.1 / (1 + t)
            fused.step(x[rows], y[rows])
        assert_close(steps[1].C, steps[0].C, f"C at step {t}", rtol=1e-12)
    for fused in steps:
        fused.sync()
    for l in nets[0].W:
        assert_close(nets[1].W[l], nets[0].W[l], f"W[{l}]", rtol=1e-12, atol=1e-15)
        assert_close(nets[1].b[l], nets[0].b[l], f"b[{l}]", rtol=1e-12, atol=1e-15)
    bad = x[:16].copy()
    bad[0, 0] = np.nan
    for fused in steps:
        fused.step(bad, y[:16])
        assert fused.first_bad_step() == 13


@pytest.mark.parametrize("a_t,b_t", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("M,K,N", [(5, 7, 3), (1, 4, 6), (6, 1, 1), (64, 784, 512)])
def test_matmul_into_equals_matmul(cupy, a_t, b_t, M, K, N):
    """cuBLAS called directly (column-major) for every layout the step uses: a C-contiguous array or a
    transpose of one, vectors and single rows among them."""
    rng = np.random.default_rng(M * K * N)
    a_host, b_host = rng.normal(size=(K, M) if a_t else (M, K)), rng.normal(size=(N, K) if b_t else (K, N))
    a, b = cupy.asarray(a_host), cupy.asarray(b_host)
    a, b = (a.T if a_t else a), (b.T if b_t else b)
    out = cupy.empty((M, N))
    matmul_into(a, b, out)
    expected = (a_host.T if a_t else a_host) @ (b_host.T if b_t else b_host)
    assert_close(out, expected, f"{'aᵀ' if a_t else 'a'} @ {'bᵀ' if b_t else 'b'}", rtol=1e-12, atol=1e-12)


def test_matmul_into_refuses_what_cublas_would_misread(cupy):
    a, b = cupy.ones((4, 3)), cupy.ones((3, 5))
    for args in ((a.astype(np.float32), b, cupy.empty((4, 5))), (a, b, cupy.empty((5, 4)).T),
                 (cupy.ones((8, 3))[::2], b, cupy.empty((4, 5)))):
        with pytest.raises(UsageError, match="matmul_into takes arrays of one dtype"):
            matmul_into(*args)

