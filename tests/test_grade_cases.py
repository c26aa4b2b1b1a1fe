"""The default cases leave no mistake hidden: every catalogued mistake, and every shortcut a student was seen to
take, fails on at least one default case, while the hand-out's solution passes them all.

Each mutant (scratchnet/grade/mistakes.py's catalogue, in every layout it has an edit for, α hard-coded to 0.1
among them, plus the shortcuts below: softmax without the max shift, log(softmax), log(p + 1e-3) returned in
float16, and ∂C/∂W^[l], ∂C/∂b^[l] by central differences of a surrogate cost) runs in this process on the
calls of the nine default cases, judged as the grader judges a student (scratchnet/grade/diagnosis.py). The
table of which case catches which mistake is printed (docs/teaching.md quotes its last two lines).

    python -m pytest tests/test_grade_cases.py -s
"""

import numpy as np
import pytest

from scratchnet.grade.cases import DEFAULT_CASES, cases, reference
from scratchnet.grade.diagnosis import diagnose
from scratchnet.grade.execute import run_call
from scratchnet.grade.grader import calls_for
from scratchnet.grade.handout import FUNCTIONS, LAYOUTS, solution_source
from scratchnet.grade.mistakes import CATALOGUE, mutant_source

CENTRAL_DIFFERENCES = '''

def backward(W, a, z, delta_L, sigma_prime):
    """∂C/∂W^[l], ∂C/∂b^[l] by central differences of S = Σ δ^[L] ⊙ z^[L] through forward: no chain rule."""
    L, x = max(W), a[1]
    b = {l: (z[l] - a[l - 1] @ W[l].T)[0] for l in W}
    known = (np.tanh, lambda t: 1 / (1 + np.exp(-t)), lambda t: np.maximum(t, 0))
    sigma = {l: next(f for f in known if np.allclose(f(z[l]), a[l])) for l in range(2, L)}
    sigma[L] = lambda t: t

    def S():
        return (delta_L * forward(W, b, x, sigma)[1][L]).sum()

    delta, dW, db = {L: delta_L}, {}, {}
    for l in range(L, 1, -1):
        if l > 2:
            delta[l - 1] = sigma_prime[l - 1](z[l - 1]) * (delta[l] @ W[l])
        for theta, grad in ((W[l], dW), (b[l], db)):
            grad[l] = np.zeros_like(theta)
            for i in np.ndindex(theta.shape):
                h, kept = 1e-5 * max(1.0, abs(theta[i])), theta[i]
                theta[i] = kept + h
                up = S()
                theta[i] = kept - h
                grad[l][i] = (up - S()) / (2 * h)
                theta[i] = kept
    return delta, dW, db
'''
# shortcut → the edits of the rows solution that make it (each found passing the grader before its cases changed)
SHORTCUTS = {
    "softmax without the max shift": (("shifted = z_L - z_L.max(axis=1, keepdims=True)", "shifted = z_L"),),
    "log(softmax)": (("log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                      "log_p = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))"),),
    "log(p + 1e-3), returned in float16": (
        ("C = -log_p[rows, y].mean()", "C = np.float16(-np.log(np.exp(log_p)[rows, y] + 1e-3).mean())"),
        ("delta_L = p / m ", "delta_L = (p / m).astype(np.float16) ")),
    "central differences of a surrogate cost": (("\n\ndef sgd_update(", CENTRAL_DIFFERENCES + "\n\ndef sgd_update("),),
}


def edited(source, edits):
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


@pytest.fixture(scope="module")
def default_calls():
    references = [reference(case) for case in cases()]
    return {layout: calls_for(layout, references) for layout in LAYOUTS}


