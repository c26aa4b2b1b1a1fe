"""From the outcomes of the calls to a diagnosis, function by function, in the order of the equations.

For each student function: every quantity of every call gets a verdict (scratchnet/grade/observe.py); the
first wrong quantity is the earliest in grading order (forward in layer order, then C and δ^[L], then for
l = L..2 δ^[l], ∂C/∂W^[l], ∂C/∂b^[l], then the update), preferring a returned wrong value to an exception;
then the catalogued mutants of that function run on the same calls, and every mutant whose output is the
student's at that quantity, case for case, is named. In backward, a gradient of a layer whose δ^[l] is
already wrong is marked as following from it, so that (BP3) and (BP4) are judged on their own.
"""

from dataclasses import dataclass, field

import numpy as np

from scratchnet.checking.agreement import relative_error
from scratchnet.grade.execute import NotRun, Raised, TimedOut
from scratchnet.grade.mistakes import candidates, mutant_outcome
from scratchnet.grade.observe import observe, tolerance, verdict


@dataclass
class Finding:
    """One quantity of one call, judged."""

    index: int       # the call's index among all calls
    call: object
    quantity: object
    observation: object
    verdict: object
    follows: bool = False  # wrong only because an earlier δ^[l] of the same call is wrong


@dataclass
class FunctionResult:
    name: str
    status: str                  # passed, failed, not implemented, not defined, timed out
    findings: list = field(default_factory=list)
    first: Finding = None        # the first wrong quantity
    raised: Raised = None        # the first exception, with the student's frames
    mistakes: list = field(default_factory=list)  # the catalogued mistakes that match
    hints: list = field(default_factory=list)
    mutated: list = field(default_factory=list)   # input arrays it modified, e.g. ["a[2]"]

    @property
    def passed(self):
        return self.status == "passed"


def diagnose(name, calls, outcomes, names, layout):
    """The FunctionResult of one function from its calls' outcomes (calls, outcomes, names: parallel lists)."""
    mine = [i for i, c in enumerate(calls) if c.function == name]
    if not mine:
        return FunctionResult(name, "passed")
    own = [outcomes[i] for i in mine]
    if all(isinstance(o, NotRun) and o.reason == "not defined" for o in own):
        return FunctionResult(name, "not defined")
    raised = next((o for o in own if isinstance(o, Raised)), None)
    if all(isinstance(o, Raised) and o.type == "NotImplementedError" for o in own):
        return FunctionResult(name, "not implemented", raised=raised)
    findings = [f for i in mine for f in _judge(i, calls[i], outcomes[i], layout)]
    wrong = [f for f in findings if not f.verdict.ok and not f.follows]
    if not wrong:
        return FunctionResult(name, "passed", findings)
    answered = [f for f in wrong if f.observation.kind not in ("raised", "timeout", "not run")]
    first = min(answered or wrong, key=lambda f: (f.quantity.rank, f.index))
    status = "timed out" if any(isinstance(o, TimedOut) for o in own) else "failed"
    result = FunctionResult(name, status, findings, first, raised)
    if status == "failed":
        result.mistakes = _matching(first, calls, outcomes, names, layout)
    return result


def _judge(index, call, outcome, layout):
    observed = observe(call, outcome)
    findings = [Finding(index, call, q, observed[q],
                        verdict(q, observed[q], call.expected[q], layout, call.bounds[q], call.dtype))
                for q in call.expected]
    if call.function == "sgd_update":
        _unchanged(findings, call)
    wrong_delta = [f.quantity.l for f in findings if f.quantity.name == "delta" and not f.verdict.ok
                   and f.observation.kind in ("array", "number", "problem")]
    if wrong_delta:
        top = max(wrong_delta)
        for f in findings:
            if f.quantity.name in ("dW", "db", "delta") and f.quantity.l < top or (
                    f.quantity.name in ("dW", "db") and f.quantity.l == top):
                f.follows = not f.verdict.ok
    return findings


def _unchanged(findings, call):
    """An update that returns W^[l] or b^[l] as it was given is told so, in place of its relative error."""
    for f in findings:
        given = call.args[("W", "b").index(f.quantity.name)].get(f.quantity.l)
        value = f.observation.value
        if (not f.verdict.ok and f.observation.kind == "array" and isinstance(given, np.ndarray)
                and value.shape == given.shape and np.array_equal(value, given)):
            name = f"{f.quantity.name}^[{f.quantity.l}]"
            f.verdict.message = (f"your update left {name} as it was: it must become {name} − α ∂C/∂{name} "
                                 f"(assign the new value, or change it in place with -=)")


def _matching(first, calls, outcomes, names, layout):
    """The catalogued mistakes whose mutant gives the student's answer at the first wrong quantity, on every call."""
    key = (first.quantity.name, first.quantity.rank)
    relevant = [i for i, c in enumerate(calls) if c.function == first.call.function
                and any((q.name, q.rank) == key for q in c.expected)]
    student = {i: _at(key, calls[i], outcomes[i])[1] for i in relevant}
    return [mistake for mistake in candidates(first.call.function, layout)
            if _mutant_agrees(mistake, key, student, calls, names, layout)]


def _mutant_agrees(mistake, key, student, calls, names, layout):
    """The mutant's answer at `key` is the student's on every relevant call (the keys of `student`, {call index:
    the student's observation}), and wrong on at least one."""
    wrong = False
    for i in student:
        q, theirs = _at(key, calls[i], mutant_outcome(mistake, layout, calls[i], names[i]))
        if not _equal(student[i], theirs):
            return False
        wrong = wrong or not verdict(q, theirs, calls[i].expected[q], layout, calls[i].bounds[q], calls[i].dtype).ok
    return wrong


def _at(key, call, outcome):
    q = next(q for q in call.expected if (q.name, q.rank) == key)
    return q, observe(call, outcome)[q]


def _equal(s, m):
    """The same answer: equal arrays or numbers (same shape, within the student's dtype's tolerance), the same
    exception type, or the same problem."""
    if s.kind != m.kind:
        return False
    if s.kind in ("array", "number"):
        if getattr(s.value, "shape", ()) != getattr(m.value, "shape", ()):
            return False
        return relative_error(s.value, m.value) <= tolerance(getattr(s.value, "dtype", float))
    if s.kind == "raised":
        return s.value == m.value
    return s.kind == "problem" and s.message == m.message
