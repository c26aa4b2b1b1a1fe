"""The grader on a gallery of student submissions: the correct ones pass, every mistake is named, every break is told.

Every catalogued mistake (scratchnet/grade/mistakes.py) is planted, as a one-string edit, in at least two of
the gallery's student-style files (tests/grading_gallery/), which are written differently from the hand-out's
solution; the grader must report the right function, equation and first wrong quantity, and name the mistake.
Functions are graded independently (each gets the reference's inputs), so one file carries at most one
mistake per function. The broken kinds (syntax error, exception, infinite loops, a list, None, NaN, a
modified input, memory, an import error, a wrong layout, shapes (n,) / (1, n) / (n, 1), …) each get their
message. The diagnosis rate is printed.

    python -m pytest tests/test_grade_gallery.py -s
"""

import pathlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from scratchnet.grade import grade
from scratchnet.grade.mistakes import CATALOGUE
from scratchnet.grade.sandbox import Guard

from conftest import REPO

GALLERY = REPO / "tests" / "grading_gallery"
BASES = {"rows": "rows_student.py", "columns": "columns_student.py", "per-sample": "per_sample_student.py"}

# mistake name → {layout: (edits on that layout's student file, the first wrong quantity's label)}
PLANTED = {
    "W not transposed (forward)": {
        "rows": ([("np.dot(acts[layer - 1], W[layer].T)", "np.dot(acts[layer - 1], W[layer])")], "z^[2]"),
        "columns": ([("np.matmul(W[l], A[l - 1])", "np.matmul(W[l].T, A[l - 1])")], "z^[2]")},
    "b not added (forward)": {
        "rows": ([("W[layer].T) + b[layer]", "W[layer].T)")], "z^[2]"),
        "per-sample": ([("np.dot(W[l], activation) + b[l]", "np.dot(W[l], activation)")], "z^[2]")},
    "σ not applied (forward)": {
        "columns": ([("A[l] = sigma[l](Z[l])", "A[l] = Z[l]")], "a^[2]"),
        "per-sample": ([("activation = sigma[l](z)", "activation = z")], "a^[2]")},
    "missing 1/m (BP1, cross-entropy)": {
        "rows": ([("grad = grad / m", "grad = grad")], "δ^[4]"),
        "columns": ([("dZ = (np.exp(log_probs) - y) / m", "dZ = (np.exp(log_probs) - y)")], "δ^[4]")},
    "sign of onehot flipped (BP1)": {
        "rows": ([("grad[np.arange(m), y] -= 1", "grad[np.arange(m), y] += 1")], "δ^[4]"),
        "per-sample": ([("0]), p - y", "0]), p + y")], "δ^[4]")},
    "sign of δ^[L] flipped (BP1, cross-entropy)": {
        "columns": ([("(np.exp(log_probs) - y) / m", "(y - np.exp(log_probs)) / m")], "δ^[4]"),
        "per-sample": ([("0]), p - y", "0]), y - p")], "δ^[4]")},
    "1/m applied twice (BP1, cross-entropy)": {
        "rows": ([("grad = grad / m", "grad = grad / m / m")], "δ^[4]"),
        "columns": ([("(np.exp(log_probs) - y) / m", "(np.exp(log_probs) - y) / m ** 2")], "δ^[4]")},
    "C summed, not averaged (cost)": {
        "rows": ([("C = -np.mean(log_probs", "C = -np.sum(log_probs")], "C"),
        "columns": ([("cost = -np.sum(y * log_probs) / m", "cost = -np.sum(y * log_probs)")], "C")},
    "σ′ dropped at the output (BP1, quadratic)": {
        "rows": ([("diff * sigma_prime(z_L) / m", "diff / m")], "δ^[4]"),
        "per-sample": ([("cost_derivative(a_L, y) * sigma_prime(z_L)", "cost_derivative(a_L, y)")], "δ^[4]")},
    "σ′ taken at a^[L] instead of z^[L] (BP1, quadratic)": {
        "columns": ([("sigma_prime(z_L) / m", "sigma_prime(a_L) / m")], "δ^[4]"),
        "per-sample": ([("* sigma_prime(z_L)", "* sigma_prime(a_L)")], "δ^[4]")},
    "missing 1/m (BP1, quadratic)": {
        "rows": ([("diff * sigma_prime(z_L) / m", "diff * sigma_prime(z_L)")], "δ^[4]"),
        "columns": ([("(a_L - y) * sigma_prime(z_L) / m", "(a_L - y) * sigma_prime(z_L)")], "δ^[4]")},
    "sign of δ^[L] flipped (BP1, quadratic)": {
        "rows": ([("diff = a_L - Y", "diff = Y - a_L")], "δ^[4]"),
        "per-sample": ([("return output_activations - y", "return y - output_activations")], "δ^[4]")},
    "σ′ dropped (BP2)": {
        "rows": ([("deltas[l - 1] = back * sigma_prime[l - 1](z[l - 1])", "deltas[l - 1] = back")], "δ^[3]"),
        "columns": ([("dZ = dA_prev * sigma_prime[l - 1](z[l - 1])", "dZ = dA_prev")], "δ^[3]")},
    "σ′ taken at a^[l] instead of z^[l] (BP2)": {
        "rows": ([("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])")], "δ^[3]"),
        "per-sample": ([("sp = sigma_prime[l](z[l])", "sp = sigma_prime[l](a[l])")], "δ^[3]")},
    "σ′ of the wrong layer (BP2)": {
        "columns": ([("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l](z[l])")], "δ^[3]"),
        "per-sample": ([("sp = sigma_prime[l](z[l])", "sp = sigma_prime[l + 1](z[l + 1])")], "δ^[3]")},
    "W not transposed (BP2)": {
        "rows": ([("np.dot(deltas[l], W[l])", "np.dot(deltas[l], W[l].T)")], "δ^[3]"),
        "columns": ([("W[l].T @ dZ", "W[l] @ dZ")], "δ^[3]")},
    "δ from the wrong layer (BP2 restarts from δ^[L])": {
        "rows": ([("np.dot(deltas[l], W[l])", "np.dot(delta_L, W[l])")], "δ^[2]"),
        "per-sample": ([("np.dot(W[l + 1].transpose(), delta) * sp", "np.dot(W[l + 1].transpose(), delta_L) * sp")],
                       "δ^[2]")},
    "δ kept under the wrong layer": {
        "columns": ([("grads_delta[l - 1] = dZ", "grads_delta[l] = dZ")], "δ^[4]"),
        "per-sample": ([("deltas[l] = delta", "deltas[l + 1] = delta")], "δ^[4]")},
    "dW transposed (BP4)": {
        "rows": ([("np.dot(deltas[l].T, a[l - 1])", "np.dot(a[l - 1].T, deltas[l])")], "∂C/∂W^[4]"),
        "columns": ([("dZ @ a[l - 1].T", "a[l - 1] @ dZ.T")], "∂C/∂W^[4]")},
    "a from the wrong layer (BP4)": {
        "columns": ([("dZ @ a[l - 1].T", "dZ @ a[l].T")], "∂C/∂W^[4]"),
        "per-sample": ([("a[L - 1].transpose()", "a[L].transpose()"), ("a[l - 1].transpose()", "a[l].transpose()")],
                       "∂C/∂W^[4]")},
    "the transpose on the wrong operand (BP4)": {
        "rows": ([("np.dot(deltas[l].T, a[l - 1])", "np.dot(deltas[l], a[l - 1].T)")], "∂C/∂W^[4]"),
        "per-sample": ([("np.dot(delta, a[L - 1].transpose())", "np.dot(delta.transpose(), a[L - 1])"),
                        ("np.dot(delta, a[l - 1].transpose())", "np.dot(delta.transpose(), a[l - 1])")], "∂C/∂W^[4]")},
    "a second 1/m in dW (BP4)": {
        "rows": ([("np.dot(deltas[l].T, a[l - 1])", "np.dot(deltas[l].T, a[l - 1]) / a[1].shape[0]")], "∂C/∂W^[4]"),
        "columns": ([("dZ @ a[l - 1].T", "dZ @ a[l - 1].T / dZ.shape[1]")], "∂C/∂W^[4]")},
    "bias gradient from the first sample only (BP3)": {
        "rows": ([("np.sum(deltas[l], axis=0)", "deltas[l][0]")], "∂C/∂b^[4]"),
        "columns": ([("np.sum(dZ, axis=1, keepdims=True)", "dZ[:, 0:1]")], "∂C/∂b^[4]")},
    "bias gradient averaged, a second 1/m (BP3)": {
        "rows": ([("np.sum(deltas[l], axis=0)", "np.mean(deltas[l], axis=0)")], "∂C/∂b^[4]"),
        "columns": ([("np.sum(dZ, axis=1, keepdims=True)", "np.mean(dZ, axis=1, keepdims=True)")], "∂C/∂b^[4]")},
    "biases summed over the wrong axis (BP3)": {
        "rows": ([("np.sum(deltas[l], axis=0)", "np.sum(deltas[l], axis=1)")], "∂C/∂b^[4]"),
        "columns": ([("np.sum(dZ, axis=1, keepdims=True)", "np.sum(dZ, axis=0, keepdims=True)")], "∂C/∂b^[4]")},
    "bias gradient not summed over the batch (BP3)": {
        "rows": ([("db[l] = np.sum(deltas[l], axis=0)", "db[l] = deltas[l]")], "∂C/∂b^[4]"),
        "columns": ([("db[l] = np.sum(dZ, axis=1, keepdims=True)", "db[l] = dZ")], "∂C/∂b^[4]")},
    "the update with + instead of −": {
        "rows": ([("- lr *", "+ lr *")], "W^[2] after the update"),
        "per-sample": ([("-= (lr / m)", "+= (lr / m)")], "W^[2] after the update")},
    "α forgotten (update)": {
        "columns": ([("- lr * dW[l]", "- dW[l]"), ("- lr * db[l]", "- db[l]")], "W^[2] after the update"),
        "per-sample": ([("(lr / m) * dW[l]", "dW[l] / m"), ("(lr / m) * db[l]", "db[l] / m")],
                       "W^[2] after the update")},
    "α hard-coded (update)": {
        "rows": ([("- lr *", "- 0.1 *")], "W^[2] after the update"),
        "per-sample": ([("-= (lr / m)", "-= (0.1 / m)")], "W^[2] after the update")},
    "the sum not divided by m (update)": {  # the per-sample layout alone hands the update sums
        "per-sample": ([("(lr / m)", "lr")], "W^[2] after the update")},
}
CATALOGUED = {m.name: m for m in CATALOGUE}

