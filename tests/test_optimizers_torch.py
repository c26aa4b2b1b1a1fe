"""scratchnet's Nesterov SGD, Adam and AdamW against torch.optim's: the same W^[l], b^[l] after every one of 100 steps.

In float64: hypothesis draws the network, α, β₁, β₂, ε and λ; each step both optimizers
receive the same random gradients (of varying scale, some exactly zero, so that ε and the bias corrections
matter), and every few steps α changes, as a schedule changes it (`opt.lr` on scratchnet's side, the param
group's "lr" on torch's). After step t the parameters agree to rtol 1e-12 and atol 8 t ε₆₄ max|θ| (max|θ| the largest
weight so far): each step rounds every θ by ε₆₄ of the largest value it adds, and two engines' roundings add
up over t steps, so a weight that large steps have brought back near 0 carries their absolute error, not its
own relative one (SGD with Nesterov momentum, steps of 1e4: 7e-10 relative seen, 1.3 t ε max|θ| at most over
180 drawn runs). Then 100 steps of real training on one batch, each engine with its own forward
pass through the same dropout masks, its own gradients and its own optimizer, must stay together as well.
Plain and momentum SGD are in tests/test_sgd_torch.py.

    python -m pytest tests/test_optimizers_torch.py
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import Network
from scratchnet.optim import SGD, Adam, AdamW
from torch_ref.bridge import to_torch

from conftest import network_cases
from helpers import assert_close, assert_same_parameters, step_both

STEPS = 100
STEP_ULPS = 8  # the tolerance after step t: t · STEP_ULPS ε₆₄ times the largest |θ| so far (the docstring says why)
EXAMPLES = max(5, settings.default.max_examples // 10)  # 100 steps each: dev 5, ci 20, thorough 200 networks
RULES = {  # name: (scratchnet's optimizer, torch's)
    "nesterov": (SGD, torch.optim.SGD),
    "adam": (Adam, torch.optim.Adam),
    "adamw": (AdamW, torch.optim.AdamW),
}


def make_optimizers(rule, net, model, lr, hyper):
    """scratchnet's and torch's optimizer of `rule` on net and its torch copy, with the same α and settings."""
    ours, theirs = RULES[rule]
    if rule == "nesterov":
        settings_ = {"momentum": hyper["momentum"], "weight_decay": hyper["weight_decay"], "nesterov": True}
    else:
        settings_ = {"betas": hyper["betas"], "eps": hyper["eps"], "weight_decay": hyper["weight_decay"]}
    return ours(net, lr=lr, **settings_), theirs(model.parameters(), lr=lr, **settings_)


hypers = st.fixed_dictionaries({
    "momentum": st.floats(0.1, 0.99),
    # β₂ ≥ 0.5: with β₂ near 0, v_t ≈ g_t² forgets at once, and a tiny g_t after large ones divides m_t (which torch
    # computes by lerp, m + (1 − β₁)(g − m), one rounding apart from ours) by |g_t| ≈ 0: θ runs off to 1e4 and the
    # engines part at 3e-12 relative, rounding amplified, not a different rule.
    "betas": st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999)),
    "eps": st.sampled_from([1e-8, 1e-6, 1e-3, 1e-300]),  # not 0: a zero gradient would step by 0/0
    "weight_decay": st.sampled_from([0.0, 1e-4, 1e-2, 0.1]),
})


@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=EXAMPLES)
@given(case=network_cases(layers=(2, 4), max_width=8, dtypes=("float64",)), lr=st.floats(1e-4, 0.1),
       hyper=hypers)
def test_100_steps_match_torch_optim(xp, rule, case, lr, hyper):
    net, _, _ = case.build(xp)
    model = to_torch(net)
    opt, torch_opt = make_optimizers(rule, net, model, lr, hyper)
    rng = np.random.default_rng(case.seed)
    largest = 0.0
    for t in range(1, STEPS + 1):
        if t % 10 == 0:  # a schedule's change of α between steps
            opt.lr = torch_opt.param_groups[0]["lr"] = lr * rng.uniform(0.1, 2)
        scale = rng.choice([0.0, 1e-6, 1.0, 100.0])
        dW = {l: scale * rng.normal(size=net.W[l].shape) for l in net.W}
        db = {l: scale * rng.normal(size=net.b[l].shape) for l in net.b}
        step_both(opt, torch_opt, net, model, dW, db, xp)
        largest = max(largest, *(float(p.detach().abs().max()) for p in model.parameters()))
        atol = max(1e-14, t * STEP_ULPS * np.finfo(np.float64).eps * largest)
        assert_same_parameters(net, model, f"after step {t} ({rule}, α {opt.lr}, {hyper})", atol=atol)
    assert opt.t == STEPS


@pytest.mark.parametrize("rule", RULES)
def test_training_with_dropout_matches_torch_for_100_steps(rule):
    """Each engine its own forward (same masks), cost, backward and optimizer, on one batch, for 100 steps."""
    net = Network([20, 16, 16, 5], activation="relu", dtype="float64", seed=3, dropout=0.3)
    model = to_torch(net)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, (12, 20)), rng.integers(0, 5, 12)
    hyper = {"momentum": 0.9, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}
    opt, torch_opt = make_optimizers(rule, net, model, 0.01, hyper)
    for t in range(1, STEPS + 1):
        r = net.draw_masks(len(x))
        net.forward(x, r)
        opt.step(*net.backward(net.cost(y)[1]))
        torch_opt.zero_grad()
        r_t = {l: torch.from_numpy(r_l) for l, r_l in r.items()}
        torch.nn.CrossEntropyLoss()(model(torch.from_numpy(x), r_t), torch.from_numpy(y)).backward()
        torch_opt.step()
        assert_same_parameters(net, model, f"after step {t} ({rule})")


def test_state_is_keyed_by_layer_and_shares_no_memory():
    """m^[l], v^[l] for l = 2..L, each the shape of its parameter, none of them a gradient or a parameter."""
    net = Network([6, 5, 4, 3], dtype="float64", seed=0)
    opt = AdamW(net, lr=0.1, weight_decay=0.1)
    rng = np.random.default_rng(0)
    dW = {l: rng.normal(size=net.W[l].shape) for l in net.W}
    db = {l: rng.normal(size=net.b[l].shape) for l in net.b}
    before = {l: (dW[l].copy(), db[l].copy()) for l in dW}
    opt.step(dW, db)
    opt.step(dW, db)
    for name, buffer in opt.buffers().items():
        assert sorted(buffer) == [2, 3, 4], name
        for l in buffer:
            theta, grad = (net.W[l], dW[l]) if name.endswith("W") else (net.b[l], db[l])
            assert buffer[l].shape == theta.shape, f"{name}[{l}]"
            assert not np.shares_memory(buffer[l], grad) and not np.shares_memory(buffer[l], theta), f"{name}[{l}]"
    for l, (dW0, db0) in before.items():
        np.testing.assert_array_equal(dW[l], dW0, err_msg=f"the step modified dW[{l}]")
        np.testing.assert_array_equal(db[l], db0, err_msg=f"the step modified db[{l}]")


def test_adam_first_step_is_alpha_times_the_sign():
    """At t = 1, m̂ = g and v̂ = g², so as ε → 0 the step is α·sign(g), whatever the scale of g (ε itself must
    be > 0: 1e-300 moves nothing at rtol 1e-12)."""
    net = Network([3, 2], dtype="float64", seed=0)
    W0 = net.W[2].copy()
    g = np.array([[1e-3, -5.0, 2.0], [-1e-7, 3.0, -8.0]])
    Adam(net, lr=0.01, eps=1e-300).step({2: g}, {2: np.ones(2)})
    assert_close(net.W[2], W0 - 0.01 * np.sign(g), "W[2] after Adam's first step", rtol=1e-12)


def test_adamw_decay_is_decoupled_and_adam_decay_is_not():
    """With a zero gradient, AdamW still shrinks θ by (1 − αλ); Adam's λθ enters g and gets normalized."""
    for cls, eps in ((Adam, 1e-300), (AdamW, 1e-8)):  # AdamW's m_1 = v_1 = 0: ε > 0 makes the step 0/ε = 0
        net = Network([3, 2], dtype="float64", seed=0)
        W0 = net.W[2].copy()
        cls(net, lr=0.1, weight_decay=0.5, eps=eps).step({2: np.zeros((2, 3))}, {2: np.zeros(2)})
        if cls is AdamW:
            assert_close(net.W[2], 0.95 * W0, "AdamW: W ← (1 − αλ) W", rtol=1e-15)
        else:
            assert_close(net.W[2], W0 - 0.1 * np.sign(W0), "Adam: the step along sign(λW)", rtol=1e-15)
