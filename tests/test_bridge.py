"""torch_ref.bridge: scratchnet's W[l], b[l] against the Linear layers of torch's copy, bit for bit.

Round trips scratchnet → torch → scratchnet and torch → scratchnet → torch must return every parameter
unchanged in float32 and float64, keep sizes, activations and cost, and give the same outputs (no
transposed W); copies between networks of different shapes or dtypes must be refused with a clear error.
The bridge takes any module whose Linear layers are the network's: the PyTorch tutorial's own NeuralNetwork
(written below exactly as the tutorial writes it), a plain nn.Sequential, torch_ref's model, and state_dicts;
a module with anything scratchnet cannot compute is refused in one line that names the module.

    python -m pytest tests/test_bridge.py
"""

import numpy as np
import pytest
import torch
from torch import nn

from scratchnet import Network
from scratchnet.errors import UsageError
from torch_ref.bridge import (
    from_state_dict,
    from_torch,
    load_into_scratchnet,
    load_into_torch,
    to_state_dict,
    to_torch,
)
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


# The PyTorch quickstart tutorial's model, exactly as the tutorial writes it
# (https://pytorch.org/tutorials/beginner/basics/quickstart_tutorial.html, "Creating Models").
class TutorialNeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def tutorial_linears(model):
    return [model.linear_relu_stack[i] for i in (0, 2, 4)]


def assert_same_as_linears(net, linears):
    assert len(linears) == net.L - 1
    for l, linear in zip(range(2, net.L + 1), linears, strict=True):
        assert_close(net.W[l], linear.weight.detach().numpy(), f"W[{l}]", rtol=0)
        assert_close(net.b[l], linear.bias.detach().numpy(), f"b[{l}]", rtol=0)


def test_the_tutorials_own_model_comes_in_exactly():
    torch.manual_seed(0)
    model = TutorialNeuralNetwork()
    net = from_torch(model)
    assert (net.sizes, net.loss, net.dtype, net.dropout) == ([784, 512, 512, 10], "cross-entropy", np.float32, 0.0)
    assert [net.activation[l] for l in (2, 3)] == ["relu", "relu"]
    assert_same_as_linears(net, tutorial_linears(model))
    images = torch.rand(5, 1, 28, 28)  # the tutorial's input, before its nn.Flatten
    with torch.no_grad():
        logits = model(images).numpy()
    assert_close(net.infer(images.reshape(5, 784).numpy()), logits, "the logits z^[L]", rtol=1e-5, atol=1e-6)
    blank = Network([784, 512, 512, 10], seed=9)
    load_into_scratchnet(model, blank)
    assert_same_as_linears(blank, tutorial_linears(model))


def test_the_tutorials_own_model_goes_out_exactly():
    net = Network([784, 512, 512, 10], seed=4)
    model = TutorialNeuralNetwork()
    load_into_torch(net, model)
    assert_same_as_linears(net, tutorial_linears(model))
    again = TutorialNeuralNetwork()
    again.load_state_dict(to_state_dict(net))  # strict: the tutorial's keys, linear_relu_stack.0.weight, …
    assert_same_as_linears(net, tutorial_linears(again))


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_dict_round_trip_is_exact(dtype):
    net = Network(SIZES, activation=["tanh", "sigmoid"], loss="quadratic", dtype=dtype, seed=3)
    state = to_state_dict(net)
    back = from_state_dict(state, activation=["tanh", "sigmoid"], loss="quadratic")
    assert (back.sizes, back.dtype, back.loss) == (net.sizes, net.dtype, net.loss)
    for l in range(2, net.L + 1):
        assert_close(back.W[l], net.W[l], f"W[{l}]", rtol=0)
        assert_close(back.b[l], net.b[l], f"b[{l}]", rtol=0)
    state[next(iter(state))][0, 0] += 1  # the network owns copies: a later change to the tensors is not its
    assert back.W[2][0, 0] == net.W[2][0, 0]


def test_a_plain_sequential_with_every_sigma_dropout_and_the_quadratic_cost():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(7, 5), nn.Tanh(), nn.Dropout(0.25), nn.Linear(5, 3), nn.Sigmoid(),
                          nn.Dropout(0.25), nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Dropout(0.25), nn.Linear(4, 2),
                          nn.Sigmoid())
    model.double()
    net = from_torch(model)
    assert (net.sizes, net.loss, net.dtype, net.dropout) == ([7, 5, 3, 4, 2], "quadratic", np.float64, 0.25)
    assert [net.activation[l] for l in range(2, net.L)] == ["tanh", "sigmoid", "relu"]
    assert_same_as_linears(net, [model[i] for i in (0, 3, 6, 9)])
    x = np.random.default_rng(0).normal(size=(6, 7))
    model.eval()  # dropout off, as in infer
    with torch.no_grad():
        assert_close(net.infer(x), model(torch.from_numpy(x)).numpy(), "a^[L] = σ(z^[L])", rtol=1e-12)
    load_into_torch(Network([7, 5, 3, 4, 2], activation=["tanh", "sigmoid", "relu"], loss="quadratic",
                            dtype="float64"), model)  # the other way, into the same Sequential


