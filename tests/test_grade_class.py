"""Grading for teachers: a class folder graded in parallel into grades.csv, summary.md and class.png; the
points and visibility of grading.toml in --json and --gradescope; the exercise writes that file.

A class of five (the solution, one planted mistake, the untouched hand-out, a shortcut the policy refuses, a
folder per student) runs through `python -m scratchnet.grade --class`; each row and count is checked.

    python -m pytest tests/test_grade_class.py
"""

import csv
import json
import subprocess
import sys

import pytest

from scratchnet.errors import UsageError
from scratchnet.grade.handout import solution_source, stub_source
from scratchnet.grade.points import DEFAULT, KEYS, read_scoring, toml_text

from conftest import REPO

BP2_WRONG = ("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])")


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    (folder / "ada.py").write_text(solution_source("rows"), encoding="utf-8")
    (folder / "bob.py").write_text(solution_source("rows").replace(*BP2_WRONG), encoding="utf-8")
    (folder / "cy.py").write_text(stub_source("columns"), encoding="utf-8")
    (folder / "dee.py").write_text(solution_source("rows").replace("import numpy as np", "import numpy as np\n"
                                                                   "import torch"), encoding="utf-8")
    (folder / "eve").mkdir()
    (folder / "eve" / "hw.py").write_text(solution_source("per-sample").replace(*BP2_WRONG), encoding="utf-8")
    (folder / "notes.txt").write_text("not a submission", encoding="utf-8")
    config = folder.parent / "grading.toml"
    config.write_text(toml_text().replace("BP2 = 1", "BP2 = 3"), encoding="utf-8")
    out = folder.parent / "summary"
    done = run("scratchnet.grade", "--class", str(folder), "--out", str(out), "--jobs", "auto",
               "--config", str(config))
    return done, out


def test_the_class_summary(graded_class):
    done, out = graded_class
    assert done.returncode == 1, done.stderr
    assert "5 students: 1 passed, 3 failed, 1 not gradable" in done.stderr
    with open(out / "grades.csv", encoding="utf-8") as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    assert list(table) == ["ada", "bob", "cy", "dee", "eve"]
    assert (table["ada"]["score"], table["ada"]["max_score"], table["ada"]["first_wrong_equation"]) == ("9", "9", "")
    assert table["bob"]["score"] == "6" and table["bob"]["first_wrong_equation"] == "BP2"
    assert table["bob"]["mistake"] == "σ′ taken at a^[l] instead of z^[l] (BP2)" == table["eve"]["mistake"]
    assert table["cy"]["status"] == "not implemented" and table["cy"]["mistake"] == "not yet implemented"
    assert table["dee"]["status"] == "broken"
    assert "not allowed in this exercise: import torch" in table["dee"]["mistake"]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    bp2 = "| (BP2) δ^[l] = σ′(z^[l]) ⊙ (W^[l+1])ᵀ δ^[l+1] | 3 | σ′ taken at a^[l] instead of z^[l] (BP2) (2) | 1 |"
    assert bp2 in summary

    assert "- dee: " in summary
    pytest.importorskip("matplotlib")
    assert (out / "class.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_points_and_visibility_reach_gradescope_and_json(tmp_path):
    path = tmp_path / "bob.py"
    path.write_text(solution_source("rows").replace(*BP2_WRONG), encoding="utf-8")
    config = tmp_path / "grading.toml"
    config.write_text(toml_text().replace("BP2 = 1", "BP2 = 2.5").replace('BP4 = "visible"', 'BP4 = "hidden"'),
                      encoding="utf-8")
    results = tmp_path / "results.json"
    done = run("scratchnet.grade", str(path), "--config", str(config), "--gradescope", str(results), "--json")
    assert done.returncode == 1, done.stderr
    tests = json.loads(results.read_text(encoding="utf-8"))["tests"]
    assert [t["max_score"] for t in tests] == [1, 1, 1, 2.5, 1, 1, 1]
    assert [t["score"] for t in tests] == [1, 1, 1, 0, 1, 1, 1]
    assert [t["visibility"] for t in tests].count("hidden") == 1 and tests[4]["visibility"] == "hidden"
    assert "σ′ taken at a^[l]" not in json.loads(results.read_text(encoding="utf-8"))["output"], "hidden tests leak"
    doc = json.loads(done.stdout)["submissions"][0]
    assert (doc["score"], doc["max_score"]) == (6.0, 8.5)
    first = next(f for f in doc["functions"] if f["name"] == "backward")["first_wrong"]
    assert first["relative_error"] > 1e-3 and 0 < first["tolerance"] < 1e-12, first


def test_the_exercise_writes_grading_toml(tmp_path):
    done = run("scratchnet.exercise", "--out", str(tmp_path), "--layout", "rows")
    assert done.returncode == 0, done.stderr
    assert read_scoring(tmp_path / "grading.toml") == DEFAULT
    (tmp_path / "grading.toml").write_text("[points]\nBP2 = 4\n", encoding="utf-8")
    assert run("scratchnet.exercise", "--out", str(tmp_path), "--layout", "rows", "--force").returncode == 0
    assert read_scoring(tmp_path / "grading.toml").points["BP2"] == 4, "the teacher's edits are kept"


@pytest.mark.parametrize("text, message", [
    ("[points]\nBP5 = 1\n", "[points] BP5 is not an equation: use " + ", ".join(KEYS)),
    ("[points]\nBP2 = -1\n", "[points] BP2 = -1: give a number of points ≥ 0"),
    ('[visibility]\nBP2 = "secret"\n', "[visibility] BP2 = 'secret': use one of visible, hidden"),
    ("[points\n", "not TOML"),
])
def test_a_bad_grading_toml_is_one_line(tmp_path, text, message):
    path = tmp_path / "grading.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        read_scoring(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
