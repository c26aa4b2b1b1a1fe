"""The same engine on a GPU: CuPy against NumPy, and a float32 training run against torch CUDA.

Skipped, not failed, without CuPy and a CUDA device (marker `gpu`). On the GPU machine:

    PYTHONPATH=. python3 -m pytest -m gpu tests/          # or: bash benchmarks/gpu_check.sh
"""

import subprocess
import sys

import numpy as np
import pytest

from scratchnet import SGD, Network
from scratchnet.train import train_step

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


def test_float32_trajectory_stays_with_torch_cuda(cupy, mnist_dir):
    """200 steps of the tutorial's model from identical weights on identical batches: within compare's
    float32 tolerances of torch CUDA eager."""
    torch = pytest.importorskip("torch")
    from scratchnet.config import TrainConfig
    from scratchnet.train import load_data
    from torch_ref.bridge import to_torch
    from torch_ref.compare import tolerance_for
    from torch_ref.train import train_step as torch_train_step

    (x, y), _ = load_data(TrainConfig(data_dir=mnist_dir, train_size=12800, test_size=64), cupy)
    net = Network([784, 512, 512, 10], seed=0, xp=cupy)
    model = to_torch(net, device="cuda")
    opt, optimizer = SGD(net, lr=1e-3), torch.optim.SGD(model.parameters(), lr=1e-3)
    x_t, y_t = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
    loss_fn = torch.nn.CrossEntropyLoss()
    tol = tolerance_for("float32", 200)
    for step in range(200):
        rows = slice(64 * step, 64 * (step + 1))
        C_s = float(train_step(net, opt, x[rows], y[rows]))
        C_t = float(torch_train_step(model, loss_fn, optimizer, x_t[rows], y_t[rows]))
        assert abs(C_s - C_t) <= tol["loss"], f"step {step}: {C_s} vs {C_t}"
    for l, linear in zip(range(2, 5), model.linears(), strict=True):
        W_t = linear.weight.detach().cpu().numpy()
        assert_close(cupy.asnumpy(net.W[l]), W_t, f"W[{l}]", rtol=0, atol=tol["parameters"] * np.abs(W_t).max())


def test_train_cli_runs_on_cuda(cupy, mnist_dir):
    done = subprocess.run([sys.executable, "-m", "scratchnet.train", "--device", "cuda", "--epochs", "1",
                           "--data-dir", mnist_dir, "--train-size", "6400", "--test-size", "1000"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("Done!\n") and " Accuracy: " in done.stdout
