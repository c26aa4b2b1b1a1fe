"""scratchnet's hand-written gradients against central differences (no torch), in float64.

Every ∂C/∂W^[l] and ∂C/∂b^[l] of small networks is compared entry by entry with
(C(θ + h) − C(θ − h)) / 2h, h = 1e-6, for each activation and cost; relu inputs are kept away from the
kink (|z| > 1e-3), and ReLU′(0) = 0 is tested on its own.

    python -m pytest tests/test_finite_differences.py
"""

import numpy as np
import pytest

from scratchnet import Network
from scratchnet.activations import relu_prime, sigmoid, sigmoid_prime, tanh_prime
from scratchnet.checking.agreement import relative_error
from scratchnet.checking.central_differences import directional_derivative, numerical_gradients

from helpers import away_from_kink


def make_case(sizes, activation, loss, m, seed):
    """A float64 network and batch whose hidden z^[l] all stay clear of the ReLU kink."""
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        net = Network(sizes, activation=activation, loss=loss, dtype="float64", seed=seed + 1000 * attempt)
        x = rng.normal(size=(m, sizes[0]))
        y = rng.integers(0, sizes[-1], size=m)
        if activation != "relu" or away_from_kink(net, x):
            return net, x, y
    raise AssertionError("no batch away from the kink found")


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("sizes", [[3, 2], [4, 5, 3], [5, 4, 3, 3]])
def test_gradients_match_central_differences(sizes, activation, loss):
    net, x, y = make_case(sizes, activation, loss, m=4, seed=len(sizes))
    net.forward(x)
    _, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    num_dW, num_db = numerical_gradients(net, x, y)
    for l in range(2, net.L + 1):
        assert relative_error(dW[l], num_dW[l]) < 1e-7, f"dW[{l}]"
        assert relative_error(db[l], num_db[l]) < 1e-7, f"db[{l}]"


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_large_layers_random_direction(activation):
    """vᵀ∇C against (C(θ + hv) − C(θ − hv)) / 2h on a 784-64-32-10 network."""
    net, x, y = make_case([784, 64, 32, 10], activation, "cross-entropy", m=8, seed=7)
    net.forward(x)
    dW, db = net.backward(net.cost(y)[1])
    rng = np.random.default_rng(0)
    direction_W = {l: rng.normal(size=net.W[l].shape) for l in net.W}
    direction_b = {l: rng.normal(size=net.b[l].shape) for l in net.b}
    analytic = sum((direction_W[l] * dW[l]).sum() + (direction_b[l] * db[l]).sum() for l in net.W)
    numeric = directional_derivative(net, x, y, direction_W, direction_b, h=1e-6)
    assert abs(analytic - numeric) <= 1e-7 * abs(analytic)


def test_relu_prime_at_zero_is_zero():
    z = np.array([-1.0, -0.0, 0.0, 1e-300, 2.0])
    np.testing.assert_array_equal(relu_prime(z), [0, 0, 0, 1, 1])


def test_smooth_derivatives_match_central_differences():
    z = np.linspace(-6, 6, 101)
    h = 1e-6
    for f, f_prime, name in ((sigmoid, sigmoid_prime, "sigmoid"), (np.tanh, tanh_prime, "tanh")):
        numeric = (f(z + h) - f(z - h)) / (2 * h)
        np.testing.assert_allclose(f_prime(z), numeric, rtol=1e-7, atol=1e-10, err_msg=name)


def test_sigmoid_is_finite_far_out():
    z = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z)
    np.testing.assert_allclose(s, [0, 1 / (1 + np.exp(80)), 0.5, 1 / (1 + np.exp(-80)), 1], rtol=1e-12, atol=1e-300)
