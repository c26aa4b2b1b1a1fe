"""Reports a student can act on: the mistake named where the value says it, the tolerance beside every relative
error, δ^[L] labelled (BP1), signals by name, and the student's own output kept (and its cut counted) even when
the file cannot be loaded. Five small submissions, each an edit of the rows solution, graded end to end.

    python -m pytest tests/test_grade_reports.py
"""

import re
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from scratchnet.grade import grade
from scratchnet.grade.execute import exit_text
from scratchnet.grade.handout import solution_source
from scratchnet.grade.sandbox import Guard

SOLUTION = solution_source("rows")
SUBMISSIONS = {  # name → (source, what the report must say)
    "W unchanged": (SOLUTION.replace("W[l] -= lr * dW[l]", "W[l] - lr * dW[l]"),
                    "first wrong: W^[2] after the update (update, layer 2 of L = 4): your update left W^[2] as it was"),
    "b never updated": (SOLUTION.replace("        b[l] -= lr * db[l]", "        pass  #"),
                        "your update left b^[2] as it was"),
    "the loop misses a layer": (SOLUTION.replace("for l in range(L, 1, -1):", "for l in range(L, 2, -1):"),
                                "dW has no entry dW[2] (its layers: 3, 4): the loop over l misses layer 2; use "
                                "range(L, 1, -1) for l = L..2"),
    "a segmentation fault": (SOLUTION.replace("    L = max(W)\n    delta,",
                                              "    import ctypes\n    ctypes.string_at(0)\n    L = max(W)\n    delta,"),
                             "the process crashed with a segmentation fault (SIGSEGV) during this call"),
    "prints, then cannot load": ("print('hello')\n" * 50 + "raise ValueError('boom')\n",
                                 "  | hello\n  [… 10 more lines not shown]"),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")

    def one(item):
        name, (source, _) = item
        path = folder / (name.replace(" ", "_").replace(",", "") + ".py")
        path.write_text(source, encoding="utf-8")
        return name, grade(str(path), guard=Guard(allow=("ctypes",)), n_cases=1 if "loop" in name else 4)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, SUBMISSIONS.items()))


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_the_report_says_what_went_wrong(reports, name):
    text = reports[name].text()
    assert SUBMISSIONS[name][1] in text, text
    assert "no catalogued mistake" not in text, "the message explains it: no 'no catalogued mistake' line"


def test_every_relative_error_has_its_tolerance(reports):
    text = reports["W unchanged"].text()
    errors = re.findall(r"relative error [^ ,)]+", text)
    assert errors and len(errors) == len(re.findall(r"relative error [^ ,)]+ \(tolerance [^ ,]+, float64 rounding",
                                                    text)), text


def test_delta_L_is_labelled_BP1(reports):
    text = reports["the loop misses a layer"].text()
    assert re.search(r"δ\^\[4\] +\(BP1\)", text) and re.search(r"δ\^\[3\] +\(BP2\)", text), text


def test_signals_are_named():
    assert exit_text(-signal.SIGSEGV) == "the process crashed with a segmentation fault (SIGSEGV)"
    assert exit_text(-signal.SIGKILL) == "the process was killed by SIGKILL (out of memory?)"
    assert exit_text(3) == "the process stopped (exit status 3)"
