"""scratchnet.fast.blas (numpy's own OpenBLAS called through ctypes) against np.matmul, and how it is found.

Every product C ← α op(A) op(B) + β C and y ← α A x + β y must equal NumPy's, for float32 and float64,
both transposes, β = 0 and 1, α = 1 and −1, row and column slices; what a BLAS cannot express (no unit
stride, an output overlapping an input, mixed dtypes) is refused with a UsageError, never computed wrong.
Where numpy runs no OpenBLAS these tests skip, saying which BLAS it runs; the finding logic is tested
apart from the machine.

    python -m pytest tests/test_blas.py
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError
from scratchnet.fast import blas as blas_module
from scratchnet.fast.blas import blas_line, find_blas, self_check

from helpers import assert_close

TOL = {"float32": 1e-5, "float64": 1e-12}




def operand(rng, shape, dtype, transposed, pad=0):
    """A (rows, cols) operand: a C-ordered array, or the transpose of one; pad > 0 makes it a column slice."""
    rows, cols = shape[::-1] if transposed else shape
    stored = rng.standard_normal((rows, cols + pad)).astype(dtype)[:, :cols]
    return stored.T if transposed else stored


@given(M=st.integers(1, 9), N=st.integers(1, 9), K=st.integers(1, 9), trans_a=st.booleans(), trans_b=st.booleans(),
       alpha=st.sampled_from([1.0, -1.0, 0.5]), beta=st.sampled_from([0.0, 1.0]), pad=st.integers(0, 2),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_gemm_equals_numpy(blas, M, N, K, trans_a, trans_b, alpha, beta, pad, dtype, seed):
    rng = np.random.default_rng(seed)
    A = operand(rng, (M, K), dtype, trans_a, pad)
    B = operand(rng, (K, N), dtype, trans_b, pad)
    C = rng.standard_normal((M, N + pad)).astype(dtype)[:, :N]  # a column slice: ld_c > N
    expected = alpha * (A.astype(np.float64) @ B) + beta * C
    beside = C.base[:, N:].copy()
    blas.gemm(A, B, C, alpha=alpha, beta=beta)
    assert_close(C, expected, f"C ← {alpha} A B + {beta} C", rtol=TOL[dtype], atol=TOL[dtype])
    assert_close(C.base[:, N:], beside, "the columns beside the slice", rtol=0)


def test_beta_zero_ignores_what_c_held(blas):
    """β = 0 overwrites C: a NaN left in it must not leak into the product (as β · NaN would)."""
    A, B = np.ones((3, 4), np.float32), np.ones((4, 2), np.float32)
    C = np.full((3, 2), np.nan, np.float32)
    blas.gemm(A, B, C)
    assert_close(C, np.full((3, 2), 4.0), "C = A B over a C full of NaN", rtol=0)


def test_folded_update_is_the_sgd_step(blas):
    """W ← W − (α δ)ᵀ a in one call equals W − α ∂C/∂W with ∂C/∂W = δᵀ a computed apart (float64)."""
    rng = np.random.default_rng(1)
    delta, a, W = rng.standard_normal((16, 5)), rng.standard_normal((16, 7)), rng.standard_normal((5, 7))
    lr = 0.1
    expected = W - lr * (delta.T @ a)
    blas.gemm((lr * delta).T, a, W, alpha=-1.0, beta=1.0)
    assert_close(W, expected, "W after the folded update", rtol=1e-12, atol=1e-14)


@given(M=st.integers(1, 9), N=st.integers(1, 9), trans=st.booleans(), alpha=st.sampled_from([1.0, -1.0]),
       beta=st.sampled_from([0.0, 1.0]), dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_gemv_equals_numpy(blas, M, N, trans, alpha, beta, dtype, seed):
    rng = np.random.default_rng(seed)
    A = operand(rng, (M, N), dtype, trans, pad=1)
    x, y = rng.standard_normal(N).astype(dtype), rng.standard_normal(M).astype(dtype)
    expected = alpha * (A.astype(np.float64) @ x) + beta * y
    blas.gemv(A, x, y, alpha=alpha, beta=beta)
    assert_close(y, expected, f"y ← {alpha} A x + {beta} y", rtol=TOL[dtype], atol=TOL[dtype])


def test_bias_update_sums_over_the_batch(blas):
    """b ← b − (α δ)ᵀ 1 is (BP3) and the update of b: the column sums of α δ, subtracted."""
    rng = np.random.default_rng(2)
    delta, b = rng.standard_normal((64, 10)), rng.standard_normal(10)
    expected = b - delta.sum(axis=0)
    blas.gemv(delta.T, np.ones(64), b, alpha=-1.0, beta=1.0)
    assert_close(b, expected, "b after the folded bias update", rtol=1e-12, atol=1e-13)


def test_a_bound_product_reads_the_arrays_when_called(blas):
    """bind_gemm binds addresses, not values: what the arrays hold at the call is what is multiplied."""
    A, B, C = np.ones((2, 3)), np.ones((3, 2)), np.zeros((2, 2))
    product = blas.bind_gemm(A, B, C)
    A[...] = 2.0
    product()
    assert_close(C, np.full((2, 2), 6.0), "C from A changed after binding", rtol=0)


@pytest.mark.parametrize("case", ["strided rows", "strided both", "mixed dtypes", "integers", "overlap", "C transposed",
                                  "read-only C", "shapes"])
def test_refuses_what_a_blas_cannot_express(blas, case):
    A, B, C = np.ones((4, 6)), np.ones((6, 3)), np.zeros((4, 3))
    arrays = {"strided rows": (np.ones((4, 12))[:, ::2], B, C),
              "strided both": (np.ones((8, 12))[::2, ::2], B, C),
              "mixed dtypes": (A.astype(np.float32), B, C),
              "integers": (A.astype(np.int64), B.astype(np.int64), C.astype(np.int64)),
              "overlap": (A, B, A[:, :3]),
              "C transposed": (A, B, np.zeros((3, 4)).T),
              "read-only C": (A, B, np.broadcast_to(np.zeros(3), (4, 3))),
              "shapes": (A, B[:5], C)}[case]
    before = arrays[2].copy()
    with pytest.raises(UsageError):
        blas.gemm(*arrays)
    assert_close(arrays[2], before, "C after a refused call", rtol=0)


def test_refuses_strided_vectors(blas):
    with pytest.raises(UsageError):
        blas.gemv(np.ones((3, 4)), np.ones(8)[::2], np.zeros(3))


def test_found_library_is_numpys_and_named(blas):
    """The library bound is one threadpoolctl sees loaded, whose configuration is the one numpy was built with."""
    loaded = [lib.filepath for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers]
    assert blas.path in loaded
    line = blas_line()
    assert all(symbol in line for symbol in blas.symbols) and blas.path in line
    assert self_check(blas) is None


def test_another_blas_falls_back_to_numpy_matmul():
    found, why = find_blas([], {"name": "mkl"})
    assert found is None and "mkl" in why


def test_no_loaded_openblas_falls_back():
    found, why = find_blas([], {"name": "scipy-openblas", "openblas configuration": "OpenBLAS 0.3.31"})
    assert found is None and "none is loaded" in why


def test_an_openblas_that_is_not_numpys_is_not_used(blas):
    """Another OpenBLAS in the process (scipy's, say) has another configuration string: it is passed over."""
    found, why = find_blas([blas.path], {"name": "scipy-openblas", "openblas configuration": "OpenBLAS 0.0 other"})
    assert found is None and blas.path in why


def test_a_failed_check_against_numpy_falls_back(blas, monkeypatch):
    monkeypatch.setattr(blas_module.CpuBlas, "gemm", lambda self, A, B, C, alpha=1.0, beta=0.0: None)
    found, why = find_blas([blas.path], blas_module.numpy_blas_config())
    assert found is None and "disagreed with np.matmul" in why
