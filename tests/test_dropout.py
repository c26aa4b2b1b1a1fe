"""Dropout, (D1) and (D2): scratchnet's masked forward and backward against torch autograd and central differences.

With the masks r^[l] of every hidden layer fixed (drawn by the network's seeded generator, then handed to
both engines), C, every δ^[l], dW[l], db[l] and ∂C/∂x equal torch autograd's on the same network multiplying
by the same masks (torch_ref.autograd.torch_gradients(net, x, y, r)), to rtol 1e-9 in float64 and 1e-4 in
float32, for any network hypothesis draws (L = 3..5, widths 1..32, any hidden σ, both costs, p in
{0.1, 0.5, 0.9}). Without torch, δ^[l], dW[l], db[l] and ∂C/∂x equal central differences of the masked cost, entry by
entry (float64, ReLU units kept 1e-3 away from the kink). The masks themselves: entries 0 or 1, a fraction
1 − p of them kept, reproducible from the seed, drawn from a Generator passed in when one is; evaluation drops
nothing; training draws fresh masks each step. Planted bugs (a backward that forgets the mask, a forward that
forgets 1/(1 − p)) are caught by both oracles.

    python -m pytest tests/test_dropout.py
"""

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scratchnet import Network
from scratchnet.optim import SGD
from scratchnet.step import ReferenceStep
from torch_ref.autograd import torch_gradients

from conftest import network_cases
from helpers import (
    TOLERANCE,
    assert_close,
    assert_gradients_close,
    assert_matches_central_differences,
    away_from_kink,
    relu_sides_agree,
)
from planting import Bug, load_engine

H = 1e-6
REL = 1e-7
P = (0.1, 0.5, 0.9)


def with_dropout(case, p, xp=np, network=Network):
    """(net, x, y) of `case`, the network built with dropout p (same seed, so the same W, b)."""
    _, x, y = case.build(xp)
    net = network(case.sizes, activation=case.activation, loss=case.loss, dtype=case.dtype, seed=case.seed,
                  xp=xp, dropout=p)
    return net, x, y


def check_against_torch(case, p, xp):
    net, x, y = with_dropout(case, p, xp)
    r = net.draw_masks(case.m)
    ref = torch_gradients(net, x, y, r)
    net.forward(x, r)
    assume(relu_sides_agree(net, ref))
    assert_gradients_close(net, x, y, ref, **TOLERANCE[case.dtype], r=r)


@given(case=network_cases(layers=(3, 5), dtypes=("float64",)), p=st.sampled_from(P))
def test_masked_gradients_match_torch_float64(xp, case, p):
    check_against_torch(case, p, xp)


@given(case=network_cases(layers=(3, 5), dtypes=("float32",), x_scales=(0.1, 1.0)), p=st.sampled_from(P))
def test_masked_gradients_match_torch_float32(xp, case, p):
    """|x| ≤ 1 as in test_gradients_torch.py; 1/(1 − p) ≤ 10 scales each layer's rounding no further than that."""
    check_against_torch(case, p, xp)


@given(case=network_cases(layers=(3, 4), max_width=8, max_batch=8), p=st.sampled_from(P))
def test_masked_gradients_match_central_differences(case, p):
    net, x, y = with_dropout(case, p)
    r = net.draw_masks(case.m)
    assume(away_from_kink(net, x, r))
    assert_matches_central_differences(net, x, y, REL, H, r)


def test_a_mask_set_by_hand():
    """(D1) entry by entry: a kept unit is σ(z)/(1 − p), a dropped one 0; (D2) zeroes δ of the dropped ones."""
    net = Network([3, 4, 2], dtype="float64", seed=0, dropout=0.5)
    x = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]])
    r = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    net.forward(x, {2: r})
    assert_close(net.a[2], np.maximum(net.z[2], 0) * r * 2, "a[2] = σ(z[2]) ⊙ r / (1 − p)", rtol=1e-15)
    net.backward(net.cost(np.array([0, 1]))[1])
    assert (net.delta[2][r == 0] == 0).all() and net.r == {2: r}


