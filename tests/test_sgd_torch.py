"""scratchnet's SGD against torch.optim.SGD: the same W^[l], b^[l] after the same steps, to 1e-12 in float64.

Plain SGD, momentum (several steps, so that v₁ = g₁ and v_t = μ v_{t−1} + g_t both matter), weight decay
(g = ∇C + λθ) and both together. Hypothesis draws the network, α and the gradients of each step, which
both optimizers receive identically; then a few steps of real training, each engine with its own
gradients, must stay together as well.

    python -m pytest tests/test_sgd_torch.py
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import SGD, Network
from torch_ref.bridge import to_torch

from conftest import network_cases
from helpers import assert_same_parameters, step_both

RULES = {"plain": (0.0, 0.0), "momentum": (0.9, 0.0), "weight decay": (0.0, 0.01), "both": (0.9, 0.01)}


@pytest.mark.parametrize("rule", RULES)
@given(case=network_cases(layers=(2, 4), max_width=8, dtypes=("float64",)),
       lr=st.floats(1e-3, 1.0), steps=st.integers(1, 5))
def test_steps_match_torch_sgd(xp, rule, case, lr, steps):
    momentum, weight_decay = RULES[rule]
    net, _, _ = case.build(xp)
    model = to_torch(net)
    opt = SGD(net, lr=lr, momentum=momentum, weight_decay=weight_decay)
    torch_opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    rng = np.random.default_rng(case.seed)
    for t in range(1, steps + 1):
        dW = {l: rng.normal(size=net.W[l].shape) for l in net.W}
        db = {l: rng.normal(size=net.b[l].shape) for l in net.b}
        step_both(opt, torch_opt, net, model, dW, db, xp)
        assert_same_parameters(net, model, f"after step {t} ({rule}, lr {lr})")


@pytest.mark.parametrize("rule", RULES)
def test_training_steps_match_torch(rule):
    """Five steps of training on one batch, each engine with its own forward, cost and gradients."""
    momentum, weight_decay = RULES[rule]
    net = Network([20, 16, 16, 5], activation="tanh", dtype="float64", seed=3)
    model = to_torch(net)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, (12, 20)), rng.integers(0, 5, 12)
    opt = SGD(net, lr=0.5, momentum=momentum, weight_decay=weight_decay)
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=momentum, weight_decay=weight_decay)
    for t in range(1, 6):
        net.forward(x)
        opt.step(*net.backward(net.cost(y)[1]))
        torch_opt.zero_grad()
        torch.nn.CrossEntropyLoss()(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        torch_opt.step()
        assert_same_parameters(net, model, f"after step {t} ({rule})")
