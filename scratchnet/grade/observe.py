"""What a call returned, quantity by quantity, and whether each is right: type, shape (exactly), finiteness, value.

`observe(call, outcome)` reads the outcome of one call as {Quantity: Observation}; `verdict(q, obs, expected,
layout, bound, dtype)` compares one observation with the engine's value. Every answer is judged in the
dtype of the case (never the dtype it comes back in: a float16 or float32 answer to a float64 case is a type
mistake), entry by entry against what rounding in that dtype alone can do (scratchnet/grade/bounds.py); the
report states cs231n's relative error of the whole array, max |s − r| / max(max |s|, max |r|), beside the
tolerance that bound allows. A float64 answer accurate to ~1e-9 is a numerical derivative, and is told so.
Shapes are compared exactly, never through broadcasting: (n,), (1, n) and (n, 1) are three different answers.
"""

from dataclasses import dataclass

import numpy as np

from scratchnet.checking.agreement import relative_error
from scratchnet.checking.roundoff import error_to_bound
from scratchnet.grade.execute import NotRun, Raised, Returned, TimedOut

# two answers within this relative error are the same answer (a mutant's and a student's), by their dtype
TOLERANCE = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 1e-4}
OTHER_FLOAT_TOLERANCE = 1e-2  # float16 and the like

CONTAINERS = {  # what each function returns, and which part holds which quantity
    "forward": ("(a, z)", {"a": 0, "z": 1}),
    "cross_entropy": ("(C, delta_L)", {"C": 0, "delta_L": 1}),
    "quadratic": ("(C, delta_L)", {"C": 0, "delta_L": 1}),
    "backward": ("(delta, dW, db)", {"delta": 0, "dW": 1, "db": 2}),
    "sgd_update": ("(W, b)", {"W": 0, "b": 1}),
}
NUMBER_DTYPES = ("float16", "float32", "float64", "int64", "int32", "int")
KIND_NAMES = {"none": "None", "list": "a list", "tuple": "a tuple", "dict": "a dict", "array": "an array",
              "number": "a number"}


@dataclass
class Observation:
    """One quantity as returned: kind is "array", "number", "problem", "raised", "timeout" or "not run"."""

    kind: str
    value: object = None
    message: str = ""


@dataclass
class Verdict:
    ok: bool
    message: str
    rel_error: float = None
    shape: tuple = None
    tolerance: float = None  # the largest relative error rounding in the case's dtype allows here


def observe(call, outcome):
    """{Quantity: Observation} for every quantity the call should have returned."""
    if isinstance(outcome, Raised):
        return dict.fromkeys(call.expected, Observation("raised", outcome.type, outcome.message))
    if isinstance(outcome, TimedOut):
        return dict.fromkeys(call.expected, Observation("timeout", outcome.seconds))
    if isinstance(outcome, NotRun):
        return dict.fromkeys(call.expected, Observation("not run", message=outcome.reason))
    assert isinstance(outcome, Returned)
    form, parts = CONTAINERS[call.function]
    tree = outcome.value
    if tree[0] not in ("tuple", "list") or len(tree[1]) != len(parts):
        got = KIND_NAMES.get(tree[0], tree[-1]) if tree[0] != "tuple" else f"a tuple of {len(tree[1])}"
        problem = Observation("problem", message=f"{call.function} returned {got}: return {form}")
        return dict.fromkeys(call.expected, problem)
    return {q: _part(q, tree[1][parts[q.name]], call) for q in call.expected}


def _part(q, tree, call):
    if q.name in ("C", "delta_L"):
        return _leaf(q.label, tree)
    name = q.name
    if tree[0] != "dict":
        return Observation("problem", message=f"{name} is {KIND_NAMES.get(tree[0], tree[-1])}, not a dict keyed "
                                              f"by the layer number l")
    if q.l not in tree[1]:
        layers = sorted(k for k in tree[1] if isinstance(k, int))
        said = f"{name} has no entry {name}[{q.l}] (its layers: {', '.join(map(str, layers)) or 'none'})"
        loop = "range(L, 1, -1) for l = L..2" if q.name in ("delta", "dW", "db") else "range(2, L + 1) for l = 2..L"
        if not layers:
            said += f": the loop over l never ran; use {loop}"
        elif q.l in (layers[0] - 1, layers[-1] + 1) and layers == list(range(layers[0], layers[-1] + 1)):
            said += f": the loop over l misses layer {q.l}; use {loop}"
        return Observation("problem", message=said)
    return _leaf(q.label, tree[1][q.l])


def _leaf(label, tree):
    kind = tree[0]
    if kind == "array":
        return Observation(kind, tree[1])
    if kind == "number":  # a float32 scalar keeps its dtype, and so its tolerance
        return Observation(kind, np.asarray(tree[1], dtype=tree[2] if tree[2] in NUMBER_DTYPES else np.float64))
    if kind == "list":
        return Observation("problem", message=f"{label} is a Python list: return a NumPy array (np.array(...))")
    return Observation("problem", message=f"{label} is {KIND_NAMES.get(kind, tree[-1])}, not a NumPy array")