def test_a_relu_shared_between_layers_is_seen_at_each_place():
    relu = nn.ReLU()
    net = from_torch(nn.Sequential(nn.Linear(4, 3), relu, nn.Linear(3, 3), relu, nn.Linear(3, 2)))
    assert [net.activation[l] for l in (2, 3)] == ["relu", "relu"]


class FunctionalRelu(nn.Module):
    """Activations applied as functions: invisible to the bridge, which says so."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 3), nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(nn.functional.relu(self.fc1(x)))


class ExtraParameter(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        self.scale = nn.Parameter(torch.ones(1))


def shared_linear():
    linear = nn.Linear(3, 3)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), linear, nn.ReLU(), linear)


REFUSED = {
    "LeakyReLU": (lambda: nn.Sequential(nn.Linear(4, 3), nn.LeakyReLU(), nn.Linear(3, 2)),
                  r"\(1\) LeakyReLU is not a layer scratchnet has; it computes nn.Linear, nn.ReLU"),
    "F.relu in forward": (FunctionalRelu, r"no activation module between \(fc1\) Linear and \(fc2\) Linear; .*"
                                          r"applied as a function in forward\(\) cannot be seen"),
    "ReLU after the logits": (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU()),
                              r"\(3\) ReLU after the last Linear, \(2\) Linear; .*logits"),
    "Softmax after the logits": (lambda: nn.Sequential(nn.Linear(4, 2), nn.Softmax(dim=1)),
                                 r"\(1\) Softmax is not a layer scratchnet has"),
    "no bias": (lambda: nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 2)),
                r"\(0\) Linear has no bias"),
    "widths out of order": (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(5, 2)),
                            r"\(2\) Linear takes 5 inputs but \(0\) Linear before it gives 3"),
    "two dropout p": (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.1), nn.Linear(3, 3), nn.ReLU(),
                                            nn.Dropout(0.5), nn.Linear(3, 2)), r"different p \[0.1, 0.5\]"),
    "dropout after one σ only": (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.1), nn.Linear(3, 3),
                                                       nn.ReLU(), nn.Linear(3, 2)),
                                 r"different p \[0.0, 0.1\] \(0.0 where no nn.Dropout follows the σ\)"),
    "dropout before σ": (lambda: nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.1), nn.ReLU(), nn.Linear(3, 2)),
                         r"\(1\) Dropout, \(2\) ReLU between \(0\) Linear and \(3\) Linear; scratchnet needs one"),
    "two σ": (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Tanh(), nn.Linear(3, 2)),
              r"\(1\) ReLU, \(2\) Tanh between .* one σ there, then at most one nn.Dropout"),
    "a convolution": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)),
                      r"\(0\) Conv2d is not a layer scratchnet has"),
    "float16": (lambda: nn.Sequential(nn.Linear(4, 2)).half(), r"\(0\) Linear holds float16; .*model.float\(\)"),
    "shared weights": (shared_linear, r"\(4\) Linear is the same Linear as \(2\) Linear"),
    "a parameter of its own": (ExtraParameter, r"parameter scale belongs to no nn.Linear"),
    "no Linear at all": (lambda: nn.Sequential(nn.ReLU()), r"torch model Sequential has no nn.Linear layer"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_modules_scratchnet_cannot_compute_are_refused_by_name(name):
    make, message = REFUSED[name]
    with pytest.raises(UsageError, match=message) as refused:
        from_torch(make())
    assert "\n" not in str(refused.value)


def test_loading_refuses_another_sigma_or_cost():
    with pytest.raises(UsageError, match=r"torch model computes σ = \['relu', 'relu'\] with the cross-entropy cost, "
                                         r"the network σ = \['tanh', 'tanh'\]"):
        load_into_scratchnet(TutorialNeuralNetwork(), Network([784, 512, 512, 10], activation="tanh"))
    with pytest.raises(UsageError, match="with the quadratic cost"):
        load_into_torch(Network(SIZES, loss="quadratic"), NeuralNetwork(SIZES))


@pytest.mark.parametrize("state,message", [
    (nn.BatchNorm1d(3).state_dict(), "the top level holds weight, bias, running_mean"),
    ({}, "state_dict is empty"),
    ({"fc.weight": np.ones((2, 3)), "fc.bias": np.ones(2)}, r"fc.weight is a ndarray, not a tensor"),
    (nn.Linear(3, 2).half().state_dict(), "weight holds float16"),
    ({"fc.bias": torch.ones(2), "fc.weight": torch.ones(2, 3)},
     "fc holds fc.bias, fc.weight; .* a .weight then a .bias"),
    ({"a.weight": torch.ones(3, 4), "a.bias": torch.ones(3), "b.weight": torch.ones(2, 4), "b.bias": torch.ones(2)},
     r"W\^\[3\] has shape \(2, 4\), but layer 2 has 3 units"),
])
def test_state_dicts_scratchnet_cannot_read_are_refused(state, message):
    with pytest.raises(UsageError, match=message):
        from_state_dict(state)