# broken kind → (edits on rows_student.py, the function, the text its report must contain); one file each
# unless noted, so that a file's time-out or crash cannot hide another kind's message
BROKEN = {
    "syntax error": ([("def backward(W, a, z, delta_L, sigma_prime):", "def backward(W, a, z, delta_L, sigma_prime)")],
                     None, "rows_student.py:40: SyntaxError: expected ':'"),
    "exception": ([("np.dot(deltas[l].T, a[l - 1])", "np.dot(deltas[l].T, a[l - 1].T)")], "backward",
                  "rows_student.py:45, in backward: dW[l] = np.dot(deltas[l].T, a[l - 1].T)"),
    "infinite loop": ([("    L = max(W)\n    deltas", "    while True:\n        pass\n    L = max(W)\n    deltas")],
                      "backward", "backward: TIMED OUT"),
    "a loop that swallows the alarm": ([("    L = max(W)\n    deltas", "    while True:\n        try:\n"
                                         "            sum(range(10 ** 6))\n        except BaseException:\n"
                                         "            pass\n    L = max(W)\n    deltas")],
                                       "backward", "backward: TIMED OUT"),
    "float16 answers": ([("return C, grad", "return C, grad.astype(np.float16)")], "cross_entropy",
                        "δ^[4] has dtype float16, but this case's arrays are float64"),
    "a list": ([("return C, grad", "return C, grad.tolist()")], "cross_entropy", "δ^[4] is a Python list"),
    "None": ([("    return acts, zs", "    acts, zs")], "forward", "forward returned None: return (a, z)"),
    "wrong type": ([("return deltas, dW, db", "return dW")], "backward", "backward returned a dict"),
    "NaN": ([("return C, diff * sigma_prime(z_L) / m", "return C, diff * sigma_prime(z_L) / (m - m)")], "quadratic",
            "holds ±∞"),
    "a modified input": ([("    log_probs = log_softmax(z_L)",
                           "    z_L -= z_L.max(axis=1, keepdims=True)\n    log_probs = log_softmax(z_L)")],
                         "cross_entropy", "modified its input z_L"),
    "memory": ([("    acts = {1: x}", "    junk = np.ones(1 << 34)\n    acts = {1: x}")], "forward", "MemoryError"),
    "import error": ([("import numpy as np", "import numpy as np\nfrom numpy import softmax")], None,
                     "rows_student.py:3: loading the file raised ImportError"),
    "imports torch": ([("import numpy as np", "import numpy as np\nimport torch")], None,
                      "not allowed in this exercise: import torch (line 3 of "),
    "delegates to the reference": ([("    L = max(W)\n    deltas", "    from scratchnet.network import Network\n"
                                     "    L = max(W)\n    deltas")], None,
                                   "not allowed in this exercise: import scratchnet.network (line 41 of "),
    "exec of a string": ([("    acts = {1: x}", "    exec('acts = {1: x}')\n    acts = {1: x}")], None,
                         "not allowed in this exercise: exec (line 8 of "),
    "a loop at module level": ([("LAYOUT = \"rows\"", "LAYOUT = \"rows\"\nwhile True:\n    pass")], None,
                               "loading the file ran past"),
    "sys.exit": ([("    new_W = {", "    exit(0)\n    new_W = {")], "sgd_update", "raised SystemExit"),
    "os._exit": ([("    new_W = {", "    import os\n    os._exit(3)\n    new_W = {")], "sgd_update",
                 "the process stopped (exit status 3)"),
    "a missing function": ([("def quadratic(", "def quadratic_cost(")], "quadratic", "MISSING"),
    "db of shape (1, n)": ([("np.sum(deltas[l], axis=0)", "np.sum(deltas[l], axis=0, keepdims=True)")], "backward",
                           "a row (1, n), not the 1-D array (n,) of the rows layout"),
    "db of shape (n, 1)": ([("np.sum(deltas[l], axis=0)", "np.sum(deltas[l], axis=0)[:, None]")], "backward",
                           "a column (n, 1), the shape of the other layouts"),
    "the wrong LAYOUT line": ([("LAYOUT = \"rows\"", "LAYOUT = \"columns\"")], "forward",
                              "is this file in the rows layout?"),
    "no LAYOUT line": ([("LAYOUT = \"rows\"", "")], None, "no LAYOUT = \"...\" line: graded in the rows layout"),
    "prints": ([("    acts = {1: x}", "    print('forward of', x.shape)\n    acts = {1: x}")], None,
               "| forward of (3, 4)"),
}
BROKEN_ELSEWHERE = {  # kinds planted in another file than rows_student.py: kind → its file
    "db of shape (n,) in the columns layout": "columns_student.py",
    "wrong by more than rounding": "rows_float32.py",
}
BROKEN.update({
    "db of shape (n,) in the columns layout": (
        [("np.sum(dZ, axis=1, keepdims=True)", "np.sum(dZ, axis=1)")], "backward",
        "a 1-D array, not the column (n, 1) of the columns layout; sum with keepdims=True"),
    "wrong by more than rounding": (
        [("p[np.arange(m), y] -= 1", "p[np.arange(m), y] -= 1.001")], "cross_entropy",
        "times what float64 rounding can explain"),
})
CORRECT = ["rows_student.py", "columns_student.py", "per_sample_student.py", "rows_einsum.py",
           "columns_batch_loop.py", "rows_float32.py", "rows_notebook.ipynb"]
