"""python -m scratchnet.grade for teachers: --gradescope, --json, torch as a second oracle, exit codes, usage errors.

Gradescope's results.json is checked against its documented format (a score, execution_time, output, and
tests with name, score, max_score, status, output); exit status 0 when everything passes, 1 when a
submission fails, 2 for a usage error (one line, no traceback).

    python -m pytest tests/test_grade_cli.py
"""

import json
import os
import subprocess
import sys

import pytest

from scratchnet.grade import grade
from scratchnet.grade.cases import N_CASES
from scratchnet.grade.handout import solution_source

from conftest import REPO

GALLERY = REPO / "tests" / "grading_gallery"


def run(*args):
    return subprocess.run([sys.executable, "-m", "scratchnet.grade", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def wrong(tmp_path_factory):
    """A rows submission with σ′ taken at a^[l] in (BP2), everything else right."""
    path = tmp_path_factory.mktemp("sub") / "ada.py"
    source = (GALLERY / "rows_student.py").read_text(encoding="utf-8")
    path.write_text(source.replace("sigma_prime[l - 1](z[l - 1])", "sigma_prime[l - 1](a[l - 1])"), encoding="utf-8")
    return path


def test_gradescope_results_json(wrong, tmp_path):
    out = tmp_path / "results.json"
    done = run(str(wrong), "--gradescope", str(out))
    assert done.returncode == 1, done.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert set(results) == {"score", "execution_time", "output", "stdout_visibility", "tests"}
    assert [t["status"] for t in results["tests"]] == ["passed"] * 3 + ["failed"] + ["passed"] * 3
    assert results["score"] == 6.0 and all(t["max_score"] == 1.0 for t in results["tests"])
    assert {"name", "number", "score", "max_score", "status", "output", "visibility"} == set(results["tests"][3])
    assert "likely mistake: σ′ taken at a^[l] instead of z^[l] (BP2)" in results["tests"][3]["output"]


def test_json_for_a_class(wrong, tmp_path):
    good = tmp_path / "grace.py"
    good.write_text(solution_source("rows"), encoding="utf-8")
    done = run(str(wrong), str(good), "--json", "--jobs", "2")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["summary"] == {"submissions": 2, "passed": 1, "failed": 1}
    backward = next(f for f in doc["submissions"][0]["functions"] if f["name"] == "backward")
    assert backward["mistakes"] == ["σ′ taken at a^[l] instead of z^[l] (BP2)"]
    assert backward["first_wrong"]["quantity"] == "δ^[3]" and backward["first_wrong"]["equation"] == "BP2"
    assert "expected" not in backward["first_wrong"]
    assert run(str(good)).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["a.py", "b.py", "--gradescope", "r.json"], "--gradescope writes one results.json"),
    (["x.py", "--cases", "0"], "--cases 0: give a number of networks from 1 to 1000"),
    (["x.py", "--jobs", "0"], "--jobs 0: give a number of submissions graded at once, 1 to 256, or auto"),
    (["x.py", "--layout", "diagonal"], "invalid choice: 'diagonal'"),
    (["x.py", "--time-limit", "nan"], "--time-limit nan: give a number of seconds"),
    (["x.py", "--time-limit", "inf"], "--time-limit inf: give a number of seconds"),
    (["x.py", "--time-limit", "1e300"], "--time-limit 1e+300: give a number of seconds"),
    (["x.py", "--submission-time", "-1"], "--submission-time -1: give a number of seconds"),
    (["x.py", "--memory-mb", str(10**14)], f"--memory-mb {10**14}: give a number of MiB from 64"),
])
def test_usage_errors_are_one_line_and_exit_2(args, message):
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_the_torch_oracle_agrees(wrong):
    autograd = pytest.importorskip("torch_ref.autograd")
    report = grade(str(wrong), oracle=autograd.torch_gradients)
    assert any(note.startswith(f"oracles: scratchnet's reference and torch_ref.autograd agree on all {N_CASES} cases")
               for note in report.notes), report.notes
    assert not report.passed


def test_an_oracle_that_disagrees_stops_the_grading(wrong):
    autograd = pytest.importorskip("torch_ref.autograd")

    def off_by_a_little(net, x, y):
        answer = autograd.torch_gradients(net, x, y)
        answer.dW[2] = answer.dW[2] * (1 + 1e-6)
        return answer

    report = grade(str(wrong), oracle=off_by_a_little)
    assert any("DISAGREE" in note for note in report.notes), report.notes
    assert not report.passed


def test_a_user_that_does_not_exist_is_a_usage_error():
    done = run("x.py", "--user", "no-such-account-here")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("no such user" if os.geteuid() == 0 else "only a grader running as root") in done.stderr, done.stderr


def test_a_class_with_a_folder_and_a_missing_file_grades_the_rest(tmp_path):
    good = tmp_path / "grace.py"
    good.write_text(solution_source("rows"), encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run(str(empty), str(good), str(tmp_path / "gone.py"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{empty}: a folder with no .py or .ipynb file in it" in done.stdout
    assert "gone.py: no such file" in done.stdout
    assert "1 of 3 submissions passed" in done.stdout
