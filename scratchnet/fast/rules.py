"""What every fused step shares (scratchnet.fast.fused on NumPy or CuPy, scratchnet.fast.fused_cpu in numpy's BLAS):
which model it computes (check_fusable), which batches it takes (refuse_batch), and how it reports the first
step whose C was NaN or infinite (diverged).
"""

import numpy as np

from scratchnet.errors import DivergenceError, UsageError
from scratchnet.optim import SGD


def check_fusable(net, opt):
    """Raise UsageError saying why, as one phrase, unless the fused step computes what net and opt do."""
    if net.loss != "cross-entropy":
        raise UsageError(f"the fused step needs the cross-entropy loss, not {net.loss}")
    if any(name != "relu" for l, name in net.activation.items() if l < net.L):
        raise UsageError("the fused step needs ReLU in every hidden layer")
    if net.dropout:
        raise UsageError("the fused step has no dropout")
    if type(opt) is not SGD or opt.momentum or opt.weight_decay:
        raise UsageError("the fused step needs plain SGD (no momentum, weight decay, Adam or AdamW)")


def refuse_batch(x, y, net, max_batch):
    """A UsageError for a batch a fused step was not built for: more than max_batch rows, or other dtypes.

    Shapes: x (m, n_1) in net's dtype, y (m,) int64."""
    if len(x) > max_batch:
        raise UsageError(f"this fused step was built for batches of at most {max_batch} rows, got {len(x)}: "
                         "build a new one")
    if y.dtype != np.int64 or x.dtype != net.dtype:
        raise UsageError(f"the fused step takes x in the network's {net.dtype} and int64 labels, "
                         f"got {x.dtype} and {y.dtype}")


def diverged(t):
    """The DivergenceError of a fused step whose step t (as opt.t numbers them) had a NaN or infinite C."""
    return DivergenceError("the loss became NaN or infinite; the fused step kept the parameters of the step before",
                           t)
