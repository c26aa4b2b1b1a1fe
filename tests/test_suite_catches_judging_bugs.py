"""The suite can fail where a number is judged or computed outside the engine: bugs planted in the float32 rounding
bound, the grader's error measure and diagnosis, numpy's BLAS binding and the CPU fused step are each caught by
the test named beside them.

As tests/test_suite_catches_loop_bugs.py does: one copy of the repository (tests/planting.py), a control run of
every named test there that must pass, then per bug its file edited, its named test run in a fresh pytest
(the `planted` hypothesis profile), and the file restored; the test must fail with the bug's quantity in its
failure text. The rows for scratchnet/fast/blas.py and fused_cpu.py need numpy's OpenBLAS, found and
checked by scratchnet.fast.blas.cpu_blas: where it is not, their named tests skip and so do these rows,
saying why.

    python -m pytest tests/test_suite_catches_judging_bugs.py
"""

import pytest

from planting import Plant, PlantedCopy

pytestmark = pytest.mark.slow

MEASURE = "tests/test_grade_error_measure.py"
CATALOGUE = "tests/test_suite_catches_judging_bugs.py"
NEEDS_BLAS = {"scratchnet/fast/blas.py", "scratchnet/fast/fused_cpu.py"}

BUGS = {
    "the float32 bound 16 times too loose (u = 2^-20)": Plant(
        "scratchnet/checking/roundoff.py", "U = 2.0 ** -24", "U = 2.0 ** -20",
        ("tests/test_float32_accuracy.py::test_float32_gradients_are_within_the_rounding_bound[numpy]",),
        r"the bound is not tight: the worst error is [\d.e-]+ of it"),
    "the relative error the grader judges by, scaled by the answer alone (an all-zero answer is exact)": Plant(
        "scratchnet/checking/agreement.py", "scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))",
        "scale = np.abs(a).max(initial=0.0)", (f"{MEASURE}::test_an_all_zero_answer_is_off_by_one",),
        r"an all-zero answer is as far from the reference as the reference is large"),
    "the grader's error entry by entry, |s − r| / |r| (a 0 in the reference is never matched)": Plant(
        "scratchnet/checking/agreement.py", "float(np.abs(a - b).max() / scale)",
        "float((np.abs(a - b) / np.abs(b)).max())",
        (f"{MEASURE}::test_an_answer_one_ulp_off_passes",), r"an answer one ulp off measured (inf|nan)"),
    "the grader's float64 tolerance 1e-2 (an answer off by 1e-3 passes)": Plant(
        "scratchnet/grade/observe.py", "{np.dtype(np.float64): 1e-7", "{np.dtype(np.float64): 1e-2",
        (f"{MEASURE}::test_an_answer_off_by_1e_3_fails",), r"where 0\.01 = tolerance\("),
    "diagnosis blames (BP3) and (BP4) for a wrong δ^[l] they follow from": Plant(
        "scratchnet/grade/diagnosis.py", "f.follows = not f.verdict.ok", "f.follows = False",
        ("tests/test_exercise.py::test_a_one_character_edit_fails_at_its_equation[rows]",),
        r"(?s)Extra items in the left set:.*\(BP[34]\)"),
    "gemm given a padded row-major array's width as its leading dimension": Plant(
        "scratchnet/fast/blas.py", "return NO_TRANS, max(s0 // item, cols, 1)", "return NO_TRANS, max(cols, 1)",
        ("tests/test_blas.py::test_gemm_equals_numpy",),
        r"(?m)^[E|\s]*(C ← \S+ A B \+ \S+ C|the columns beside the slice)\s*$"),
    "the CPU fused step moves b^[l] uphill (BP3 + update with α = +1)": Plant(
        "scratchnet/fast/fused_cpu.py", "b[l], alpha=-1.0, beta=1.0)]", "b[l], alpha=1.0, beta=1.0)]",
        ("tests/test_fused_cpu.py::test_blas_steps_equal_the_reference",), r"(?m)^[E|\s]*b\[\d\] after step \d+\s*$"),
}


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """One copy of the repository for the whole catalogue, its named tests passing there first (the control)."""
    planted = PlantedCopy(tmp_path_factory.mktemp("judging"))
    planted.control(BUGS.values())
    return planted


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_the_named_test_catches_the_bug(bug, copy):
    if bug.file in NEEDS_BLAS:
        from scratchnet.fast.blas import blas_line, cpu_blas

        if cpu_blas() is None:
            pytest.skip(f"its named test needs numpy's OpenBLAS: {blas_line()}")
    copy.assert_caught(bug, CATALOGUE)


def test_a_stale_bug_string_fails_loudly(copy):
    stale = Plant("scratchnet/grade/observe.py", "this line is not in the grader", "", (MEASURE,), "")
    with pytest.raises(AssertionError, match="planted bug not applied"), copy.planted(stale, CATALOGUE):
        pass
