"""The catalogue of classic backprop mistakes, each a one-string edit of the hand-out's solution, per layout.

A mutant is the solution with one mistake planted. The grader runs the mutants of a failing function on the
same calls as the student's code and names every mistake whose output equals the student's at the first
wrong quantity, on every case (where both raise, the same exception counts as equal). The first fourteen are
the bugs that tests/test_suite_catches_bugs.py plants in the engine (`planted` names them); the rest are the
other mistakes students make: the sign of δ flipped, the 1/m twice, σ′ of the wrong layer, the transpose on
the wrong operand, the biases summed over the wrong axis, the update with + instead of −, α hard-coded, and more.

Each edit must apply exactly once to its layout's solution text (a test checks all of them): an edit of the
hand-out that breaks one fails loudly instead of silently dropping a mistake from the catalogue.
"""

import functools
from dataclasses import dataclass

from scratchnet.grade.execute import run_call
from scratchnet.grade.handout import LAYOUTS, solution_source

BATCH = ("rows", "columns")


@dataclass(frozen=True)
class Mistake:
    """name: what the student did; function and equation: where it shows; edits: {layout: ((old, new), …)}."""

    name: str
    function: str
    equation: str
    edits: dict
    hint: str
    planted: str = ""  # the bug of the same name in tests/test_suite_catches_bugs.py


def same(edit, layouts=LAYOUTS):
    """One edit, identical in the given layouts' texts."""
    return {layout: (edit,) for layout in layouts}


