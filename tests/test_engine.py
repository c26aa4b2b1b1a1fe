"""The engine's own contracts, without torch: shapes, initialisation, labels, the SGD rules.

    python -m pytest tests/test_engine.py
"""

import math

import numpy as np
import pytest

from scratchnet import SGD, Network
from scratchnet.checking.central_differences import directional_derivative
from scratchnet.errors import UsageError
from scratchnet.losses import cross_entropy
from scratchnet.sampling import minibatches


def test_shapes_follow_the_notation():
    net = Network([6, 5, 4, 3])
    assert net.L == 4 and sorted(net.W) == [2, 3, 4]
    assert net.W[3].shape == (4, 5) and net.b[3].shape == (4,)
    x = np.ones((7, 6), dtype=np.float32)
    assert net.forward(x).shape == (7, 3)
    dW, db = net.backward(net.cost(np.zeros(7, dtype=np.int64))[1])
    for l in range(2, 5):
        assert dW[l].shape == net.W[l].shape and db[l].shape == net.b[l].shape
        assert dW[l].dtype == np.float32 and db[l].dtype == np.float32, f"layer {l} promoted"
        assert net.delta[l].shape == (7, net.sizes[l - 1])
    assert net.input_gradient().shape == (7, 6)


def test_init_is_uniform_within_torch_bound():
    net = Network([400, 300, 10], seed=3)
    for l in (2, 3):
        bound = 1 / math.sqrt(net.sizes[l - 2])
        assert np.abs(net.W[l]).max() <= bound and np.abs(net.b[l]).max() <= bound
        assert np.abs(net.W[l]).max() > 0.99 * bound  # spread over the whole interval
        assert net.W[l].std() == pytest.approx(bound / math.sqrt(3), rel=0.02)  # the std of U(−k, k)
    np.testing.assert_array_equal(Network([400, 300, 10], seed=3).W[2], net.W[2])


def test_cross_entropy_matches_its_definition():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    y = np.array([0, 3, 1, 1, 2])
    C, delta = cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert C == pytest.approx(-np.log(p[np.arange(5), y]).mean(), rel=1e-14)
    np.testing.assert_allclose(delta, (p - np.eye(4)[y]) / 5, rtol=1e-13)


@pytest.mark.parametrize("dtype,big", [("float64", 700.0), ("float32", 80.0)])
def test_cross_entropy_is_finite_for_huge_logits(dtype, big):
    z = np.array([[big, -big, 0.0], [-big, big, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        C, delta = cross_entropy(z, np.array([1, 1]))
    assert C == pytest.approx(big, rel=1e-6)  # sample 0: −log p = 2·big, sample 1: ≈ 0
    assert np.isfinite(delta).all()


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0], [0, 2.0]])
def test_bad_labels_raise(labels):
    net = Network([2, 3])
    net.forward(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(UsageError, match="label"):
        net.cost(np.array(labels))


def test_wrong_input_width_raises():
    with pytest.raises(UsageError, match=r"takes \(m, 4\)"):
        Network([4, 2]).forward(np.ones((3, 5)))


@pytest.mark.parametrize("kwargs,match", [({"sizes": [4]}, "two layers"), ({"sizes": [4, 0, 2]}, "width"),
                                          ({"activation": "gelu"}, "activation"), ({"loss": "hinge"}, "loss"),
                                          ({"dtype": "float16"}, "dtype")])
def test_bad_network_arguments_raise(kwargs, match):
    with pytest.raises(UsageError, match=match):
        Network(**{"sizes": [4, 3, 2], **kwargs})


def test_sgd_rules_plain_momentum_weight_decay():
    """θ after three steps with constant gradient g, by the closed forms of torch.optim.SGD's rules."""
    g = 0.5
    for mu, lam in ((0.0, 0.0), (0.9, 0.0), (0.0, 0.1), (0.9, 0.1)):
        net = Network([1, 1], dtype="float64")
        net.W[2][:] = 1.0
        net.b[2][:] = 1.0
        opt = SGD(net, lr=0.1, momentum=mu, weight_decay=lam)
        theta, v = 1.0, None
        for _ in range(3):
            opt.step({2: np.full((1, 1), g)}, {2: np.full(1, g)})
            step_grad = g + lam * theta
            v = step_grad if v is None or mu == 0 else mu * v + step_grad
            theta -= 0.1 * v
        assert net.W[2][0, 0] == pytest.approx(theta, rel=1e-15), (mu, lam)
        assert net.b[2][0] == pytest.approx(theta, rel=1e-15), (mu, lam)


def test_sampling_schemes_cover_the_data_as_described():
    rng = np.random.default_rng(0)
    seq = [np.arange(10)[idx] for idx in minibatches(10, 4, "sequential", rng)]
    assert [list(b) for b in seq] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shuffled = np.concatenate(list(minibatches(10, 4, "shuffle", rng)))
    assert sorted(shuffled) == list(range(10)) and list(shuffled) != list(range(10))
    drawn = list(minibatches(10, 4, "replacement", rng))
    assert len(drawn) == 3 and all(len(b) == 4 for b in drawn)
    with pytest.raises(ValueError, match="unknown sampling"):
        list(minibatches(10, 4, "bogus", rng))


def test_sampling_with_replacement_draws_every_index_alike():
    """Over 2000 epochs of N = 10, m = 4 (24000 draws), each index comes up 2400 ± 5σ times (σ ≈ 46)."""
    rng = np.random.default_rng(0)
    drawn = np.concatenate([idx for _ in range(2000) for idx in minibatches(10, 4, "replacement", rng)])
    counts = np.bincount(drawn, minlength=10)
    assert len(counts) == 10 and np.abs(counts - 2400).max() <= 5 * 46, counts


def test_backward_leaves_its_input_alone():
    net = Network([4, 3, 2], dtype="float64")
    net.forward(np.random.default_rng(0).normal(size=(5, 4)))
    _, delta_L = net.cost(np.array([0, 1, 0, 1, 1]))
    before = delta_L.copy()
    net.backward(delta_L)
    np.testing.assert_array_equal(delta_L, before)


def test_empty_batch_is_refused():
    net = Network([2, 3])
    net.forward(np.ones((0, 2), dtype=np.float32))
    with pytest.raises(UsageError, match="the batch is empty"):
        net.cost(np.zeros(0, dtype=np.int64))


def test_directional_derivative_restores_the_parameters_exactly():
    net = Network([5, 4, 3], dtype="float64")
    before, arrays = {l: net.W[l].copy() for l in net.W}, dict(net.W)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 5)), np.array([0, 2, 1])
    directional_derivative(net, x, y, {l: rng.normal(size=net.W[l].shape) for l in net.W},
                           {l: rng.normal(size=net.b[l].shape) for l in net.b}, h=0.1)
    for l in net.W:
        np.testing.assert_array_equal(net.W[l], before[l], err_msg=f"W[{l}]")
        assert net.W[l] is arrays[l], f"W[{l}] must stay the Network's own array, not be rebound"
