"""Edge cases of the arithmetic, each against torch autograd: huge logits, saturated sigmoids, m = 1, x = 0.

Logits up to ±700 in float64 and ±80 in float32 (and far beyond, where only the max-shifted
log-sum-exp survives), and sigmoids at z = ±1000, give a finite loss and gradients equal to torch's (no
overflow, no nan: NumPy errors are raised, not warned); a batch of one and an all-zero input match torch
too; a label outside 0..n_L−1 raises a UsageError that names it, for both costs, and never wraps around
to another class.

    python -m pytest tests/test_numerics.py
"""

import numpy as np
import pytest

from scratchnet import Network
from scratchnet.errors import UsageError
from torch_ref.autograd import torch_gradients

from helpers import TOLERANCE, assert_gradients_close

LOSSES = ("cross-entropy", "quadratic")
ACTIVATIONS = ("relu", "sigmoid", "tanh")


def checked_against_torch(net, x, y):
    """Compare every gradient with torch, with any NumPy overflow, nan or division by zero raised."""
    ref = torch_gradients(net, x, y)
    assert np.isfinite(ref.C), "torch itself overflowed: the case is out of range"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_gradients_close(net, x, y, ref, **TOLERANCE[str(net.dtype)])
        net.forward(x)
        C, delta_L = net.cost(y)
        dW, db = net.backward(delta_L)
    assert np.isfinite(C), "loss"
    for l in dW:
        assert np.isfinite(dW[l]).all() and np.isfinite(db[l]).all(), f"dW[{l}], db[{l}]"
    return net


def set_output_layer(net, z_target, rng):
    """W^[L], b^[L] such that z^[L] ≈ z_target for every sample: b^[L] = 0.9·z_target, |W^[L] a| ≤ 0.1·max|z|."""
    L = net.L
    scale = 0.1 * np.abs(z_target).max() / net.sizes[L - 2]  # hidden a^[L−1] of tanh lies in (−1, 1)
    net.W[L][...] = rng.uniform(-scale, scale, net.W[L].shape)
    net.b[L][...] = 0.9 * np.asarray(z_target)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype,big", [("float64", 700.0), ("float32", 80.0), ("float64", 1e4), ("float32", 1e3)])
def test_huge_logits_match_torch(dtype, big, loss):
    """±700 and ±80 lie just below where e^z overflows (709.8 in float64, 88.7 in float32), so a log-sum-exp
    without the max shift would still pass there: ±1e4 and ±1e3 are the cases that need the shift."""
    rng = np.random.default_rng(0)
    net = Network([3, 5, 4], activation="tanh", loss=loss, dtype=dtype, seed=0)
    set_output_layer(net, [big, -big, 0.0, big / 2], rng)
    x = rng.uniform(-1, 1, (6, 3)).astype(dtype)
    y = np.array([0, 1, 2, 3, 1, 0])  # the largest logit, the smallest, and between
    checked_against_torch(net, x, y)
    net.forward(x)
    assert np.abs(net.z[net.L]).max() >= 0.8 * big


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_at_1000_is_finite_and_matches_torch(dtype, loss):
    """Hidden units at z = ±1000 (σ = 1 and 0, σ′ = 0 exactly) beside ordinary ones; the output too under quadratic."""
    rng = np.random.default_rng(1)
    net = Network([3, 4, 4], activation="sigmoid", loss=loss, dtype=dtype, seed=1)
    net.b[2][...] = [1000.0, -1000.0, 0.5, -0.5]
    if loss == "quadratic":
        set_output_layer(net, [1000.0, -1000.0, 1.0, -1.0], rng)
    x = rng.uniform(-1, 1, (5, 3)).astype(dtype)
    checked_against_torch(net, x, np.array([0, 1, 2, 3, 0]))
    net.forward(x)
    np.testing.assert_array_equal(net.a[2][:, :2], np.tile([1.0, 0.0], (5, 1)))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_of_one_matches_torch(dtype, activation, loss):
    net = Network([6, 5, 4, 3], activation=activation, loss=loss, dtype=dtype, seed=2)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 6)).astype(dtype)
    checked_against_torch(net, x, np.array([2]))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_all_zero_input_matches_torch(dtype, activation, loss):
    net = Network([6, 5, 4, 3], activation=activation, loss=loss, dtype=dtype, seed=3)
    x = np.zeros((4, 6), dtype=dtype)
    checked_against_torch(net, x, np.array([0, 1, 2, 0]))
    net.forward(x)
    dW, _ = net.backward(net.cost(np.array([0, 1, 2, 0]))[1])
    np.testing.assert_array_equal(dW[2], 0, err_msg="dW[2] = δ^[2]ᵀ x must be exactly 0 for x = 0")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("labels,bad", [([0, 4], 4), ([-1, 0], -1), ([0, -4], -4), ([9, 1], 9), ([3, 2**40], 2**40)])
def test_label_outside_the_classes_raises(dtype, loss, labels, bad):
    """−1 and −4 would index classes 3 and 0 (NumPy wraps negative indices); 4 and beyond do not exist."""
    net = Network([2, 3, 4], loss=loss, dtype=dtype)
    net.forward(np.ones((2, 2), dtype=dtype))
    with pytest.raises(UsageError, match=rf"^label {bad} is outside 0\.\.3: the output layer has 4 units$"):
        net.cost(np.array(labels))
