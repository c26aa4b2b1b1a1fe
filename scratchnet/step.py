"""One training step, behind the small interface the loop drives: `step(x, y) -> C` and `check()`.

ReferenceStep is the step a student reads: network.py's forward, cost and backward, then optim.py's update.
scratchnet.fused.FusedStep is the same step on preallocated arrays (and, on a GPU, in one CUDA graph); both
offer the same two methods, so the loop (scratchnet.loop) never asks which one it drives. `wants_fused`
and `make_step` choose between them, from --step, the device and the model.
"""

import math

import numpy as np

from scratchnet.console import info
from scratchnet.errors import DivergenceError, UsageError
from scratchnet.fused import FusedStep, fused_problem


class ReferenceStep:
    """The reference step: dropout masks, forward, C and δ^[L] (BP1), backward (BP2)–(BP4), the update.

    Args:
        net: the Network.   opt: its optimizer (scratchnet.optim).   schedule: α_t (scratchnet.schedules) or None.
    """

    def __init__(self, net, opt, schedule=None):
        self.net, self.opt, self.schedule = net, opt, schedule

    def step(self, x, y):
        """One gradient step on the batch (x, y); returns C. A NaN or infinite C raises DivergenceError before
        the update, so the parameters stay the last good ones."""
        net, opt = self.net, self.opt
        if self.schedule is not None:
            opt.lr = self.schedule.lr_at(opt.t)      # α_t, t = the steps taken so far
        net.forward(x, net.draw_masks(len(x)))
        C, delta_L = net.cost(y)
        if not math.isfinite(C):
            where = net.first_non_finite() or "C itself"
            raise DivergenceError(f"the loss became {float(C)}, first non-finite value in {where}", opt.t + 1)
        dW, db = net.backward(delta_L)
        opt.step(dW, db)
        return C

    def check(self):
        """Nothing to wait for: step() has already raised on a divergence, and net holds the parameters."""


def wants_fused(cfg, net, opt, xp):
    """Whether the run trains with FusedStep: --step fused, or --step auto on a GPU where the model allows it.
    --step fused for a model the fused step cannot compute is refused here, before any work."""
    problem = fused_problem(net, opt)
    if cfg.step == "fused" and problem:
        raise UsageError(f"--step fused: {problem}; use --step reference")
    return cfg.step == "fused" or (cfg.step == "auto" and xp is not np and problem is None)


def make_step(cfg, net, opt, schedule, fused):
    """The step a run trains with: ReferenceStep, or (fused) a FusedStep, on a GPU captured as a CUDA graph that
    every full batch replays. Made after a resume has loaded net and opt: FusedStep copies them in."""
    if not fused:
        return ReferenceStep(net, opt, schedule)
    step = FusedStep(net, opt, cfg.batch_size, schedule)
    how = ""
    if step.xp is not np:
        try:
            step.capture()
            how = ", in a CUDA graph"
        except Exception as e:  # a driver that refuses the capture still runs the kernels one by one
            how = f", kernel by kernel (the CUDA graph capture failed: {str(e).splitlines()[0]})"
    info(f"training step: fused (scratchnet.fused){how}")
    return step
