"""The hand-out and its solution, end to end: `python -m scratchnet.exercise` then `python -m scratchnet.grade`.

The hand-out in each layout grades as "not yet implemented" everywhere; the --solution files pass (they are
checked against the reference engine, so they cannot drift from it); and the grader's wiring can fail: the
solution edited by one character in one equation fails at that equation and at no other. Every catalogued
mistake's edit applies exactly once to its layout's solution.

    python -m pytest tests/test_exercise.py
"""

import difflib
import json
import re
import subprocess
import sys

import pytest

from scratchnet.exercise import file_name
from scratchnet.grade import grade
from scratchnet.grade.handout import LAYOUTS, solution_source
from scratchnet.grade.mistakes import CATALOGUE, mutant_source
from scratchnet.grade.report import EQUATIONS

from conftest import REPO

TITLES = [title for title, _, _ in EQUATIONS]
FORWARD, CE, QUADRATIC, BP2, BP4, BP3, UPDATE = TITLES

# one-character edits of each layout's solution, each aimed at one equation: (old, new, the equation it breaks)
ONE_CHARACTER = {
    "rows": [("W[l].T + b[l]", "W[l].T - b[l]", FORWARD), ("a[l] = sigma[l](z[l])", "a[l] = sigma[l](z[1])", FORWARD),
             ("delta_L = p / m", "delta_L = p * m", CE), ("* error / m", "* error * m", QUADRATIC),
             ("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])", BP2),
             ("delta[l].T @ a[l - 1]", "delta[l].T @ -a[l - 1]", BP4), ("sum(axis=0)", "sum(axis=1)", BP3),
             ("W[l] -= lr", "W[l] += lr", UPDATE)],
    "columns": [("a[l - 1] + b[l]", "a[l - 1] - b[l]", FORWARD),
                ("a[l] = sigma[l](z[l])", "a[l] = sigma[l](z[1])", FORWARD),
                ("p_minus_y / m", "p_minus_y * m", CE), ("* error / m", "* error * m", QUADRATIC),
                ("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])", BP2),
                ("delta[l] @ a[l - 1].T", "delta[l] @ -a[l - 1].T", BP4),
                ("sum(axis=1, keepdims=True)", "sum(axis=0, keepdims=True)", BP3),
                ("W[l] -= lr", "W[l] += lr", UPDATE)],
    "per-sample": [("a[l - 1] + b[l]", "a[l - 1] - b[l]", FORWARD),
                   ("a[l] = sigma[l](z[l])", "a[l] = sigma[l](z[1])", FORWARD),
                   ("-(p * (1 - y)).sum(), p)", "+(p * (1 - y)).sum(), p)", CE),
                   ("sigma_prime(z_L) * error", "sigma_prime(z_L) + error", QUADRATIC),
                   ("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])", BP2),
                   ("delta[l] @ a[l - 1].T", "delta[l] @ -a[l - 1].T", BP4),
                   ("db[l] = delta[l]  ", "db[l] = delta[L]  ", BP3), ("W[l] -= (lr", "W[l] += (lr", UPDATE)],
}
GROUPS = ((0, 2, 3, 5, 7), (1, 6), (4,))  # edits that share a file: never two in one function


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hw")
    for extra in ((), ("--solution",)):
        done = run("scratchnet.exercise", "--out", str(folder), *extra)
        assert done.returncode == 0, done.stderr
    return folder


def test_the_handout_grades_as_not_yet_implemented(handouts):
    files = [str(handouts / file_name(layout, False)) for layout in LAYOUTS]
    done = run("scratchnet.grade", *files, "--json", "--jobs", "2")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["summary"] == {"submissions": 3, "passed": 0, "failed": 3}
    for submission in report["submissions"]:
        assert submission["status"] == "not implemented"
        assert {f["status"] for f in submission["functions"]} == {"not implemented"}


def test_the_solutions_pass(handouts):
    files = [str(handouts / file_name(layout, True)) for layout in LAYOUTS]
    done = run("scratchnet.grade", *files, "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 of 3 submissions passed" in done.stdout


def test_exercise_never_overwrites_a_students_file(handouts):
    done = run("scratchnet.exercise", "--out", str(handouts))
    assert done.returncode == 2
    assert "exists" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_one_character_edit_fails_at_its_equation(handouts, layout, tmp_path):
    solution = (handouts / file_name(layout, True)).read_text(encoding="utf-8")
    edits = ONE_CHARACTER[layout]
    for group in GROUPS:
        source = solution
        for old, new, _ in (edits[i] for i in group):
            assert source.count(old) == 1, old
            assert sum(d[0] != " " for d in difflib.ndiff(old, new)) <= 2, f"{old!r} → {new!r} is not one character"
            source = source.replace(old, new)
        path = tmp_path / f"edited_{group[0]}.py"
        path.write_text(source, encoding="utf-8")
        report = grade(str(path))
        broken = {edits[i][2] for i in group}
        results = {title: ok for title, ok, _ in report.equations()}
        assert {title for title, ok in results.items() if not ok} == broken, report.text()


ENGINE_TAGS = {"network.py": ("(BP2)", "(BP3)", "(BP4)", "# z^[l] = W^[l] a^[l-1] + b^[l]", "# a^[l] = σ(z^[l])"),
               "losses.py": ("(BP1)",)}


def engine_form(code):
    """A line with the engine's spelling: no self., and δ^[l] as the running `delta`."""
    return re.sub(r"delta\[l(?: - 1)?\]", "delta", code.replace("self.", ""))


def test_the_rows_solution_writes_the_engines_own_lines():
    """Each equation-tagged line of network.py and losses.py appears in the rows solution, up to spelling."""
    solution = {engine_form(line.split("#")[0].strip()) for line in solution_source("rows").splitlines()}
    checked = []
    for name, tags in ENGINE_TAGS.items():
        lines = (REPO / "scratchnet" / name).read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            code, _, comment = line.partition("#")
            if any(tag.lstrip("# ") in comment for tag in tags):
                # a tag on `if l > 2:` belongs to the line it guards
                code = lines[i + 1] if code.strip().endswith(":") else code
                checked.append(code.strip())
                assert engine_form(code.strip()) in solution, (
                    f"scratchnet/{name} computes `{code.strip()}`, which the rows solution in "
                    "scratchnet/grade/handout.py no longer writes: update the hand-out (and its mistakes' edits)")
    assert len(checked) == 7, checked  # z, a, (BP4), (BP3), (BP2), and (BP1) of both costs


def test_every_catalogued_edit_applies_once_and_changes_the_solution():
    for mistake in CATALOGUE:
        assert mistake.edits, mistake.name
        for layout in mistake.edits:
            assert mutant_source(mistake, layout) != solution_source(layout), (mistake.name, layout)