def judged(source, layout, default_calls):
    """{function: FunctionResult} of `source` on the default cases, run in this process."""
    module = {}
    exec(compile(source, "<mutant>", "exec"), module)  # trusted: the hand-out's solution, edited here
    calls, names = default_calls[layout]
    with np.errstate(all="ignore"):  # the shortcuts overflow: that is the point
        outcomes = [run_call(module[c.function], c, n, "<mutant>") for c, n in zip(calls, names, strict=True)]
    return {name: diagnose(name, calls, outcomes, names, layout) for name in FUNCTIONS}


def catching_cases(result):
    """The default cases (1-based) on which some quantity of the function is wrong."""
    return sorted({f.call.case + 1 for f in result.findings if not f.verdict.ok} |
                  ({result.first.call.case + 1} if result.first is not None else set()))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_solution_passes_every_default_case(layout, default_calls):
    results = judged(solution_source(layout), layout, default_calls)
    assert all(r.passed for r in results.values()), {n: r.first and r.first.verdict.message for n, r in results.items()}


def test_every_mistake_and_shortcut_fails_on_some_default_case(default_calls):
    mutants = [(m.name, layout, m.function, mutant_source(m, layout)) for m in CATALOGUE for layout in m.edits]
    mutants += [(name, "rows", "backward" if "central" in name else "cross_entropy",
                 edited(solution_source("rows"), edits)) for name, edits in SHORTCUTS.items()]
    per_case, missed = np.zeros((2, len(DEFAULT_CASES)), int), []
    print(f"\n{'mistake':52} {'layout':11} caught by default cases")
    for name, layout, function, source in mutants:
        result = judged(source, layout, default_calls)[function]
        caught = catching_cases(result) if not result.passed else []
        per_case[int(name in SHORTCUTS), [c - 1 for c in caught]] += 1
        print(f"{name:52} {layout:11} {caught or 'NONE'}")
        if not caught:
            missed.append((name, layout))
    for row, what, total in ((0, "catalogued mistakes (mistake × layout)", len(mutants) - len(SHORTCUTS)),
                             (1, "shortcuts", len(SHORTCUTS))):
        print(f"{what} caught by each default case, of {total}: "
              + ", ".join(f"case {i + 1}: {n}" for i, n in enumerate(per_case[row])))
    assert not missed, missed


def test_shortcuts_get_the_message_that_names_them(default_calls):
    def message(name, function):
        result = judged(edited(solution_source("rows"), SHORTCUTS[name]), "rows", default_calls)[function]
        return result.first.verdict.message

    assert "the precision of finite differences, not of the chain rule" in message(
        "central differences of a surrogate cost", "backward")
    assert "has dtype float16, but this case's arrays are float64" in message(
        "log(p + 1e-3), returned in float16", "cross_entropy")
    assert "log-softmax" in message("log(softmax)", "cross_entropy")

    hard_coded = judged(mutant_source(next(m for m in CATALOGUE if m.name == "α hard-coded (update)"), "rows"),
                        "rows", default_calls)["sgd_update"]
    assert [m.name for m in hard_coded.mistakes] == ["α hard-coded (update)"]


def test_the_cases_differ_where_mistakes_hide():
    """α never 0.1, 1 or 0.01 and never the same twice; a float32 and a float64 case with confident outputs."""
    rates = [c.lr for c in DEFAULT_CASES]
    assert len(set(rates)) == len(rates) and not {0.1, 1.0, 0.01} & set(rates)
    confident = [reference(c) for c in DEFAULT_CASES if c.confidence != 1]
    limits = {"float32": 88.8, "float64": 709.8}      # where e^z overflows
    underflow = {"float32": 103.3, "float64": 745.2}  # where e^-gap rounds to 0
    assert {ref.case.dtype for ref in confident} == set(limits)
    for ref in confident:
        z_L = ref.z[ref.L]
        assert z_L.max() > limits[ref.case.dtype], ref.case.describe()
        wrong_by = z_L.max(axis=1) - z_L[np.arange(ref.case.m), ref.y]
        assert wrong_by.max() > underflow[ref.case.dtype], "softmax underflows to 0 at the label: log(softmax) = −∞"
