"""A submission's Report: the functions' results, and the text a student reads.

The text lists each function with its status, then, for each function that fails, the quantities of the
call where it first goes wrong in grading order (shape, verdict, relative error), the first wrong quantity
with its equation and layer, the classic mistakes that match, and hints. The reference's values appear
only with reveal=True (self-study); by default the student sees shapes and relative errors.
"""

from dataclasses import dataclass, field

import numpy as np

from scratchnet.grade.handout import TITLES

EQUATIONS = (  # the tests of the report: (title, function, quantity names)
    ("forward: z^[l] = W^[l] a^[l-1] + b^[l], a^[l] = σ(z^[l])", "forward", ("z", "a")),
    ("(BP1) cross-entropy: C and δ^[L] = (p − y)/m", "cross_entropy", ("C", "delta_L")),
    ("(BP1) quadratic: C and δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)/m", "quadratic", ("C", "delta_L")),
    ("(BP2) δ^[l] = σ′(z^[l]) ⊙ (W^[l+1])ᵀ δ^[l+1]", "backward", ("delta",)),
    ("(BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ", "backward", ("dW",)),
    ("(BP3) ∂C/∂b^[l] = δ^[l]", "backward", ("db",)),
    ("the update θ ← θ − α ∂C/∂θ", "sgd_update", ("W", "b")),
)
OUTPUT_LINES = 40  # lines of the student's own output the text shows
ANSWERED = ("array", "number", "problem")  # observations of a call that returned something
STATUS_TEXT = {"passed": "passed", "failed": "FAILED", "not implemented": "not yet implemented",
               "not defined": "MISSING (no such function)", "timed out": "TIMED OUT"}


@dataclass
class Report:
    path: str
    layout: str
    n_cases: int
    cases: list = field(default_factory=list)
    functions: list = field(default_factory=list)
    problem: str = None   # the file could not be graded at all (syntax error, import error)
    notes: list = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0
    submission: object = None
    isolation: str = ""   # what kept the submission apart from the grader (scratchnet/grade/isolation.py)

    def broken(self, problem, seconds):
        self.problem, self.seconds = problem, seconds
        return self

    @property
    def passed(self):
        return self.problem is None and all(f.passed for f in self.functions)

    @property
    def status(self):
        if self.problem:
            return "broken"
        if self.passed:
            return "passed"
        if all(f.status == "not implemented" for f in self.functions):
            return "not implemented"
        return "failed"

    def equations(self):
        """[(title, passed, function result)] for the seven equations, each judged on its own quantities."""
        results = {f.name: f for f in self.functions}
        rows = []
        for title, name, quantities in EQUATIONS:
            result = results.get(name)
            ok = (result is not None and result.status in ("passed", "failed") and not result.mutated
                  and all(f.verdict.ok for f in result.findings if f.quantity.name in quantities and not f.follows))
            rows.append((title, ok, result))
        return rows

    def text(self, reveal=False):
        lines = [f"{self.path}: layout {self.layout}, {len(self.cases) or self.n_cases} cases"]
        lines += [f"  {self.isolation}"] if self.isolation else []
        lines += [f"  note: {note}" for note in self.notes]
        if self.problem:
            return "\n".join([*lines, f"  cannot be graded: {self.problem}", "result: FAILED", *self._output()]) + "\n"
        for f in self.functions:
            lines.append(f"  {f.name:<14} {TITLES[f.name]:<22} {STATUS_TEXT[f.status]}")
        for f in self.functions:
            if not f.passed and f.status != "not implemented":
                lines += [""] + self.function_text(f, reveal)
        if self.status == "not implemented":
            lines += ["", "nothing is written yet: fill in the bodies marked TODO, then run this again"]
        passed = sum(ok for _, ok, _ in self.equations())
        lines += ["", f"result: {'passed' if self.passed else 'FAILED'} ({passed} of {len(EQUATIONS)} equations "
                      f"right; {self.seconds:.1f} s)"]
        return "\n".join(lines + self._output()) + "\n"

    def _output(self):
        """What the student's code printed, fenced off from the verdict: its first OUTPUT_LINES lines, and how many
        more were cut (control characters are shown escaped where the report is printed)."""
        printed = self.output.strip().splitlines()
        if not printed:
            return []
        cut = [f"  [… {len(printed) - OUTPUT_LINES} more lines not shown]"] if len(printed) > OUTPUT_LINES else []
        return ["", "your code printed (control characters shown escaped):",
                *("  | " + line for line in printed[:OUTPUT_LINES]), *cut, "  (end of what your code printed)"]

    def function_text(self, f, reveal=False):
        """The diagnosis of one function that did not pass, as lines."""
        lines = [f"{f.name}: {STATUS_TEXT[f.status]}"]
        if f.first is not None:
            call = f.first.call
            where = self.cases[call.case].describe()
            if call.sample is not None:
                where += f", sample {call.sample + 1}"
            if f.first.observation.kind in ANSWERED:
                lines.append(f"  case {call.case + 1}: {where}, in grading order:")
                lines += ["    " + _finding_line(g) for g in f.findings if g.index == f.first.index]
                lines.append(f"  first wrong: {_first(f.first)}")
            else:  # nothing came back from this call: one line says why
                lines.append(f"  case {call.case + 1}: {where}: {f.first.verdict.message}")
        if f.raised is not None:
            lines.append(f"  it raised {f.raised.type}: {f.raised.message}" + self._frames(f.raised))
        for mistake in f.mistakes:
            lines.append(f"  likely mistake: {mistake.name}. Hint: {mistake.hint}.")
        if (f.status == "failed" and f.first is not None and not f.mistakes and not f.mutated
                and " is wrong: " in f.first.verdict.message):  # nothing else explained the value
            lines.append("  no catalogued mistake gives this answer: compare your line for "
                         f"{f.first.quantity.label} with its equation")
        if f.mutated:
            lines.append(f"  it modified its input {', '.join(f.mutated)} (compared with a copy taken before the "
                         "call): compute new arrays, e.g. d = d * s, not d *= s")
        lines += [f"  hint: {hint}" for hint in f.hints]
        if reveal and f.first is not None and f.first.observation.kind == "array":
            with np.printoptions(precision=4, suppress=True, linewidth=110):
                lines += ["  expected:", _indent(f.first.call.expected[f.first.quantity]),
                          "  yours:", _indent(f.first.observation.value)]
        return lines

    def _frames(self, raised):
        if not raised.frames:
            return ""
        return "".join(f"\n      {self.submission.where(line)}, in {name}: {text}"
                       for _, line, name, text in raised.frames)


def _finding_line(g):
    q, v = g.quantity, g.verdict
    shape = str(v.shape) if v.shape is not None else ""
    if v.ok:
        verdict = f"ok ({v.message})"
    elif g.follows:
        verdict = "wrong, follows from the wrong δ above"
    else:
        verdict = "WRONG: " + v.message
    return f"{q.label:<24} ({q.equation}) {shape:<9} {verdict}"


def _first(g):
    q, v = g.quantity, g.verdict
    layer = f", layer {q.l} of L = {q.L}" if q.name not in ("C",) else ""
    return f"{q.label} ({q.equation}{layer}): {v.message}"


def _indent(array):
    return "\n".join("      " + line for line in str(np.asarray(array)).splitlines())
