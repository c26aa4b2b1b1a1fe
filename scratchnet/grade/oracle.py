"""A second oracle, when one is passed in: its answers on the grader's own cases, compared with the engine's.

The grader never needs torch: its answers come from scratchnet's reference engine. `python -m torch_ref.grade`
(and `grade(..., oracle=torch_ref.autograd.torch_gradients)`) passes torch autograd in, as an oracle of
scratchnet.checking.oracle's interface, oracle(net, x, y) -> Gradients; it runs on every case, and the report says
whether both oracles agree to float64 precision before any student is judged against them.
"""

from scratchnet.checking.agreement import relative_error

AGREEMENT = 1e-9  # the float64 tolerance of tests/helpers.py


def oracle_agreement(references, oracle):
    """One line and a bool: the largest relative difference between the engine and `oracle` over all cases."""
    worst = 0.0
    for ref in references:
        theirs = oracle(ref.net, ref.x, ref.y)
        pairs = [(ref.C, theirs.C)] + [(getattr(ref, k)[l], getattr(theirs, k)[l])
                                          for k in ("delta", "dW", "db") for l in ref.dW]
        worst = max(worst, *(relative_error(ours, other) for ours, other in pairs))
    verdict = "agree" if worst <= AGREEMENT else "DISAGREE"
    return (f"oracles: scratchnet's reference and {getattr(oracle, '__module__', 'the oracle')} {verdict} on all "
            f"{len(references)} cases (largest relative difference {worst:.1e})"), worst <= AGREEMENT
