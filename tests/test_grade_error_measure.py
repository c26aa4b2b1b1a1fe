"""The grader's error measure is the one scratchnet/grade/observe.py documents, cs231n's relative error of the whole
array, max |s − r| / max(max |s|, max |r|), and its verdicts follow from it at the dtype's tolerance.

An all-zero answer is off by 1 (not exact: a measure scaled by the answer alone would call it 0); an answer one
ulp from the reference, entry by entry, is within ε of it and passes; an answer off by 1e-3 relative fails in
float64 and in float32. The measure is symmetric, and 0 only for equal arrays.

    python -m pytest tests/test_grade_error_measure.py
"""

import numpy as np
import pytest

from scratchnet.checking.agreement import relative_error as rel_error
from scratchnet.grade.observe import Observation, tolerance, verdict


class Quantity:
    """The two fields of a grader's quantity that verdict reads for an array: its name and its label."""

    name, label = "dW", "∂C/∂W^[3]"


def reference(dtype):
    """A reference answer with entries of many sizes, some exactly 0 (ReLU units that were off)."""
    r = np.random.default_rng(0).normal(size=(4, 5)) * np.logspace(-3, 3, 5)
    r[0, :2] = 0.0
    return r.astype(dtype)


def judged(answer, expected):
    """The grader's verdict, with a rounding bound of a few units of the dtype's ε on every entry (bounds.py's
    order for these one-operation quantities, normwise)."""
    bound = np.full(expected.shape, 4 * np.finfo(expected.dtype).eps * np.abs(expected).max(), np.float64)
    return verdict(Quantity(), Observation("array", value=answer), expected, "rows", bound, str(expected.dtype))


def test_the_measure_is_the_documented_formula():
    r = reference(np.float64)
    s = r + np.random.default_rng(1).normal(size=r.shape)
    expected = np.abs(s - r).max() / max(np.abs(s).max(), np.abs(r).max())
    assert rel_error(s, r) == expected
    assert rel_error(s, r) == rel_error(r, s), "the measure is symmetric in the answer and the reference"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_all_zero_answer_is_off_by_one(dtype):
    r = reference(dtype)
    zero = np.zeros_like(r)
    assert rel_error(zero, r) == 1.0, "an all-zero answer is as far from the reference as the reference is large"
    assert not judged(zero, r).ok


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_answer_one_ulp_off_passes(dtype):
    r = reference(dtype)
    s = np.nextafter(r, np.inf)  # every entry one ulp up, the zeros to the least subnormal
    eps = np.finfo(dtype).eps
    assert 0 < rel_error(s, r) <= eps, f"an answer one ulp off measured {rel_error(s, r):.3g}, not within ε"
    assert judged(s, r).ok


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_answer_off_by_1e_3_fails(dtype):
    r = reference(dtype)
    s = (r * (1 + 1e-3)).astype(dtype)
    assert rel_error(s, r) == pytest.approx(1e-3, rel=1e-3)
    assert tolerance(dtype) < 1e-3
    assert not judged(s, r).ok


def test_equal_arrays_and_zeros_are_exact():
    r = reference(np.float64)
    assert rel_error(r, r.copy()) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
