"""One training step, behind the small interface the loop drives: `step(x, y) -> C` and `check()`.

ReferenceStep is the step a student reads: network.py's forward, cost and backward, then optim.py's update.
The fused step is the same step on preallocated arrays: on the CPU scratchnet.fused_cpu.BlasStep, with the
update inside numpy's own BLAS calls (scratchnet.blas), or scratchnet.fused.FusedStep where that BLAS is not
found; on a GPU FusedStep, in one CUDA graph. All offer the same two methods, so the loop (scratchnet.loop)
never asks which one it drives. `wants_fused` and `make_step` choose, from --step, the device and the model.
"""

import math

import numpy as np

from scratchnet.blas import blas_line, cpu_blas
from scratchnet.console import info
from scratchnet.errors import DivergenceError, UsageError
from scratchnet.fused import FusedStep, fused_problem
from scratchnet.fused_cpu import BlasStep
from scratchnet.threads import BlasThreads


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
    """Whether the run trains with the fused step: --step fused, or --step auto where the model allows it.
    --step fused for a model the fused step cannot compute is refused here, before any work."""
    problem = fused_problem(net, opt)
    if cfg.step == "fused" and problem:
        raise UsageError(f"--step fused: {problem}; use --step reference")
    return cfg.step == "fused" or (cfg.step == "auto" and problem is None)


def fused_step(net, opt, max_batch, schedule=None):
    """The fused step for net and opt: on the CPU with numpy's OpenBLAS at hand a BlasStep, otherwise a FusedStep."""
    blas = cpu_blas() if isinstance(net.W[2], np.ndarray) else None
    if blas is not None:
        return BlasStep(net, opt, max_batch, blas, schedule)
    return FusedStep(net, opt, max_batch, schedule)


def make_step(cfg, net, opt, schedule, fused):
    """The step a run trains with: ReferenceStep, or (fused) the fused step, on a GPU captured as a CUDA graph
    that every full batch replays. Made after a resume has loaded net and opt: FusedStep copies them in."""
    if not fused:
        return ReferenceStep(net, opt, schedule)
    step = fused_step(net, opt, cfg.batch_size, schedule)
    if isinstance(step, BlasStep):
        if cfg.step == "auto":
            return step  # the default run on the CPU: its path is in --help and the README, not in every run's output
        threads = BlasThreads(cfg.threads).describe()
        how = f", the update inside numpy's BLAS calls (scratchnet.fused_cpu), on {threads}"
    elif step.xp is np:
        how = f" (scratchnet.fused, on np.matmul: {blas_line().split('(', 1)[1]}"
    else:
        try:
            step.capture()
            how = " (scratchnet.fused), in a CUDA graph"
        except Exception as e:  # a driver that refuses the capture still runs the kernels one by one
            how = f" (scratchnet.fused), kernel by kernel (the CUDA graph capture failed: {str(e).splitlines()[0]})"
    info(f"training step: fused{how}")
    return step
