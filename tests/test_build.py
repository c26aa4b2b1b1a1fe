"""scratchnet.run.build: one TrainConfig becomes one Run (device, network, optimizer with its α_t, where the run
stands, step), the same object scratchnet.train, explain --html, torch_ref.compare and the benchmarks train.

    python -m pytest tests/test_build.py
"""

import numpy as np
import pytest

from scratchnet.errors import UsageError
from scratchnet.fast.fused import FusedStep
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.loop import RunState
from scratchnet.optim import AdamW
from scratchnet.run.build import build
from scratchnet.run.config import TrainConfig
from scratchnet.schedules import Cosine, OneCycle
from scratchnet.step import ReferenceStep

SMALL = TrainConfig(hidden=(8,), train_size=640, epochs=2)  # 10 batches of 64 an epoch


def test_the_run_holds_one_network_one_optimizer_and_its_schedule():
    run = build(TrainConfig(**{**SMALL.__dict__, "schedule": "cosine", "step": "reference"}))
    assert run.xp is np and run.net.sizes == [784, 8, 10] and run.opt.net is run.net
    assert isinstance(run.step, ReferenceStep) and run.step.net is run.net and run.step.opt is run.opt
    assert isinstance(run.opt.lr, Cosine) and run.opt.lr.T == 20 and run.opt.alpha() == SMALL.lr
    assert run.state == RunState(sampler_state=np.random.default_rng(SMALL.seed).bit_generator.state)


def test_auto_picks_the_fused_step_where_the_model_allows_and_fused_refuses_where_not():
    assert isinstance(build(SMALL).step, FusedStep | BlasStep)
    adamw = TrainConfig(**{**SMALL.__dict__, "optimizer": "adamw", "schedule": "onecycle"})
    run = build(adamw)
    assert isinstance(run.step, ReferenceStep) and isinstance(run.opt, AdamW) and isinstance(run.opt.lr, OneCycle)
    with pytest.raises(UsageError, match=r"^--step fused: the fused step needs plain SGD .*; use --step reference$"):
        build(TrainConfig(**{**adamw.__dict__, "step": "fused"}))


def test_the_samples_given_set_the_schedules_length():
    cfg = TrainConfig(**{**SMALL.__dict__, "schedule": "onecycle", "step": "reference"})
    assert build(cfg).opt.lr.T == 20 and build(cfg, N=2560).opt.lr.T == 2 * 40
