"""torch_ref.bridge: scratchnet's W[l], b[l] against the Linear layers of torch's copy, bit for bit.

Round trips scratchnet → torch → scratchnet and torch → scratchnet → torch must return every parameter
unchanged in float32 and float64, keep sizes, activations and cost, and give the same outputs (no
transposed W); copies between networks of different shapes or dtypes must be refused with a clear error.

    python -m pytest tests/test_bridge.py
"""

import numpy as np
import pytest
import torch

from scratchnet import Network
from torch_ref.bridge import from_torch, load_into_scratchnet, load_into_torch, to_torch
from torch_ref.model import NeuralNetwork

from helpers import assert_close

DTYPES = ["float32", "float64"]
SIZES = [7, 5, 3, 4]  # no two widths alike, so a transposed or swapped W cannot fit


def assert_same_parameters(net, model):
    for l, linear in zip(range(2, net.L + 1), model.linears(), strict=True):
        assert linear.weight.dtype == getattr(torch, str(net.dtype)), f"W[{l}] dtype"
        assert_close(linear.weight.detach().numpy(), net.W[l], f"W[{l}]", rtol=0)
        assert_close(linear.bias.detach().numpy(), net.b[l], f"b[{l}]", rtol=0)


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_scratchnet_to_torch_and_back_is_exact(dtype, loss):
    net = Network(SIZES, activation=["tanh", "sigmoid"], loss=loss, dtype=dtype, seed=5)
    model = to_torch(net)
    assert_same_parameters(net, model)
    back = from_torch(model)
    assert (back.sizes, back.activation, back.loss, back.dtype) == (net.sizes, net.activation, net.loss, net.dtype)
    for l in range(2, net.L + 1):
        assert_close(back.W[l], net.W[l], f"W[{l}]", rtol=0)
        assert_close(back.b[l], net.b[l], f"b[{l}]", rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_to_scratchnet_and_back_is_exact(dtype):
    torch.manual_seed(0)
    model = NeuralNetwork(SIZES, activation="relu", dtype=getattr(torch, dtype))
    net = from_torch(model)
    assert_same_parameters(net, model)
    back = to_torch(net)
    assert str(back) == str(model)
    for l, (linear, linear_back) in enumerate(zip(model.linears(), back.linears(), strict=True), start=2):
        assert_close(linear_back.weight.detach().numpy(), linear.weight.detach().numpy(), f"W[{l}]", rtol=0)
        assert_close(linear_back.bias.detach().numpy(), linear.bias.detach().numpy(), f"b[{l}]", rtol=0)


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
def test_both_copies_compute_the_same_outputs(loss):
    net = Network(SIZES, activation="tanh", loss=loss, dtype="float64", seed=2)
    x = np.random.default_rng(1).normal(size=(6, SIZES[0]))
    with torch.no_grad():
        a_L = to_torch(net)(torch.from_numpy(x)).numpy()
    assert_close(a_L, net.forward(x), "a^[L]", rtol=1e-12)


def test_loading_into_scratchnet_refuses_other_shapes_and_dtypes():
    net = Network([784, 512, 10])
    with pytest.raises(ValueError, match=r"layer 2: torch has float32 \(256, 784\), the network float32 \(512, 784\)"):
        load_into_scratchnet(NeuralNetwork([784, 256, 10]), net)
    with pytest.raises(ValueError, match=r"layer 2: torch has float64 \(512, 784\), the network float32"):
        load_into_scratchnet(NeuralNetwork([784, 512, 10], dtype=torch.float64), net)
    with pytest.raises(ValueError, match="torch model has 3 Linear layers, the network 2"):
        load_into_scratchnet(NeuralNetwork([784, 512, 512, 10]), net)


def test_loading_into_torch_refuses_other_layer_counts():
    with pytest.raises(ValueError, match="torch model has 3 Linear layers, the network 2"):
        load_into_torch(Network([784, 512, 10]), NeuralNetwork([784, 512, 512, 10]))


@pytest.mark.parametrize("hidden", [256, 1])  # 1: torch would broadcast a width-1 layer silently
def test_loading_into_torch_refuses_other_shapes(hidden):
    message = rf"layer 2: torch has float32 \(512, 784\), the network float32 \({hidden}, 784\)"
    with pytest.raises(ValueError, match=message):
        load_into_torch(Network([784, hidden, 10]), NeuralNetwork([784, 512, 10]))


def test_loading_into_torch_refuses_another_dtype():
    with pytest.raises(ValueError, match="layer 2: torch has float32 .* the network float64"):
        load_into_torch(Network([4, 3, 2], dtype="float64"), NeuralNetwork([4, 3, 2]))
