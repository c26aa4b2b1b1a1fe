"""When two computations of one quantity agree: the one relative error, and the one table of tolerances.

relative_error(a, b) = max|a − b| / max(max|a|, max|b|) over whole arrays (cs231n's rel_error): 0 when both
are 0, NaN (agreeing with nothing) when either holds NaN or ±∞. Every comparison in scratchnet, torch_ref and
the tests reads its tolerance from TOLERANCE, so that a bound is stated, and explained, once:

    autograd             scratchnet's gradients against torch autograd in the same dtype, as (rtol, atol) of
                         np.allclose. float32's 1e-4 / 1e-6 is a rule of thumb that holds for |x| ≤ 1 and
                         unsaturated units only (two summation orders of ≤ 64 terms differ by a few 1e-6
                         relative); scratchnet.checking.roundoff bounds float32 rounding exactly instead.
    central differences  relative_error of a gradient against central differences in float64 (a float32
                         gradient is compared with the float64 oracle).
    parity               torch_ref.compare: after training side by side, the largest relative parameter
                         difference of any W^[l], b^[l] (float32's per 938 steps, one epoch of the tutorial's
                         model, see torch_ref.compare) and the largest |C_s − C_t| of any step.
"""

import numpy as np

from scratchnet.backend import to_numpy

TOLERANCE = {
    "autograd": {"float64": {"rtol": 1e-9, "atol": 1e-12}, "float32": {"rtol": 1e-4, "atol": 1e-6}},
    "central differences": {"float64": 1e-6, "float32": 1e-4},
    "parity": {"float64": {"parameters": 1e-12, "loss": 1e-12}, "float32": {"parameters": 1e-4, "loss": 1e-5}},
}


def relative_error(a, b):
    """max |a − b| / max(max |a|, max |b|) over whole arrays, in float64; 0 when both are 0, NaN for NaN or ±∞."""
    a, b = np.asarray(to_numpy(a), dtype=np.float64), np.asarray(to_numpy(b), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN or ±∞ give NaN: never equal
        scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
        return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)
