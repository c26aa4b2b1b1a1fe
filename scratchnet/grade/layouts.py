"""What the grader passes to each student function, and what it expects back, in each layout.

A Call is one function call on one case (or, per-sample, on one sample of it): the function and its
arguments in the layout, which is all the child process is sent, and its Expected, which never leaves the
grader: the quantities it must return with the engine's values and float32 bounds, the case, the arguments
it may change. Every call gets the reference's inputs
(backward gets the reference a, z and δ^[L], not the student's own), so a mistake in one function never
shows up as a mistake in the next.

    rows        as the engine: x (m, n_1), a^[l] (m, n_l), b^[l] (n_l,), labels y (m,)
    columns     every a^[l], z^[l], δ^[l] transposed: (n_l, m); b^[l] and ∂C/∂b^[l] (n_l, 1); y one-hot (n_L, m)
    per-sample  the engine run on each sample alone (m = 1) in the columns form; the update gets the sums
                Σₓ ∂C_x/∂W^[l] of the samples' gradients and m, and must step along their mean
"""

from dataclasses import dataclass, field, replace

import numpy as np

from scratchnet.activations import ACTIVATIONS
from scratchnet.grade.cases import in_dtype


@dataclass(frozen=True)
class Quantity:
    """One returned quantity of a call: name in {z, a, C, delta_L, delta, dW, db, W, b}, its layer l, and L."""

    name: str
    l: int
    L: int

    @property
    def label(self):
        return {"z": "z^[{l}]", "a": "a^[{l}]", "C": "C", "delta_L": "δ^[{l}]", "delta": "δ^[{l}]",
                "dW": "∂C/∂W^[{l}]", "db": "∂C/∂b^[{l}]", "W": "W^[{l}] after the update",
                "b": "b^[{l}] after the update"}[self.name].format(l=self.l)

    @property
    def equation(self):
        if self.name == "delta":
            return "BP1" if self.l == self.L else "BP2"  # backward returns δ^[L] too, as it was given
        return {"z": "forward", "a": "forward", "C": "cost", "delta_L": "BP1", "dW": "BP4", "db": "BP3",
                "W": "update", "b": "update"}[self.name]

    @property
    def rank(self):
        """The quantity's place in the grading order, the same for every depth: backward counts from the top."""
        if self.name in ("delta", "dW", "db"):
            return (self.L - self.l, ("delta", "dW", "db").index(self.name))
        if self.name in ("W", "b", "z", "a"):
            return (self.l, self.name in ("b", "a"))
        return (0, self.name == "delta_L")


@dataclass(frozen=True)
class Expected:
    """The answer key of one call, kept by the grader: what it must return, and where the call comes from."""

    values: dict          # {Quantity: the engine's array, in the layout}
    case: int             # index into the cases
    sample: int = None    # per-sample: which sample of the case
    may_change: tuple = ()  # argument names the function may modify in place (sgd_update: W, b)
    bounds: dict = field(default_factory=dict)  # {Quantity: how far rounding in the case's dtype may take it}
    dtype: str = "float64"  # the dtype of the case's arrays: what the answers are judged in


@dataclass(frozen=True)
class Call:
    """One call of a student function: function and args are what the child gets; key stays with the grader."""

    function: str
    args: tuple
    key: Expected

    expected = property(lambda self: self.key.values)
    case = property(lambda self: self.key.case)
    sample = property(lambda self: self.key.sample)
    may_change = property(lambda self: self.key.may_change)
    bounds = property(lambda self: self.key.bounds)
    dtype = property(lambda self: self.key.dtype)


ARGUMENTS = {
    "forward": ("W", "b", "x", "sigma"),
    "cross_entropy": ("z_L", "y"),
    "quadratic": ("a_L", "z_L", "y", "sigma_prime"),
    "backward": ("W", "a", "z", "delta_L", "sigma_prime"),
    "sgd_update": ("W", "b", "dW", "db", "lr"),
}
PER_SAMPLE_UPDATE = ("W", "b", "dW", "db", "lr", "m")


