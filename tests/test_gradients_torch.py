"""scratchnet's loss and every gradient against PyTorch autograd (torch_ref.autograd), for any network.

For networks of depth L = 2..5, widths 1..32, hidden σ relu, sigmoid or tanh (one for all hidden layers,
or one each), the cross-entropy or the quadratic cost, and batches of 1..64 drawn from a seed with
|x| ≤ 10: C, then δ^[l], dW[l], db[l] for l = L..2, then ∂C/∂x equal torch's to rtol 1e-9 / atol 1e-12 in
float64 and rtol 1e-4 / atol 1e-6 in float32 (there |x| ≤ 1, see FLOAT32). The tutorial's own
784-512-512-10 is checked as well.

    python -m pytest tests/test_gradients_torch.py
    HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_gradients_torch.py --hypothesis-show-statistics
"""

import numpy as np
import pytest
from hypothesis import assume, given

from scratchnet import Network
from scratchnet.backend import to_numpy
from torch_ref.autograd import torch_gradients

from conftest import network_cases
from helpers import TOLERANCE, assert_gradients_close

FLOAT64 = TOLERANCE["float64"]
# float32: both engines round every product and sum to 24 bits (unit roundoff u = 6e-8), but in different
# orders (OpenBLAS's GEMM blocking against torch's kernels; the softmax and the sigmoid by different, equally
# accurate formulas). A sum of n terms computed in two orders differs by about √n·u·Σ|terms| (n·u at worst);
# n ≤ 64 (the batch, in dW and db) or ≤ 32 (a width), and each of up to four layers adds its rounding to what
# it receives: a few 1e-6 relative at worst, which rtol 1e-4 covers with a wide margin. atol 1e-6 covers
# entries that cancel to almost nothing, whose error is absolute, u·Σ|terms|: the δ^[L] = p − 1 of a
# confident softmax keeps only u ≈ 6e-8 absolute, and dW = δᵀa multiplies that by |a| ≲ |x|. So float32
# inputs stay in [−1, 1] (the tutorial's pixels lie in [0, 1]): with |x| ≤ 10 hypothesis finds 1.2e-6
# ([21, 31], m = 1); with |x| ≤ 1 the worst of 6,000 examples used 6% of rtol·|b| + atol.
FLOAT32_X_SCALES = (0.1, 1.0)
FLOAT32 = TOLERANCE["float32"]


def relu_sides_agree(net, ref):
    """Every hidden ReLU unit is on (z > 0) in both engines or off in both.

    A z^[l] within rounding of 0 can land on either side of the kink in the two engines; σ′ is then 1 in one
    and 0 in the other: a tie at a point where the gradient does not exist, not an error. Rare (none in
    6,000 float32 examples), but nothing rules it out, so such examples are discarded, never passed.
    """
    return all(np.array_equal(to_numpy(net.z[l]) > 0, ref.z[l] > 0)
               for l in range(2, net.L) if net.activation[l] == "relu")


def check_against_torch(case, xp, tolerance):
    net, x, y = case.build(xp)
    ref = torch_gradients(net, x, y)
    net.forward(x)
    assume(relu_sides_agree(net, ref))
    assert_gradients_close(net, x, y, ref, **tolerance)


@given(case=network_cases(dtypes=("float64",)))
def test_gradients_match_torch_float64(xp, case):
    check_against_torch(case, xp, FLOAT64)


@given(case=network_cases(dtypes=("float32",), x_scales=FLOAT32_X_SCALES))
def test_gradients_match_torch_float32(xp, case):
    check_against_torch(case, xp, FLOAT32)


@pytest.mark.parametrize("dtype,tolerance", [("float64", FLOAT64), ("float32", FLOAT32)])
def test_tutorial_model_matches_torch(xp, dtype, tolerance):
    """The tutorial's 784-512-512-10, ReLU, cross-entropy, on a batch of 64 pixel-like inputs."""
    net = Network([784, 512, 512, 10], dtype=dtype, seed=0, xp=xp)
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.uniform(0, 1, (64, 784)).astype(dtype))
    y = xp.asarray(rng.integers(0, 10, 64))
    ref = torch_gradients(net, x, y)
    net.forward(x)
    assert relu_sides_agree(net, ref)
    assert_gradients_close(net, x, y, ref, **tolerance)


def test_oracle_leaves_the_network_alone():
    """torch_gradients copies the parameters through the bridge; scratchnet's own W, b are untouched."""
    net = Network([5, 4, 3], dtype="float64", seed=1)
    before = {l: (net.W[l].copy(), net.b[l].copy()) for l in net.W}
    torch_gradients(net, np.ones((2, 5)), np.array([0, 2]))
    for l, (W, b) in before.items():
        np.testing.assert_array_equal(net.W[l], W, err_msg=f"W[{l}]")
        np.testing.assert_array_equal(net.b[l], b, err_msg=f"b[{l}]")
