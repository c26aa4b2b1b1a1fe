"""scratchnet's loss and every gradient against PyTorch autograd (torch_ref.autograd), for any network.

For networks of depth L = 2..5, widths 1..32, hidden σ relu, sigmoid or tanh (one for all hidden layers,
or one each), the cross-entropy or the quadratic cost, and batches of 1..64 drawn from a seed with
|x| ≤ 10: C, then δ^[l], dW[l], db[l] for l = L..2, then ∂C/∂x equal torch's to rtol 1e-9 / atol 1e-12 in
float64. In float32 no fixed tolerance is right (a sum of 64 terms of 10 or of 1e-3 carries different
errors): each float32 quantity is compared with autograd in float64 on the same float32 parameters and
batch, the exact values, and must lie within the rounding bound of scratchnet.checking.roundoff, entry by entry (the
bound sees saturated units, ReLU kinks and confident softmaxes for itself). Torch in float64 stands for the
exact values only where its textbook σ′ = σ(1 − σ), 1 − tanh² has not lost too much to cancellation
(torch_float64_is_exact); the few cases (~7%) with larger |z| are discarded. The tutorial's own
784-512-512-10 is checked as well.

    python -m pytest tests/test_gradients_torch.py
    HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_gradients_torch.py --hypothesis-show-statistics
"""

import numpy as np
from hypothesis import assume, given

from scratchnet import Network
from scratchnet.backend import to_numpy
from scratchnet.checking.central_differences import float64_copy
from torch_ref.autograd import torch_gradients

from conftest import network_cases
from helpers import TOLERANCE, assert_gradients_close, assert_within_float32_bound, relu_sides_agree

FLOAT64 = TOLERANCE["float64"]


def check_against_torch(case, xp, tolerance):
    net, x, y = case.build(xp)
    ref = torch_gradients(net, x, y)
    net.forward(x)
    assume(relu_sides_agree(net, ref))
    assert_gradients_close(net, x, y, ref, **tolerance)


@given(case=network_cases(dtypes=("float64",)))
def test_gradients_match_torch_float64(xp, case):
    check_against_torch(case, xp, FLOAT64)


def torch_float64_is_exact(net, x):
    """Whether torch's float64 gradients can stand for the exact ones: k|z| ≤ 20 at every sigmoid (k = 1) and
    tanh (k = 2) unit, also at a sigmoid output.

    Autograd's σ′ is the textbook σ(1 − σ), 1 − tanh², whose cancellation costs about u₆₄ e^{k|z|} relative
    (u₆₄ = 2^-53). Up to k|z| = 20 that stays below 2^-24, a hundred times under the float32 bound there;
    beyond it torch in float64 is less accurate than scratchnet in float32, and the case says nothing.
    """
    net64 = float64_copy(net)
    net64.forward(to_numpy(x).astype(np.float64))
    growth = {"sigmoid": 1, "tanh": 2}
    return all(growth[name] * np.abs(net64.z[l]).max() <= 20 for l, name in net.activation.items() if name in growth)


def check_float32_against_exact_torch(net, x, y):
    """net in float32 against autograd in float64 on the same float32 parameters, within float32's rounding."""
    ref = torch_gradients(float64_copy(net), to_numpy(x).astype(np.float64), to_numpy(y))
    assert_within_float32_bound(net, x, y, ref)


@given(case=network_cases(dtypes=("float32",)))
def test_gradients_match_torch_float32(xp, case):
    net, x, y = case.build(xp)
    assume(torch_float64_is_exact(net, x))
    check_float32_against_exact_torch(net, x, y)


def tutorial_model(xp, dtype):
    """The tutorial's 784-512-512-10, ReLU, cross-entropy, and a batch of 64 pixel-like inputs."""
    net = Network([784, 512, 512, 10], dtype=dtype, seed=0, xp=xp)
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.uniform(0, 1, (64, 784)).astype(dtype))
    y = xp.asarray(rng.integers(0, 10, 64))
    return net, x, y


def test_tutorial_model_matches_torch_float64(xp):
    net, x, y = tutorial_model(xp, "float64")
    ref = torch_gradients(net, x, y)
    net.forward(x)
    assert relu_sides_agree(net, ref)
    assert_gradients_close(net, x, y, ref, **FLOAT64)


def test_tutorial_model_matches_torch_float32(xp):
    check_float32_against_exact_torch(*tutorial_model(xp, "float32"))


def test_oracle_leaves_the_network_alone():
    """torch_gradients copies the parameters through the bridge; scratchnet's own W, b are untouched."""
    net = Network([5, 4, 3], dtype="float64", seed=1)
    before = {l: (net.W[l].copy(), net.b[l].copy()) for l in net.W}
    torch_gradients(net, np.ones((2, 5)), np.array([0, 2]))
    for l, (W, b) in before.items():
        np.testing.assert_array_equal(net.W[l], W, err_msg=f"W[{l}]")
        np.testing.assert_array_equal(net.b[l], b, err_msg=f"b[{l}]")
