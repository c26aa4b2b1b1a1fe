"""scratchnet.schedules against torch.optim.lr_scheduler: the whole sequence α_0 … α_{T−1} of a run, to 1e-12.

For each schedule, torch's scheduler (StepLR, CosineAnnealingLR, OneCycleLR, with torch's defaults for all
that scratchnet does not set) drives a torch optimizer for T steps, `scheduler.step()` after each, and the α
in its param group before every step must equal `schedule.lr_at(t)`; hypothesis draws α, T and the step
schedule's s and γ. The recipe's own run (20 epochs of 469 steps) is checked whole. learning_rate must turn
the flags into those schedules (--lr-step-epochs counts epochs), the optimizer must read α_t from its schedule
at step t, and a run under a schedule must use α_t at step t, resumed or not.

    python -m pytest tests/test_schedules.py
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.run.build import learning_rate
from scratchnet.run.config import BEST, TrainConfig
from scratchnet.schedules import Cosine, OneCycle, StepDecay

RTOL = 1e-12


def torch_lrs(make_scheduler, lr, T, optimizer="sgd"):
    """α before each of T steps of a torch optimizer on one parameter, its scheduler stepped after each."""
    theta = torch.zeros(1, requires_grad=True)
    if optimizer == "sgd":
        opt = torch.optim.SGD([theta], lr=lr, momentum=0.9)
    else:
        opt = torch.optim.AdamW([theta], lr=lr)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(T):
        lrs.append(opt.param_groups[0]["lr"])
        theta.grad = torch.ones(1)
        opt.step()
        scheduler.step()
    return np.array(lrs)


def assert_same_lrs(schedule, expected, name):
    ours = np.array([schedule.lr_at(t) for t in range(len(expected))])
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=1e-300, err_msg=name)  # atol: α decayed to subnormal


lrs = st.floats(1e-5, 1.0)


@given(lr=lrs, T=st.integers(1, 400), s=st.integers(1, 500), gamma=st.floats(0.01, 1.0))
def test_step_decay_is_steplr(lr, T, s, gamma):
    expected = torch_lrs(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=s, gamma=gamma), lr, T)
    assert_same_lrs(StepDecay(lr, step_size=s, gamma=gamma), expected, f"StepLR α={lr} s={s} γ={gamma}")


@given(lr=lrs, T=st.integers(1, 400))
def test_cosine_is_cosine_annealing_lr(lr, T):
    expected = torch_lrs(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T), lr, T)
    assert_same_lrs(Cosine(lr, T), expected, f"CosineAnnealingLR α={lr} T={T}")


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
@given(lr=lrs, T=st.integers(1, 400))
def test_onecycle_is_onecycle_lr_with_torchs_defaults(optimizer, lr, T):
    """torch's defaults, cycle_momentum=True included: cycling μ (or β₁) changes no α."""
    expected = torch_lrs(lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=T), lr, T,
                         optimizer)
    assert_same_lrs(OneCycle(lr, T), expected, f"OneCycleLR α_max={lr} T={T}")


@pytest.mark.parametrize("schedule", ["step", "cosine", "onecycle"])
def test_the_recipes_whole_run(schedule):
    """20 epochs of 469 steps (batch 128), the run of --recipe best, under each schedule."""
    cfg = TrainConfig(**{**BEST.__dict__, "schedule": schedule, "lr_step_epochs": 5})
    batches_per_epoch, T = 469, cfg.epochs * 469
    makers = {
        "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=5 * batches_per_epoch, gamma=0.1),
        "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T),
        "onecycle": lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=T,
                                                                    cycle_momentum=False),
    }
    expected = torch_lrs(makers[schedule], cfg.lr, T, "adamw")
    assert_same_lrs(learning_rate(cfg, batches_per_epoch), expected, f"{schedule} over {T} steps")


def test_shapes_of_the_schedules():
    """The landmarks that the docs name: where each schedule starts, peaks and ends."""
    one = OneCycle(0.01, 1000)
    assert one.lr_at(0) == pytest.approx(0.01 / 25, rel=1e-15)
    assert max(one.lr_at(t) for t in range(1000)) == pytest.approx(0.01, rel=1e-15)
    assert one.lr_at(299) == pytest.approx(0.01, rel=1e-15)  # the peak at t = 0.3 T − 1
    assert one.lr_at(999) == pytest.approx(0.01 / 25 / 1e4, rel=1e-12)
    cosine = Cosine(0.1, 100)
    assert cosine.lr_at(0) == 0.1 and cosine.lr_at(50) == pytest.approx(0.05) and cosine.lr_at(100) < 1e-17
    assert [StepDecay(1.0, 3, 0.5).lr_at(t) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_learning_rate_follows_the_flags():
    cfg = TrainConfig(lr=0.2, epochs=4)
    assert learning_rate(cfg, 10) == 0.2
    step = learning_rate(TrainConfig(lr=0.2, schedule="step", lr_step_epochs=2, lr_gamma=0.5), 10)
    assert (step.step_size, step.gamma, step.lr_at(19), step.lr_at(20)) == (20, 0.5, 0.2, 0.1)
    assert learning_rate(TrainConfig(lr=0.2, epochs=4, schedule="cosine"), 10).T == 40
    assert learning_rate(TrainConfig(lr=0.2, epochs=4, schedule="onecycle"), 10).T == 40


def test_the_optimizer_owns_alpha_t_and_counts_each_step_once():
    """A schedule given as lr: alpha() is α_t for t = the steps taken; count_step() returns it and counts."""
    from scratchnet import SGD, Network

    net = Network([3, 2])
    opt, schedule = SGD(net, lr=Cosine(0.3, 6)), Cosine(0.3, 6)
    seen = [(opt.t, opt.alpha(), opt.count_step()) for _ in range(4)]
    assert seen == [(t, schedule.lr_at(t), schedule.lr_at(t)) for t in range(4)] and opt.t == 4
    assert SGD(net, lr=0.5).alpha() == 0.5 and opt.lr_at(5) == schedule.lr_at(5)


def test_a_run_steps_with_alpha_t(mnist_dir, monkeypatch):
    """scratchnet.train's optimizer reads α_t at step t, counting steps across epochs."""
    import scratchnet.train as train
    from scratchnet.optim import Adam

    seen = []
    real_step = Adam.step

    def record(opt, dW, db):
        seen.append((opt.t, opt.alpha()))
        return real_step(opt, dW, db)

    monkeypatch.setattr(Adam, "step", record)
    cfg = TrainConfig(data_dir=mnist_dir, train_size=640, test_size=100, hidden=(16,), epochs=3, lr=0.01,
                      schedule="onecycle", optimizer="adam")
    train.main(cfg)
    schedule = OneCycle(0.01, 30)
    assert seen == [(t, schedule.lr_at(t)) for t in range(30)]
