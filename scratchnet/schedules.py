"""Learning-rate schedules: the α_t of step t = 0, 1, …, T − 1 (t counts the optimizer steps taken), closed form.

Each gives the values that torch.optim.lr_scheduler's scheduler of the same name sets when `scheduler.step()`
is called after every optimizer step (tests/test_schedules.py compares whole runs to 1e-12):

    StepDecay(α₀, s, γ)          α_t = α₀ γ^⌊t/s⌋                                   StepLR(step_size=s, gamma=γ)
    Cosine(α₀, T, α_min)         α_t = α_min + (α₀ − α_min)(1 + cos(π t/T))/2       CosineAnnealingLR(T_max=T)
    OneCycle(α_max, T)           up from α_max/25 to α_max over the first 30% of the T steps, then down to
                                 α_max/(25·10⁴), each half a cosine                 OneCycleLR(max_lr, total_steps=T)

torch computes StepLR and CosineAnnealingLR recursively (α_t from α_{t−1}); the closed forms here are the
same numbers up to rounding. A schedule is given to the optimizer as its learning rate (optax's
schedule-as-learning-rate), which reads α_t = schedule.lr_at(opt.t) at each step (scratchnet.optim's
Optimizer.count_step); with `--schedule none` the learning rate is the number α itself.
A schedule keeps no state: the optimizer's step count t, which checkpoints keep, is all it needs to resume.
"""

import math


class StepDecay:
    """α_t = α₀ γ^⌊t/s⌋: α₀, multiplied by γ every s steps (torch's StepLR, stepped once per optimizer step)."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr, self.step_size, self.gamma = lr, step_size, gamma

    def lr_at(self, t):
        return self.lr * self.gamma ** (t // self.step_size)    # α₀ γ^⌊t/s⌋


class Cosine:
    """α_t = α_min + (α₀ − α_min)(1 + cos(π t/T))/2: half a cosine from α₀ at t = 0 down to α_min at t = T."""

    def __init__(self, lr, T, lr_min=0.0):
        self.lr, self.T, self.lr_min = lr, T, lr_min

    def lr_at(self, t):
        return self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * t / self.T)) / 2


def cosine_between(start, end, fraction):
    """From `start` at fraction 0 to `end` at fraction 1 along half a cosine: end + (start − end)(1 + cos πf)/2."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


class OneCycle:
    """Smith's one-cycle policy with torch's OneCycleLR defaults, over T steps:

        α_0 = α_max / 25 (div_factor)  ↗  α_max at t = 0.3 T − 1 (pct_start)  ↘  α_max / (25 · 10⁴) at t = T − 1

    both legs by cosine_between. torch's OneCycleLR also cycles SGD's momentum (Adam's β₁) between 0.95 and
    0.85 by default; this schedule sets α only, and torch_ref passes cycle_momentum=False to match.
    """

    def __init__(self, lr_max, T, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        self.T = T
        self.lr_max = lr_max
        self.lr_initial = lr_max / div_factor
        self.lr_final = self.lr_initial / final_div_factor
        self.peak = float(pct_start * T) - 1    # the step at which α_t = α_max

    def lr_at(self, t):
        if t <= self.peak:                      # warm-up: α_max/25 → α_max
            return cosine_between(self.lr_initial, self.lr_max, t / self.peak)
        return cosine_between(self.lr_max, self.lr_final, (t - self.peak) / (self.T - 1 - self.peak))


SCHEDULES = ("none", "step", "cosine", "onecycle")
