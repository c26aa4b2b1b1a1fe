"""scratchnet.fast.blas (numpy's own OpenBLAS called through ctypes) against np.matmul, and how it is found.

Every product C ← α op(A) op(B) + β C and y ← α A x + β y must equal NumPy's, for float32 and float64,
both transposes, β = 0 and 1, α = 1 and −1, row and column slices; what a BLAS cannot express (no unit
stride, an output overlapping an input, mixed dtypes) is refused with a UsageError, never computed wrong.
Where numpy runs no OpenBLAS these tests skip, saying which BLAS it runs. How numpy's own library is told
from others is tested apart from the machine's kernel: against made-up configuration strings (the same build
naming another kernel, another library, no string) and against this machine's library with numpy's string
rewritten to name another kernel. Run it as a user's machine would, and with a forced kernel:

    env -u OPENBLAS_CORETYPE python -m pytest tests/test_blas.py
    OPENBLAS_CORETYPE=Sandybridge python -m pytest tests/test_blas.py
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError
from scratchnet.fast import blas as blas_module
from scratchnet.fast.blas import Loaded, blas_line, find_blas, numpys_own, same_build, self_check

from conftest import REPO
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
    """The library bound is one threadpoolctl sees loaded, with the kernel it runs; the line names no folder."""
    loaded = {lib.filepath: lib.architecture for lib in ThreadpoolController().select(internal_api="openblas")
              .lib_controllers}
    assert blas.path in loaded and blas.lib.kernel == loaded[blas.path]
    line = blas_line()
    assert all(symbol in line for symbol in blas.symbols) and f"({blas.lib.kernel} kernel)" in line
    assert os.path.dirname(blas.path) not in line
    assert self_check(blas) is None


BUILT = "OpenBLAS 0.3.31  USE64BITINT DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"  # numpy's, at its build
NUMPY = {"name": "scipy-openblas", "version": "0.3.31", "openblas configuration": BUILT}
FOLDERS = ("/site/numpy/", "/site/numpy.libs/")


def fake(config, kernel, path="/usr/lib/libopenblas.so", prefix="scipy_"):
    return Loaded(path, prefix, "64_", config, kernel)


@pytest.mark.parametrize("kernel", ["Haswell", "SkylakeX", "Zen", "Sandybridge", "Prescott"])
def test_the_same_build_with_any_kernel_is_numpys(kernel):
    """DYNAMIC_ARCH names the kernel it picked: numpy's string says Haswell, the library now says another."""
    own = BUILT.replace("Haswell", kernel)
    assert numpys_own(fake(own, kernel), NUMPY, FOLDERS, alone=False)


@pytest.mark.parametrize("own", ["OpenBLAS 0.3.27  USE64BITINT DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64",
                                 "OpenBLAS 0.3.31  DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64",
                                 "OpenBLAS 0.3.31  USE64BITINT DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=128"])
def test_another_library_is_not_numpys(own):
    """Another version or other build options: another library (scipy's own copy, a system one), passed over."""
    assert not numpys_own(fake(own, "SkylakeX"), NUMPY, FOLDERS, alone=False)


def test_only_the_kernel_word_may_differ():
    """A word that differs where the library does not name its kernel is another build, whatever its kernel."""
    own = BUILT.replace("Haswell", "SkylakeX").replace("NO_AFFINITY", "USE_OPENMP")
    assert not same_build(own, "SkylakeX", BUILT) and same_build(BUILT, "Haswell", BUILT)
    assert not same_build(BUILT.replace("Haswell", "Zen"), "", BUILT)  # no kernel named: no word may differ


def test_inside_numpys_installation_is_numpys_whatever_its_string():
    """A wheel's own copy (numpy.libs) is numpy's even if its string were reworded; not at another version."""
    inside = fake("OpenBLAS 0.3.31 reworded SkylakeX", "SkylakeX", path="/site/numpy.libs/libscipy_openblas64_.so")
    assert numpys_own(inside, NUMPY, FOLDERS, alone=False)
    assert not numpys_own(inside, {**NUMPY, "version": "0.3.27"}, FOLDERS, alone=False)
    beside = fake(BUILT, "Haswell", path="/site/numpy_extra/libopenblas.so")  # a prefix of the folder, not inside
    assert not numpys_own(beside, {"name": "openblas"}, FOLDERS, alone=False)


