"""The second oracle, on request: torch autograd on the grader's own cases, compared with scratchnet's engine.

The grader never needs torch: its answers come from the engine. `--oracle torch` (and `grade(...,
oracle="torch")`) also runs torch_ref.autograd, imported here and only here, on every case, and says whether
both oracles agree to float64 precision before any student is judged against them.
"""

import importlib

from scratchnet.errors import UsageError
from scratchnet.grade.observe import rel_error

AGREEMENT = 1e-9  # the float64 tolerance of tests/helpers.py


def torch_agreement(references):
    """One line: the largest relative difference between the engine and torch autograd over all cases."""
    try:
        autograd = importlib.import_module("torch_ref.autograd")  # torch only on request: scratchnet never needs it
    except ImportError as e:
        raise UsageError(f"--oracle torch needs PyTorch ({e}): pip install -e '.[test]', or grade without it") from None
    worst = 0.0
    for ref in references:
        theirs = autograd.torch_gradients(ref.net, ref.x, ref.y)
        pairs = [(ref.C, theirs.loss)] + [(getattr(ref, k)[l], getattr(theirs, k)[l])
                                          for k in ("delta", "dW", "db") for l in ref.dW]
        worst = max(worst, *(rel_error(ours, torch) for ours, torch in pairs))
    verdict = "agree" if worst <= AGREEMENT else "DISAGREE"
    return (f"oracles: scratchnet's reference and torch autograd {verdict} on all {len(references)} cases "
            f"(largest relative difference {worst:.1e})"), worst <= AGREEMENT