ALLOW = {"os._exit": ("os",)}  # kinds that need a module the policy refuses: the teacher's --allow
SLOW_KINDS = ("infinite loop", "a loop that swallows the alarm", "a loop at module level")


def planted(base, edits):
    source = (GALLERY / base).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in source, f"{old!r} is not in {base}: update the gallery's edits"
        source = source.replace(old, new)
    return source


def mistake_files():
    """Pack the planted mistakes into files, at most one per function per file: {file name: (base, [(name, label)])}."""
    files = {}
    for name, layouts in PLANTED.items():
        function = CATALOGUED[name].function
        for layout, (edits, label) in layouts.items():
            i = 0
            while (layout, i) in files and function in files[(layout, i)]["functions"]:
                i += 1
            entry = files.setdefault((layout, i), {"functions": set(), "edits": [], "expect": []})
            entry["functions"].add(function)
            entry["edits"] += edits
            entry["expect"].append((name, layout, label))
    return files


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every gallery submission graded once (two at a time): {key: Report}."""
    folder = tmp_path_factory.mktemp("gallery")
    jobs = {("correct", name): (GALLERY / name, {}) for name in CORRECT}
    for (layout, i), entry in mistake_files().items():
        path = folder / f"{layout}_{i}.py"
        path.write_text(planted(BASES[layout], entry["edits"]), encoding="utf-8")
        jobs[("mistakes", layout, i)] = (path, {"expect": entry["expect"]})
    for kind, (edits, _, _) in BROKEN.items():
        base = BROKEN_ELSEWHERE.get(kind, "rows_student.py")
        path = folder / kind.replace(" ", "_").replace("/", "").replace(",", "") / base
        path.parent.mkdir()
        path.write_text(planted(base, edits), encoding="utf-8")
        jobs[("broken", kind)] = (path, {})
    jobs[("broken", "a notebook's syntax error")] = (GALLERY / "broken_syntax.ipynb", {})

    def run(item):
        key, (path, extra) = item
        limit = 1.0 if key[-1] in SLOW_KINDS else 10.0
        guard = Guard(allow=ALLOW.get(key[-1], ()), time_limit=limit, memory_mb=512)
        return key, (grade(str(path), guard=guard), extra)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, jobs.items()))


@pytest.mark.parametrize("name", CORRECT)
def test_correct_submissions_pass(graded, name):
    report, _ = graded[("correct", name)]
    assert report.passed, report.text()


def diagnoses(graded):
    """(mistake, layout, expected label, reported label, equation, named mistakes) for every planted mistake."""
    rows = []
    for report, extra in graded.values():
        for name, layout, label in extra.get("expect", []):
            result = next(f for f in report.functions if f.name == CATALOGUED[name].function)
            first = result.first
            rows.append((name, layout, label, first and first.quantity.label, first and first.quantity.equation,
                         [m.name for m in result.mistakes], report))
    return rows


def test_every_catalogued_mistake_is_planted_in_two_layouts():
    assert set(PLANTED) == set(CATALOGUED)
    for name, layouts in PLANTED.items():
        available = [layout for layout in CATALOGUED[name].edits]
        assert len(layouts) >= min(2, len(available)), name


def equation_of(name, label):
    """The equation the report names: the mistake's own, except that δ^[L] is always (BP1)'s."""
    return "BP1" if label == "δ^[4]" else CATALOGUED[name].equation


def test_each_mistake_is_named_at_its_equation_and_layer(graded):
    rows = diagnoses(graded)
    hits = 0
    print(f"\n{'mistake':52} {'layout':11} reported")
    for name, layout, label, got_label, equation, named, _ in sorted(rows, key=lambda r: (r[0], r[1])):
        right = got_label == label and equation == equation_of(name, label) and named == [name]
        hits += right
        print(f"{name:52} {layout:11} {got_label} ({equation}): {', '.join(named) or 'no match'}"
              f"{'' if right else '   <-- WRONG'}")
    print(f"diagnosis rate: {hits}/{len(rows)} = {hits / len(rows):.0%}")
    wrong = [(r[0], r[1], r[3], r[5]) for r in rows
             if not (r[3] == r[2] and r[4] == equation_of(r[0], r[2]) and r[5] == [r[0]])]
    assert not wrong, wrong


def test_the_report_names_the_mistake_and_its_hint(graded):
    rows = {(r[0], r[1]): r[-1] for r in diagnoses(graded)}
    text = rows[("σ′ taken at a^[l] instead of z^[l] (BP2)", "rows")].text()
    assert "first wrong: δ^[3] (BP2, layer 3 of L = 4): δ^[3] is wrong: relative error" in text
    assert "likely mistake: σ′ taken at a^[l] instead of z^[l] (BP2)" in text
    assert "expected:" not in text  # the reference's values only with reveal=True
    assert "expected:" in rows[("σ′ taken at a^[l] instead of z^[l] (BP2)", "rows")].text(reveal=True)


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_submissions_get_their_message(graded, kind):
    report, _ = graded[("broken", kind)]
    _, function, message = BROKEN[kind]
    text = report.text()
    assert message in text, text
    if function is not None and kind not in ("prints", "the wrong LAYOUT line"):
        result = next(f for f in report.functions if f.name == function)
        assert not result.passed, text
        others = [f.name for f in report.functions if not f.passed and f.name != function]
        assert not others, f"{kind} made {others} fail too:\n{text}"
    if kind == "exception":
        assert "scratchnet" not in text.split("it raised", 1)[1], "the student's own frames only"
    assert report.seconds < 60, "grading must end in bounded time"


def test_a_notebook_syntax_error_names_its_cell(graded):
    report, _ = graded[("broken", "a notebook's syntax error")]
    assert report.problem == f"{pathlib.Path(report.path).as_posix()}, cell 5, line 4: SyntaxError: expected ':'"