class Layout:
    """How the rows-layout arrays of the engine look in one layout."""

    def __init__(self, name):
        self.name = name

    def activation(self, A):
        """a^[l], z^[l], δ^[l]: (m, n_l) in rows; (n_l, m) in columns (and (n_l, 1) per sample)."""
        return A if self.name == "rows" else np.ascontiguousarray(A.T)

    def bias(self, v):
        """b^[l], ∂C/∂b^[l]: (n_l,) in rows, (n_l, 1) otherwise."""
        return v.copy() if self.name == "rows" else v[:, None].copy()

    def targets(self, y, n_L):
        """Integer labels (m,) in rows; one-hot columns (n_L, m) otherwise."""
        return y.copy() if self.name == "rows" else np.ascontiguousarray(np.eye(n_L)[y].T)

    def argument_names(self, function):
        return PER_SAMPLE_UPDATE if (self.name, function) == ("per-sample", "sgd_update") else ARGUMENTS[function]

    def calls(self, ref, case_index):
        """The calls that grade one case: forward, the case's cost, backward (per sample when so), the update."""
        if self.name == "per-sample":
            passes = list(enumerate(ref.samples))
        else:
            passes = [(None, ref)]
        calls = [call for sample, run in passes for call in self._pass_calls(run, case_index, sample)]
        calls.append(self._update_call(ref, case_index))
        dtype = ref.case.dtype  # the arrays the student is given are in the case's dtype, and judged in it
        return [replace(call, args=in_dtype(call.args, dtype), key=replace(call.key, dtype=dtype)) for call in calls]

    def _pass_calls(self, run, case, sample):
        L, act = run.L, self.activation
        W = {l: run.W[l].copy() for l in run.W}
        b = {l: self.bias(run.b[l]) for l in run.b}
        sigma = {l: ACTIVATIONS[name][0] for l, name in run.net.activation.items()}
        sigma_prime = {l: ACTIVATIONS[name][1] for l, name in run.net.activation.items()}
        a = {l: act(run.a[l]) for l in run.a}
        z = {l: act(run.z[l]) for l in run.z}
        y = self.targets(run.y, run.net.sizes[-1])
        forward = {Quantity(n, l, L): (z if n == "z" else a)[l] for l in range(2, L + 1) for n in "za"}
        cost = {Quantity("C", L, L): np.float64(run.C), Quantity("delta_L", L, L): act(run.delta[L])}
        backward = {}
        for l in range(L, 1, -1):
            backward[Quantity("delta", l, L)] = act(run.delta[l])
            backward[Quantity("dW", l, L)] = run.dW[l]
            backward[Quantity("db", l, L)] = self.bias(run.db[l])
        cost_key = Expected(cost, case, sample, bounds={Quantity("C", L, L): run.bounds["loss"],
                                                        Quantity("delta_L", L, L): act(run.bounds[f"delta[{L}]"])})
        if run.case.loss == "cross-entropy":
            cost_call = Call("cross_entropy", (z[L], y), cost_key)
        else:
            cost_call = Call("quadratic", (a[L], z[L], y, sigma_prime[L]), cost_key)
        shaped = {"delta": act, "dW": np.asarray, "db": self.bias}
        backward_bounds = {q: shaped[q.name](run.bounds[f"{q.name}[{q.l}]"]) for q in backward}
        backward_call = Call("backward", (W, a, z, act(run.delta[L]), sigma_prime),
                             Expected(backward, case, sample, bounds=backward_bounds))
        forward_bounds = {q: act(run.bounds[f"{q.name}[{q.l}]"]) for q in forward}
        forward_call = Call("forward", (W, b, a[1], sigma), Expected(forward, case, sample, bounds=forward_bounds))
        return [forward_call, cost_call, backward_call]

    def _update_call(self, ref, case_index):
        W = {l: ref.W[l].copy() for l in ref.W}
        b = {l: self.bias(ref.b[l]) for l in ref.b}
        expected = {}
        for l in range(2, ref.L + 1):
            expected[Quantity("W", l, ref.L)] = ref.W_after[l]
            expected[Quantity("b", l, ref.L)] = self.bias(ref.b_after[l])
        if self.name == "per-sample":
            m = len(ref.samples)
            dW = {l: sum(s.dW[l] for s in ref.samples) for l in ref.W}  # Σₓ ∂C_x/∂W^[l]
            db = {l: self.bias(sum(s.db[l] for s in ref.samples)) for l in ref.b}
            args = (W, b, dW, db, ref.lr, m)
        else:
            args = (W, b, {l: ref.dW[l].copy() for l in ref.dW}, {l: self.bias(ref.db[l]) for l in ref.db}, ref.lr)
        bounds = {q: (np.asarray if q.name == "W" else self.bias)(ref.bounds[f"{q.name}[{q.l}]"]) for q in expected}
        return Call("sgd_update", args, Expected(expected, case_index, may_change=("W", "b"), bounds=bounds))