def tolerance(dtype):
    """The relative error by which two answers in `dtype` count as the same answer (a mutant's and a student's)."""
    return TOLERANCE.get(np.dtype(dtype), OTHER_FLOAT_TOLERANCE)


def verdict(q, obs, expected, layout, bound, dtype="float64"):
    """Is obs the engine's `expected`? The first thing wrong, as one message naming the quantity.

    bound: how far rounding in the case's dtype alone may take each entry (scratchnet/grade/bounds.py); the
    answer is judged in the case's dtype, whatever dtype it comes in: a narrower float is a type mistake.
    """
    if obs.kind in ("problem", "not run"):
        return Verdict(False, obs.message)
    if obs.kind == "raised":
        return Verdict(False, f"raised {obs.value}")
    if obs.kind == "timeout":
        return Verdict(False, f"ran past the time limit of {obs.value:g} s")
    value = obs.value
    if q.name == "C":
        if obs.kind == "array" and value.shape != ():
            return Verdict(False, f"C is an array of shape {value.shape}: return a number (float(C))",
                           shape=value.shape)
    elif obs.kind == "number":
        return Verdict(False, f"{q.label} is a number: return an array of shape {expected.shape}")
    if value.dtype.kind not in "f":
        return Verdict(False, f"{q.label} has dtype {value.dtype}: return floating-point values", shape=value.shape)
    problem = shape_problem(q, value.shape, expected.shape, layout)
    if problem:
        return Verdict(False, problem, shape=value.shape)
    if np.finfo(value.dtype).precision < np.finfo(dtype).precision:
        return Verdict(False, f"{q.label} has dtype {value.dtype}, but this case's arrays are {dtype}: compute in "
                              f"the dtype you are given (a type mistake: {value.dtype} cannot hold the answer)",
                       shape=value.shape)
    if not np.isfinite(value).all():
        what = "NaN" if np.isnan(value).any() else "±∞"
        return Verdict(False, f"{q.label} holds {what}{OVERFLOW_HINT.get(q.name, '')}", shape=value.shape)
    return _within_rounding(q, value, expected, np.asarray(bound, dtype=np.float64), np.dtype(dtype).name)


OVERFLOW_HINT = {"C": (" (e^z overflows past z ≈ 709 in float64, 88 in float32, and log(softmax) is −∞ where softmax "
                       "underflows to 0: shift z by its max and take the log-softmax z − max z − log Σ e^(z − max z))"),
                 "delta_L": " (e^z overflows for large z: softmax(z) = softmax(z − max z))"}
FINITE_DIFFERENCES = 1e-5  # a float64 answer closer than this, yet beyond rounding, is a numerical derivative


def _within_rounding(q, value, expected, bound, dtype):
    """The answer judged entry by entry against the bound on what rounding in `dtype` can do; the tolerance, the
    largest relative error the bound allows, is stated beside the answer's relative error."""
    error, ratio = relative_error(value, expected), error_to_bound(value, expected, bound)
    scale = max(np.abs(expected).max(initial=0.0), np.abs(value).max(initial=0.0))
    allowed = float(bound.max(initial=0.0) / scale) if scale else 0.0
    said = f"relative error {error:.2g} (tolerance {allowed:.1g}, {dtype} rounding)"
    if ratio <= 1:
        return Verdict(True, said, error, value.shape, allowed)
    if dtype == "float64" and error < FINITE_DIFFERENCES:
        return Verdict(False, f"{q.label} is accurate to only {error:.0e} ({ratio:.2g} times what float64 rounding "
                              f"explains, tolerance {allowed:.1g}): the precision of finite differences, not of the "
                              "chain rule", error, value.shape, allowed)
    return Verdict(False, f"{q.label} is wrong: {said}, {ratio:.3g} times what {dtype} rounding can explain",
                   error, value.shape, allowed)


ROWS_LIKE = {"rows": "columns", "columns": "rows", "per-sample": "rows"}


def shape_problem(q, got, want, layout):
    """None when got == want; else one line saying how the shapes differ and what that usually means."""
    if got == want:
        return None
    said = f"{q.label} has shape {got}, expected {want}"
    if len(want) == 1 and got in ((1, want[0]), (want[0], 1)):
        form = "a row (1, n)" if got[0] == 1 else "a column (n, 1), the shape of the other layouts"
        return f"{said}: {form}, not the 1-D array (n,) of the {layout} layout; sum without keepdims"
    if len(want) == 2 and want[1] == 1 and got == (want[0],):
        return f"{said}: a 1-D array, not the column (n, 1) of the {layout} layout; sum with keepdims=True"
    if len(want) == 2 and want[1] == 1 and got == (1, want[0]):
        return f"{said}: a row, not a column; sum over the other axis, or transpose"
    if len(want) == 2 and got == want[::-1]:
        if q.name in ("dW", "W"):
            return f"{said}: the shape of (W^[{q.l}])ᵀ; ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ is (n_l, n_{{l-1}}), like W^[l]"
        if q.name in ("z", "a", "delta", "delta_L"):
            other = ROWS_LIKE[layout]
            return (f"{said}: the {other} layout's shape; is this file in the {other} layout? It was graded in the "
                    f"{layout} layout")
        return f"{said}: transposed"
    return said