CATALOGUE = (
    # forward
    Mistake("W not transposed (forward)", "forward", "forward",
            {"rows": (("a[l - 1] @ W[l].T", "a[l - 1] @ W[l]"),),
             **same(("W[l] @ a[l - 1]", "W[l].T @ a[l - 1]"), ("columns", "per-sample"))},
            "W^[l] is (n_l, n_{l-1}); in this layout z^[l] needs it as written in the hand-out's shapes",
            planted="W not transposed (forward)"),
    Mistake("b not added (forward)", "forward", "forward",
            {"rows": (("@ W[l].T + b[l]", "@ W[l].T"),), **same(("@ a[l - 1] + b[l]", "@ a[l - 1]"),
                                                                ("columns", "per-sample"))},
            "z^[l] = W^[l] a^[l-1] + b^[l]: the bias is part of the weighted input"),
    Mistake("σ not applied (forward)", "forward", "forward", same(("a[l] = sigma[l](z[l])", "a[l] = z[l]")),
            "a^[l] = σ(z^[l]): apply the layer's activation sigma[l] to z^[l]"),
    # (BP1), cross-entropy
    Mistake("missing 1/m (BP1, cross-entropy)", "cross_entropy", "BP1",
            {"rows": (("delta_L = p / m", "delta_L = p"),), "columns": (("p_minus_y / m", "p_minus_y"),)},
            "C is the mean over the m samples, so δ^[L] = (p − y)/m carries its 1/m",
            planted="missing 1/m (BP1, cross-entropy)"),
    Mistake("sign of onehot flipped (BP1)", "cross_entropy", "BP1",
            {"rows": (("p[rows, y] = -p.sum(axis=1)", "p[rows, y] = 2 - p.sum(axis=1)"),),
             **same(("-(p * (1 - y)).sum(", "2 - (p * (1 - y)).sum("), ("columns", "per-sample"))},
            "δ^[L] = p − onehot(y): the target is subtracted from the softmax",
            planted="sign of onehot flipped (BP1)"),
    Mistake("sign of δ^[L] flipped (BP1, cross-entropy)", "cross_entropy", "BP1",
            {"rows": (("delta_L = p / m", "delta_L = -p / m"),), **same(("delta_L = p_minus_y", "delta_L = -p_minus_y"),
                                                                  ("columns", "per-sample"))},
            "δ^[L] = ∂C/∂z^[L] = p − y, not y − p: the gradient points uphill"),
    Mistake("1/m applied twice (BP1, cross-entropy)", "cross_entropy", "BP1",
            {"rows": (("delta_L = p / m", "delta_L = p / m / m"),),
             "columns": (("p_minus_y / m", "p_minus_y / m / m"),)},
            "the mean over the batch contributes one factor 1/m, once"),
    Mistake("C summed, not averaged (cost)", "cross_entropy", "cost",
            {"rows": (("-log_p[rows, y].mean()", "-log_p[rows, y].sum()"),),
             "columns": (("-(y * log_p).sum() / m", "-(y * log_p).sum()"),)},
            "C is the mean of the samples' costs: divide the sum by m"),
    # (BP1), quadratic
    Mistake("σ′ dropped at the output (BP1, quadratic)", "quadratic", "BP1",
            same(("sigma_prime(z_L) * error", "error")),
            "a^[L] = σ(z^[L]), so the chain rule gives δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)",
            planted="σ′ dropped at the output (BP1, quadratic)"),
    Mistake("σ′ taken at a^[L] instead of z^[L] (BP1, quadratic)", "quadratic", "BP1",
            same(("sigma_prime(z_L)", "sigma_prime(a_L)")),
            "σ′ is the derivative at the weighted input z^[L]; σ′(a^[L]) evaluates it at σ(z^[L])"),
    Mistake("missing 1/m (BP1, quadratic)", "quadratic", "BP1", same(("* error / m", "* error"), BATCH),
            "C is the mean over the m samples, so δ^[L] carries a factor 1/m",
            planted="missing 1/m (BP1, quadratic)"),
    Mistake("sign of δ^[L] flipped (BP1, quadratic)", "quadratic", "BP1",
            same(("-np.exp(-np.logaddexp(0, z_L)), a_L)", "np.exp(-np.logaddexp(0, z_L)), -a_L)")),
            "∂C/∂a^[L] = a^[L] − y, not y − a^[L]"),
    # (BP2)
    Mistake("σ′ dropped (BP2)", "backward", "BP2", same(("sigma_prime[l - 1](z[l - 1]) * ", "")),
            "δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ δ^[l]: the factor σ′(z^[l-1]) is missing",
            planted="σ′ dropped (BP2)"),
    Mistake("σ′ taken at a^[l] instead of z^[l] (BP2)", "backward", "BP2",
            same(("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])")),
            "σ′ is evaluated at the weighted input z^[l-1], not at a^[l-1] = σ(z^[l-1])",
            planted="σ′ taken at a^[l] instead of z^[l] (BP2)"),
    Mistake("σ′ of the wrong layer (BP2)", "backward", "BP2",
            same(("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l](z[l])")),
            "δ^[l-1] needs σ′ of layer l−1, at z^[l-1]"),
    Mistake("W not transposed (BP2)", "backward", "BP2",
            {"rows": (("(delta[l] @ W[l])", "(delta[l] @ W[l].T)"),),
             **same(("(W[l].T @ delta[l])", "(W[l] @ delta[l])"), ("columns", "per-sample"))},
            "the error flows back through (W^[l])ᵀ; a square W^[l] hides the missing transpose from the shapes",
            planted="W not transposed (BP2)"),
    Mistake("δ from the wrong layer (BP2 restarts from δ^[L])", "backward", "BP2",
            {"rows": (("(delta[l] @ W[l])", "(delta_L @ W[l])"),),
             **same(("(W[l].T @ delta[l])", "(W[l].T @ delta_L)"), ("columns", "per-sample"))},
            "δ^[l-1] is computed from δ^[l], the layer above, not from δ^[L]",
            planted="δ from the wrong layer (BP2 restarts from δ^[L])"),
    Mistake("δ kept under the wrong layer", "backward", "BP2",
            same(("delta[l - 1] = sigma_prime", "delta[l] = delta[l - 1] = sigma_prime")),
            "store δ^[l-1] under key l − 1; δ^[l] must stay what it was", planted="δ kept under the wrong layer"),
    # (BP4)
    Mistake("dW transposed (BP4)", "backward", "BP4",
            {"rows": (("delta[l].T @ a[l - 1]", "a[l - 1].T @ delta[l]"),),
             **same(("delta[l] @ a[l - 1].T", "a[l - 1] @ delta[l].T"), ("columns", "per-sample"))},
            "∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ has W^[l]'s shape (n_l, n_{l-1})", planted="dW transposed (BP4)"),
    Mistake("a from the wrong layer (BP4)", "backward", "BP4",
            {"rows": (("delta[l].T @ a[l - 1]", "delta[l].T @ a[l]"),),
             **same(("delta[l] @ a[l - 1].T", "delta[l] @ a[l].T"), ("columns", "per-sample"))},
            "∂C/∂W^[l] pairs δ^[l] with the layer below's activation a^[l-1]", planted="a from the wrong layer (BP4)"),
    Mistake("the transpose on the wrong operand (BP4)", "backward", "BP4",
            {"rows": (("delta[l].T @ a[l - 1]", "delta[l] @ a[l - 1].T"),),
             **same(("delta[l] @ a[l - 1].T", "delta[l].T @ a[l - 1]"), ("columns", "per-sample"))},
            "δ^[l] (a^[l-1])ᵀ sums over the samples: the product must contract the batch axis"),
    Mistake("a second 1/m in dW (BP4)", "backward", "BP4",
            {"rows": (("dW[l] = delta[l].T @ a[l - 1]", "dW[l] = delta[l].T @ a[l - 1] / len(a[1])"),),
             "columns": (("dW[l] = delta[l] @ a[l - 1].T", "dW[l] = delta[l] @ a[l - 1].T / a[1].shape[1]"),)},
            "the 1/m of the mean is already in δ^[L]; ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ adds none"),
    # (BP3)
    Mistake("bias gradient from the first sample only (BP3)", "backward", "BP3",
            {"rows": (("delta[l].sum(axis=0)", "delta[l][0]"),),
             "columns": (("delta[l].sum(axis=1, keepdims=True)", "delta[l][:, :1]"),)},
            "∂C/∂b^[l] sums δ^[l] over all m samples of the batch",
            planted="bias gradient from the first sample only (BP3)"),
    Mistake("bias gradient averaged, a second 1/m (BP3)", "backward", "BP3",
            {"rows": ((".sum(axis=0)", ".mean(axis=0)"),),
             "columns": (("sum(axis=1, keepdims=True)", "mean(axis=1, keepdims=True)"),)},
            "the 1/m of the mean is already in δ^[L]: sum δ^[l] over the batch, do not average it",
            planted="bias gradient averaged, a second 1/m (BP3)"),
    Mistake("biases summed over the wrong axis (BP3)", "backward", "BP3",
            {"rows": ((".sum(axis=0)", ".sum(axis=1)"),),
             "columns": (("sum(axis=1, keepdims=True)", "sum(axis=0, keepdims=True)"),),
             "per-sample": (("db[l] = delta[l]  ", "db[l] = delta[l].sum(axis=0)  "),)},
            "sum over the samples (the batch axis), keeping one entry per unit of layer l"),
    Mistake("bias gradient not summed over the batch (BP3)", "backward", "BP3",
            {"rows": (("delta[l].sum(axis=0)", "delta[l]"),),
             "columns": (("delta[l].sum(axis=1, keepdims=True)", "delta[l]"),)},
            "∂C/∂b^[l] = Σᵢ δ^[l]ᵢ has b^[l]'s shape: sum δ^[l] over the batch"),
    # the update
    Mistake("the update with + instead of −", "sgd_update", "update",
            {**{layout: (("W[l] -= lr", "W[l] += lr"), ("b[l] -= lr", "b[l] += lr")) for layout in BATCH},
             "per-sample": (("W[l] -= (lr", "W[l] += (lr"), ("b[l] -= (lr", "b[l] += (lr"))},
            "gradient descent steps against the gradient: θ ← θ − α ∂C/∂θ"),
    Mistake("α forgotten (update)", "sgd_update", "update",
            {layout: (("W[l] -= lr * dW[l]", "W[l] -= dW[l]"), ("b[l] -= lr * db[l]", "b[l] -= db[l]"))
             for layout in BATCH} | {"per-sample": (("(lr / m) * dW[l]", "dW[l] / m"),
                                                     ("(lr / m) * db[l]", "db[l] / m"))},
            "the step is α times the gradient"),
    Mistake("α hard-coded (update)", "sgd_update", "update",
            {layout: (("W[l] -= lr * dW[l]", "W[l] -= 0.1 * dW[l]"), ("b[l] -= lr * db[l]", "b[l] -= 0.1 * db[l]"))
             for layout in BATCH} | {"per-sample": (("(lr / m) * dW[l]", "(0.1 / m) * dW[l]"),
                                                     ("(lr / m) * db[l]", "(0.1 / m) * db[l]"))},
            "step by lr, the α you are given: every case has its own, and none is 0.1"),
    Mistake("the sum not divided by m (update)", "sgd_update", "update",
            {"per-sample": (("(lr / m) * dW[l]", "lr * dW[l]"), ("(lr / m) * db[l]", "lr * db[l]"))},
            "dW, db are sums over the m samples: step along their mean, (α/m) Σₓ ∂C_x/∂θ"),
)


def mutant_source(mistake, layout):
    """The layout's solution with `mistake` planted; each edit must apply exactly once."""
    source = solution_source(layout)
    for old, new in mistake.edits[layout]:
        count = source.count(old)
        if count != 1:
            raise AssertionError(f"mistake {mistake.name!r}: {old!r} occurs {count} times in the {layout} solution; "
                                 "update its edit in scratchnet/grade/mistakes.py")
        source = source.replace(old, new)
    return source


@functools.cache
def mutant_function(name, layout):
    """The function of the mutant with the mistake called `name` (trusted code, compiled once per process)."""
    mistake = next(m for m in CATALOGUE if m.name == name)
    module = {}
    exec(compile(mutant_source(mistake, layout), f"<mutant: {name}>", "exec"), module)
    return module[mistake.function]


def mutant_outcome(mistake, layout, call, names):
    """What the mutant does on one call, seen as the student's code is seen (run_call)."""
    return run_call(mutant_function(mistake.name, layout), call, names, f"<mutant: {mistake.name}>")


def candidates(function, layout):
    return [m for m in CATALOGUE if m.function == function and layout in m.edits]