def test_masks_are_bernoulli_1_minus_p_from_the_seeded_generator():
    net = Network([5, 300, 200, 3], dropout=0.2, seed=7)
    r = net.draw_masks(1000)
    assert sorted(r) == [2, 3]
    assert r[2].shape == (1000, 300) and r[3].shape == (1000, 200) and r[2].dtype == np.float32
    for l, r_l in r.items():
        assert set(np.unique(r_l)) <= {0.0, 1.0}
        kept, n = r_l.mean(), r_l.size
        assert abs(kept - 0.8) < 5 * np.sqrt(0.8 * 0.2 / n), f"r[{l}] keeps {kept:.4f}, expected 0.8"
    again = Network([5, 300, 200, 3], dropout=0.2, seed=7).draw_masks(1000)
    for l in r:
        np.testing.assert_array_equal(again[l], r[l], err_msg=f"r[{l}] from the same seed")
    given_rng = Network([5, 300, 200, 3], dropout=0.2, rng=np.random.default_rng(123)).draw_masks(1000)
    expected = np.random.default_rng(123).random((1000, 300), dtype=np.float32) >= 0.2
    np.testing.assert_array_equal(given_rng[2], expected, err_msg="r[2] from the Generator passed in")
    assert Network([5, 4, 3], dropout=0.0).draw_masks(10) == {}


def test_evaluation_drops_nothing_and_training_draws_fresh_masks():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (16, 10)).astype(np.float32), rng.integers(0, 3, 16)
    plain, dropped = Network([10, 8, 8, 3], seed=1), Network([10, 8, 8, 3], seed=1, dropout=0.5)
    np.testing.assert_array_equal(dropped.forward(x), plain.forward(x), err_msg="a[L] at evaluation")
    assert dropped.r == {}
    step = ReferenceStep(dropped, SGD(dropped, lr=0.1))
    step.step(x, y)
    first = {l: r_l.copy() for l, r_l in dropped.r.items()}
    assert sorted(first) == [2, 3] and first[2].shape == (16, 8)
    step.step(x, y)
    assert not np.array_equal(dropped.r[2], first[2]), "the second step reused the first step's mask"
    cache, r = dropped.a, dropped.r
    a_L = dropped.infer(x)
    assert dropped.a is cache and dropped.r is r, "evaluation must leave the training cache alone"
    np.testing.assert_array_equal(a_L, dropped.forward(x), err_msg="infer drops no unit")


def test_p_outside_0_1_is_refused():
    from scratchnet.errors import UsageError

    for p in (-0.1, 1.0):
        with pytest.raises(UsageError, match="dropout p must be in"):
            Network([3, 2, 2], dropout=p)


BUGS = {
    "backward forgets the mask (D2)": Bug("network.py", "delta = delta * self.r[l - 1] / (1 - self.dropout)",
                                          "delta = delta", "delta[3]", "delta[3]"),
    "forward forgets 1/(1 − p) (D1)": Bug("network.py", "a[l] * r[l] / (1 - self.dropout)",
                                          "a[l] * r[l]", "loss", "delta[3]"),
}


def planted_case(bug):
    """A 4-4-4-4 sigmoid/tanh net of the planted engine with p = 0.5, a batch of 3 and its fixed masks."""
    network = load_engine(bug)
    net = network([4, 4, 4, 4], activation=["sigmoid", "tanh"], dtype="float64", seed=5, dropout=0.5)
    rng = np.random.default_rng(5)
    r = {l: (rng.random((3, 4)) >= 0.5).astype(np.float64) for l in (2, 3)}
    r[3][:, 0] = 1.0  # keep at least one unit of layer 3 in every sample
    return net, rng.uniform(-1, 1, (3, 4)), np.array([0, 3, 1]), r


def test_the_unmodified_engine_passes_both_checkers_under_dropout():
    net, x, y, r = planted_case(None)
    assert_gradients_close(net, x, y, torch_gradients(net, x, y, r), **TOLERANCE["float64"], r=r)
    assert_matches_central_differences(net, x, y, REL, H, r)


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_a_planted_dropout_bug_is_caught_by_both_checkers(bug):
    net, x, y, r = planted_case(bug)
    with pytest.raises(AssertionError, match=rf"\n{re.escape(bug.torch_names)}\n"):
        assert_gradients_close(net, x, y, torch_gradients(net, x, y, r), **TOLERANCE["float64"], r=r)
    with pytest.raises(AssertionError, match=rf"\n{re.escape(bug.fd_names)}\n"):
        assert_matches_central_differences(net, x, y, REL, H, r)