def test_symbols_spelled_otherwise_are_not_scipy_openblas():
    assert not numpys_own(fake(BUILT, "Haswell", prefix=""), NUMPY, FOLDERS, alone=False)


@pytest.mark.parametrize("alone", [True, False])
def test_with_no_string_the_only_library_or_numpys_folder_decides(alone):
    """Older numpy records no configuration: the library inside numpy, or else the only one loaded."""
    outside = fake("OpenBLAS 0.3.31 SkylakeX", "SkylakeX")
    assert numpys_own(outside, {}, FOLDERS, alone=alone) == alone
    assert numpys_own(fake("OpenBLAS 0.3.31", "", path="/site/numpy/.dylibs/libopenblas.dylib"), {}, FOLDERS,
                      alone=False)


def test_the_real_library_under_another_kernel_name_is_found(blas):
    """This machine's library against numpy's string rewritten to name another kernel, with the folder rule off:
    found by its string alone, whichever kernel runs here."""
    other = "Zen" if blas.lib.kernel != "Zen" else "Haswell"
    config = {**blas_module.numpy_blas_config(), "openblas configuration": blas.lib.config.replace(blas.lib.kernel,
                                                                                                   other)}
    found, why = find_blas([blas.path], config, folders=())
    assert why is None and found.path == blas.path


def test_another_blas_falls_back_to_numpy_matmul():
    found, why = find_blas([], {"name": "mkl"})
    assert found is None and "mkl" in why


def test_no_loaded_openblas_falls_back():
    found, why = find_blas([], {"name": "scipy-openblas", "openblas configuration": "OpenBLAS 0.3.31"})
    assert found is None and "none is loaded" in why


def test_an_openblas_that_is_not_numpys_is_not_used(blas):
    """Another OpenBLAS in the process (scipy's, say) has another configuration string: it is passed over, and
    the reason names the library by its file name and kernel, not by the machine's folders."""
    found, why = find_blas([blas.path], {"name": "scipy-openblas", "openblas configuration": "OpenBLAS 0.0 other"},
                           folders=())
    assert found is None and os.path.basename(blas.path) in why and blas.lib.kernel in why
    assert os.path.dirname(blas.path) not in why


def test_a_failed_check_against_numpy_falls_back(blas, monkeypatch):
    monkeypatch.setattr(blas_module.CpuBlas, "gemm", lambda self, A, B, C, alpha=1.0, beta=0.0: None)
    found, why = find_blas([blas.path], blas_module.numpy_blas_config())
    assert found is None and "disagreed with np.matmul" in why


def test_cpu_blas_set_aside_says_np_matmul(blas, monkeypatch):
    """The documented way to run the np.matmul path where the BLAS is found: cpu_blas gives None."""
    monkeypatch.setattr(blas_module, "cpu_blas", lambda: None)
    assert blas_line().startswith("CPU BLAS: np.matmul (") and "set to give None" in blas_line()


def test_the_command_prints_the_line_and_the_path_only_when_asked(blas, capsys):
    from scratchnet.fast.__main__ import main

    main([])
    out = capsys.readouterr().out
    assert out.splitlines()[0] == blas_line() and "library:" not in out
    main(["--path"])
    assert capsys.readouterr().out.splitlines()[-1] == f"library: {blas.path}"


def test_the_command_says_library_kernel_and_thread_policy_and_no_folder(blas, tmp_path):
    """`python -m scratchnet.fast` as a user runs it: the BLAS line, the threads --threads auto runs, and
    the kernel (nothing measured yet: an empty cache folder)."""
    done = subprocess.run([sys.executable, "-m", "scratchnet.fast"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("CPU BLAS: ") and lines[1].startswith("threads (--threads auto): ")
    assert lines[2] == "kernel: as DYNAMIC_ARCH picked it (python -m scratchnet.fast.kernel measures them)"
    assert os.path.dirname(np.__file__) not in done.stdout
