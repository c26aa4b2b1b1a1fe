"""Reports as data: the JSON of --json, and Gradescope's results.json (one test per equation).

Gradescope's format (gradescope-autograders.readthedocs.io, "Autograder Specifications"): a top-level
score, execution_time, output and a list of tests, each with name, score, max_score, status ("passed" or
"failed"), output and visibility.
"""

from scratchnet.grade.points import DEFAULT, KEYS
from scratchnet.grade.report import STATUS_TEXT


def printable(text):
    """text with every control character but newline and tab shown escaped (\\x1b, \\u202e): what a student put
    in a file name, a message or an output cannot move the cursor, recolour or reorder the grader's report."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def as_dict(report, reveal=False, scoring=DEFAULT):
    """A JSON-ready summary of one Report; reference values only with reveal=True; points from `scoring`."""
    passed = [ok for _, ok, _ in report.equations()]
    return {
        "path": report.path,
        "layout": report.layout,
        "status": report.status,
        "passed": report.passed,
        "problem": report.problem,
        "seconds": round(report.seconds, 3),
        "isolation": report.isolation,
        "cases": [case.describe() for case in report.cases],
        "notes": report.notes,
        "score": scoring.score(passed), "max_score": scoring.max_score,
        "equations": [{"name": title, "key": key, "passed": ok, "points": scoring.points[key] * ok,
                       "max_points": scoring.points[key]}
                      for key, (title, ok, _) in zip(KEYS, report.equations(), strict=True)],
        "functions": [_function(f, report, reveal) for f in report.functions],
        "output": report.output,
    }


def _function(f, report, reveal):
    item = {"name": f.name, "status": f.status, "mistakes": [m.name for m in f.mistakes], "hints": f.hints,
            "modified_inputs": f.mutated, "first_wrong": None, "exception": None}
    if f.first is not None:
        q, v, call = f.first.quantity, f.first.verdict, f.first.call
        item["first_wrong"] = {"quantity": q.label, "equation": q.equation, "layer": q.l, "L": q.L,
                               "case": call.case + 1, "sample": None if call.sample is None else call.sample + 1,
                               "shape": v.shape, "expected_shape": tuple(call.expected[q].shape),
                               "relative_error": v.rel_error, "tolerance": v.tolerance, "message": v.message}
        if reveal and f.first.observation.kind == "array":
            item["first_wrong"]["expected"] = call.expected[q].tolist()
            item["first_wrong"]["yours"] = f.first.observation.value.tolist()
    if f.raised is not None:
        frames = [{"where": report.submission.where(line), "function": name, "line": text}
                  for _, line, name, text in f.raised.frames] if report.submission else []
        item["exception"] = {"type": f.raised.type, "message": f.raised.message, "frames": frames}
    return item


def gradescope(report, reveal=False, scoring=DEFAULT):
    """Gradescope's results.json for one submission: one test per equation, its points and visibility from scoring."""
    shown = all(scoring.visibility[key] == "visible" for key in KEYS)
    text = report.text(reveal) if shown else "each equation is a test below; some are shown after the due date"
    tests = []
    for number, (key, (title, ok, result)) in enumerate(zip(KEYS, report.equations(), strict=True), 1):
        if report.problem:
            output = report.problem
        elif ok:
            output = "passed on every case"
        else:
            output = _test_output(report, result, reveal)
        tests.append({"name": title, "number": str(number), "score": scoring.points[key] * ok,
                      "max_score": scoring.points[key], "status": "passed" if ok else "failed", "output": output,
                      "visibility": scoring.visibility[key]})
    return {"score": float(sum(t["score"] for t in tests)), "execution_time": round(report.seconds, 3),
            "output": text, "stdout_visibility": "hidden", "tests": tests}


def _test_output(report, result, reveal):
    if result is None or result.status in ("not implemented", "not defined"):
        return f"{result.name if result else 'function'}: {STATUS_TEXT[result.status] if result else 'missing'}"
    return "\n".join(report.function_text(result, reveal))
