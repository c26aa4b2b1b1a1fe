"""One training step, behind the small interface the loop drives: `step(x, y) -> C` and `sync()`.

ReferenceStep is the step a student reads: network.py's forward, cost and backward, then optim.py's update.
The fast paths (scratchnet/fast/) offer the same two methods, so the loop (scratchnet.loop) never asks which
step it drives; scratchnet.fast.choose picks one, from --step, the device and the model.
"""

import math

from scratchnet.errors import DivergenceError


class ReferenceStep:
    """The reference step: dropout masks, forward, C and δ^[L] (BP1), backward (BP2)–(BP4), the update.

    Args:
        net: the Network.   opt: its optimizer (scratchnet.optim), which owns α_t and the step count t.
    """

    def __init__(self, net, opt):
        self.net, self.opt = net, opt

    def step(self, x, y):
        """One gradient step on the batch (x, y); returns C. A NaN or infinite C raises DivergenceError before
        the update, so the parameters stay the last good ones."""
        net, opt = self.net, self.opt
        net.forward(x, net.draw_masks(len(x)))
        C, delta_L = net.cost(y)
        if not math.isfinite(C):
            where = net.first_non_finite() or "C itself"
            raise DivergenceError(f"the loss became {float(C)}, first non-finite value in {where}", opt.t + 1)
        dW, db = net.backward(delta_L)
        opt.step(dW, db)                             # θ ← θ − α_t g, with α_t = opt.alpha(), t the steps so far
        return C

    def sync(self):
        """Nothing to wait for: step() has already raised on a divergence, and net holds the parameters."""
