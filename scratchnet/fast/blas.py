"""numpy's own CPU BLAS, called directly: C ← α op(A) op(B) + β C in one call, written into the C given.

    python -m scratchnet.fast.blas          # which BLAS and kernel numpy runs here, whether scratchnet calls it
                                            # directly, and on how many threads
    python -m scratchnet.fast.blas --path   # also where the library is

np.matmul(a, b, out=c) is a BLAS gemm with α = 1 and β = 0, so an SGD update W ← W − α ∂C/∂W written with
it is two memory passes more than it needs: the product writes ∂C/∂W out, a subtraction reads it back. The
BLAS itself computes C ← α A B + β C; with β = 1 and α = −1 on A = (α δ^[l])ᵀ, B = a^[l-1] and C = W^[l],
one call is (BP4) and the update together, and ∂C/∂W^[l] is never stored. This module finds the OpenBLAS
that numpy itself loaded (threadpoolctl names the loaded libraries; numpys_own tells numpy's by what does not
change with the kernel OpenBLAS picks as it loads: its folder, version, symbols, build options), binds its cblas
gemm and gemv with ctypes, and checks them against np.matmul before use.
Where numpy runs another BLAS (MKL, Accelerate, BLIS) or the check fails, `cpu_blas()` is None and
`blas_line()` says why: the fused step then uses np.matmul, with the same results to rounding.

Why ctypes and not scipy.linalg.blas: scipy is not a dependency of scratchnet, and its wheels bundle a second
OpenBLAS with a thread pool of its own, so a step mixing numpy's and scipy's products would run two pools on
the same cores; scipy's wrappers also copy C silently unless it is Fortran-ordered and exactly the right
dtype, which would lose an in-place update without a word. Here one library does every product of the step.

The symbol names differ between builds: numpy ≥ 2 wheels export `scipy_cblas_sgemm64_` (64-bit integers),
numpy 1.2x wheels `cblas_sgemm64_`, a system or conda OpenBLAS plain `cblas_sgemm` (32-bit integers).
"""

import contextlib
import ctypes
import functools
import os
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from scratchnet.errors import UsageError

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS_ORDER, CBLAS_TRANSPOSE
AFFIXES = (("scipy_", "64_"), ("", "64_"), ("", "_64"), ("scipy_", ""), ("", ""))  # (prefix, suffix) of a build
ROUTINES = ("cblas_sgemm", "cblas_dgemm", "cblas_sgemv", "cblas_dgemv")
CONTROLS = ("openblas_get_config", "openblas_get_corename", "openblas_get_num_threads", "openblas_set_num_threads")


def _layout(A):
    """(transpose flag, leading dimension) that describe the 2-d array A to a row-major BLAS, or None.

    A row-major matrix has unit stride along its rows' elements (A[i, j] at i·ld + j); the transpose of one
    has unit stride down its columns. Row slices and column slices of either keep that form (a larger ld).
    """
    if A.dtype.byteorder not in "=|" or A.ndim != 2:
        return None
    item, (s0, s1), (rows, cols) = A.itemsize, A.strides, A.shape
    if s1 == item and s0 % item == 0 and s0 >= item * max(cols, 1):
        return NO_TRANS, max(s0 // item, cols, 1)
    if s0 == item and s1 % item == 0 and s1 >= item * max(rows, 1):
        return TRANS, max(s1 // item, rows, 1)
    return None


class Product:
    """One BLAS call bound once to its arrays: calling it runs the routine with no checks and no conversions.

    Binding costs about what np.matmul costs per call (checking the arrays, reading their addresses); a step
    that runs the same products every time binds them once and pays only the call. The arrays are kept
    alive as long as the Product is.
    """

    def __init__(self, routine, args, arrays):
        self.routine, self.args, self.arrays = routine, tuple(args), arrays

    def __call__(self):
        self.routine(*self.args)


class CpuBlas:
    """cblas gemm and gemv of one loaded OpenBLAS, for float32 and float64 NumPy arrays, through ctypes.

    Args:
        loaded: the library as find_blas found it (a Loaded: its path, already loaded by numpy, and how this
            build spells its symbols, e.g. "scipy_" and "64_" for scipy_cblas_sgemm64_). Its integers are
            64-bit in ILP64 builds (numpy's wheels): a 64 in the suffix, or USE64BITINT in its configuration.
    """

    def __init__(self, loaded):
        lib = ctypes.CDLL(loaded.path)
        self.lib, self.path = loaded, loaded.path
        self.int64 = "64" in loaded.suffix or "USE64BITINT" in loaded.config
        self.symbols = [f"{loaded.prefix}{name}{loaded.suffix}" for name in ROUTINES]
        sgemm, dgemm, sgemv, dgemv = (getattr(lib, symbol) for symbol in self.symbols)
        self.int = ctypes.c_int64 if self.int64 else ctypes.c_int32
        I, E, P = self.int, ctypes.c_int, ctypes.c_void_p
        for fn, real in ((sgemm, ctypes.c_float), (dgemm, ctypes.c_double)):
            fn.argtypes = [E, E, E, I, I, I, real, P, I, P, I, real, P, I]
            fn.restype = None
        for fn, real in ((sgemv, ctypes.c_float), (dgemv, ctypes.c_double)):
            fn.argtypes = [E, E, I, I, real, P, I, P, I, real, P, I]
            fn.restype = None
        self._get_threads = getattr(lib, f"{loaded.prefix}openblas_get_num_threads{loaded.suffix}")
        self._set_threads = getattr(lib, f"{loaded.prefix}openblas_set_num_threads{loaded.suffix}")
        self._get_threads.restype, self._set_threads.argtypes = ctypes.c_int, [ctypes.c_int]
        self.routines = {("gemm", np.dtype(np.float32)): (sgemm, ctypes.c_float),
                         ("gemm", np.dtype(np.float64)): (dgemm, ctypes.c_double),
                         ("gemv", np.dtype(np.float32)): (sgemv, ctypes.c_float),
                         ("gemv", np.dtype(np.float64)): (dgemv, ctypes.c_double)}

    @contextlib.contextmanager
    def one_thread(self):
        """While active, the library runs each call on the calling thread alone (its own count comes back after):
        a product's rounding then never depends on how many threads OpenBLAS has. About 2 µs."""
        before = self._get_threads()
        self._set_threads(1)
        try:
            yield
        finally:
            self._set_threads(before)

    def gemm(self, A, B, C, alpha=1.0, beta=0.0):
        """C ← α A B + β C, in place, now (bind_gemm has the rules)."""
        self.bind_gemm(A, B, C, alpha, beta)()

    def gemv(self, A, x, y, alpha=1.0, beta=0.0):
        """y ← α A x + β y, in place, now (bind_gemv has the rules)."""
        self.bind_gemv(A, x, y, alpha, beta)()

    def bind_gemm(self, A, B, C, alpha=1.0, beta=0.0):
        """The call C ← α A B + β C as a Product. Shapes: A (M, K), B (K, N), C (M, N), one dtype.

        A and B may be transposes (A = X.T) and row or column slices of C-ordered arrays; C must be such an
        array whose rows are contiguous, and may not overlap A or B. Anything else is refused: a BLAS cannot
        express it, and a copy would hide the cost this module exists to save.
        """
        (M, K), (K_b, N) = A.shape, B.shape
        if C.shape != (M, N) or K_b != K:
            raise UsageError(f"gemm: shapes {A.shape} @ {B.shape} do not give C's {C.shape}")
        routine, real = self._routine("gemm", A, B, C)
        (trans_a, ld_a), (trans_b, ld_b), (trans_c, ld_c) = _layout(A), _layout(B), _layout(C)
        if trans_c != NO_TRANS:
            raise UsageError("gemm: C must be row-major (C-ordered, or a row or column slice of such an array)")
        I, E, P = self.int, ctypes.c_int, ctypes.c_void_p
        args = (E(ROW_MAJOR), E(trans_a), E(trans_b), I(M), I(N), I(K), real(alpha), P(A.ctypes.data), I(ld_a),
                P(B.ctypes.data), I(ld_b), real(beta), P(C.ctypes.data), I(ld_c))
        return Product(routine, args, (A, B, C))

    def bind_gemv(self, A, x, y, alpha=1.0, beta=0.0):
        """The call y ← α A x + β y as a Product. Shapes: A (M, N), x (N,), y (M,) contiguous, one dtype.

        A may be a transpose: with A = (α δ)ᵀ and x = 1 this sums α δ over the batch, (BP3) for every row at once.
        """
        (M, N) = A.shape
        if x.shape != (N,) or y.shape != (M,):
            raise UsageError(f"gemv: shapes {A.shape} @ {x.shape} do not give y's {y.shape}")
        routine, real = self._routine("gemv", A, x, y)
        if not (x.flags.c_contiguous and y.flags.c_contiguous):
            raise UsageError("gemv: x and y must be contiguous vectors")
        trans, ld = _layout(A)
        rows, cols = (M, N) if trans == NO_TRANS else (N, M)  # the stored matrix, as the BLAS sees it
        I, E, P = self.int, ctypes.c_int, ctypes.c_void_p
        args = (E(ROW_MAJOR), E(trans), I(rows), I(cols), real(alpha), P(A.ctypes.data), I(ld),
                P(x.ctypes.data), I(1), real(beta), P(y.ctypes.data), I(1))
        return Product(routine, args, (A, x, y))

    def _routine(self, kind, A, B, C):
        """(routine, its real type) for the arrays' dtype, after refusing what a BLAS call cannot take."""
        if not A.dtype == B.dtype == C.dtype or (kind, A.dtype) not in self.routines:
            raise UsageError(f"BLAS call on {A.dtype}, {B.dtype}, {C.dtype}: give float32 or float64, one dtype")
        if any(_layout(v) is None for v in (A, B, C) if v.ndim == 2) or not C.flags.writeable:
            raise UsageError("BLAS call on an array with no unit stride along its rows or columns (or a "
                             "read-only output): pass a C-ordered array, its transpose, or a slice of either")
        if np.may_share_memory(C, A) or np.may_share_memory(C, B):
            raise UsageError("BLAS call whose output overlaps an input: the BLAS would read what it has written")
        return self.routines[kind, A.dtype]


def numpy_blas_config():
    """numpy's account of its BLAS: {"name": …, "version": …, "openblas configuration": …}, or {} for older numpy."""
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (TypeError, KeyError):  # numpy < 1.26 has no mode="dicts"
        return {}


@dataclass(frozen=True)
class Loaded:
    """One loaded OpenBLAS as it describes itself: where it is, how it spells its symbols, and what it says.

    config is its openblas_get_config() ("OpenBLAS 0.3.31  USE64BITINT DYNAMIC_ARCH … SkylakeX MAX_THREADS=64"),
    kernel its openblas_get_corename(): the kernel running now, which DYNAMIC_ARCH picked for this CPU
    (or OPENBLAS_CORETYPE forced) when the library loaded.
    """

    path: str
    prefix: str
    suffix: str
    config: str
    kernel: str

    @property
    def version(self):
        words = self.config.split()
        return words[1] if len(words) > 1 and words[0] == "OpenBLAS" else ""

    def describe(self):
        """"OpenBLAS 0.3.31 (SkylakeX kernel) in libopenblas.so": the library without the machine's folders."""
        return f"OpenBLAS {self.version or '?'} ({self.kernel or 'unnamed'} kernel) in {os.path.basename(self.path)}"


def _affixes(lib):
    """(prefix, suffix) under which this library exports every routine and control function, or None."""
    for prefix, suffix in AFFIXES:
        names = [f"{prefix}{name}{suffix}" for name in (*ROUTINES, *CONTROLS)]
        if all(hasattr(lib, name) for name in names):
            return prefix, suffix
    return None


def _says(lib, prefix, name, suffix):
    """The string the library's function prefix+name+suffix returns (openblas_get_config, …_get_corename)."""
    function = getattr(lib, f"{prefix}{name}{suffix}")
    function.restype = ctypes.c_char_p
    return (function() or b"").decode(errors="replace").strip()


def load(path):
    """The Loaded record of the OpenBLAS at path, or None where it lacks cblas gemm, gemv and its config."""
    lib = ctypes.CDLL(path)
    affixes = _affixes(lib)
    if affixes is None:
        return None
    return Loaded(path, *affixes, _says(lib, affixes[0], "openblas_get_config", affixes[1]),
                  _says(lib, affixes[0], "openblas_get_corename", affixes[1]))


def numpy_folders():
    """Where numpy's wheels keep the BLAS they bring: inside numpy/ (.dylibs, .libs) or beside it (numpy.libs)."""
    here = os.path.dirname(os.path.realpath(np.__file__))
    return here + os.sep, here + ".libs" + os.sep


def same_build(own, kernel, built):
    """Whether the configuration strings own (the library's, now) and built (numpy's, at its build) are one
    build's: word for word the same, except where own names the kernel running now. DYNAMIC_ARCH puts the
    kernel in the string, so numpy's build string names the build machine's kernel and the library names this one.
    """
    own_words, built_words = own.split(), built.split()
    return len(own_words) == len(built_words) and all(
        o == b or (kernel and o.lower() == kernel.lower()) for o, b in zip(own_words, built_words, strict=True))


def numpys_own(lib, config, folders, alone):
    """Whether the Loaded lib is numpy's own OpenBLAS, by what the kernel does not change (config is
    numpy_blas_config(); folders numpy_folders(); alone: it is the only OpenBLAS loaded).

    The version numpy was built against and the symbols' prefix must match where numpy names them; then the
    library is numpy's when it lies inside numpy's installation (a wheel's own copy), or when its configuration
    is numpy's build configuration with the kernel's name set aside (a system OpenBLAS numpy links to), or,
    where numpy records neither, when it is the only one loaded.
    """
    built = config.get("openblas configuration", "").strip()
    version = config.get("version", "")
    if version and lib.version and version != lib.version:
        return False
    if config.get("name", "") == "scipy-openblas" and lib.prefix != "scipy_":  # scipy-openblas renames its symbols
        return False
    if os.path.realpath(lib.path).startswith(folders):
        return True
    return same_build(lib.config, lib.kernel, built) if built else alone


def find_blas(paths, config, folders=None):
    """Bind numpy's OpenBLAS among the loaded libraries `paths`: (CpuBlas, None), or (None, why not).

    config is numpy_blas_config(), folders numpy_folders() (by default); numpys_own has the rule. A library
    inside numpy's installation is preferred to one that only matches its configuration (scipy's own copy, say).
    """
    name = config.get("name", "")
    if name and "openblas" not in name.lower():
        return None, f"numpy runs {name}, not OpenBLAS"
    folders = numpy_folders() if folders is None else folders
    loaded = [lib for lib in map(load, paths) if lib is not None]
    found = [lib for lib in loaded if numpys_own(lib, config, folders, alone=len(loaded) == 1)]
    if not found:
        seen = "; ".join(lib.describe() for lib in loaded) or "none is loaded"
        return None, f"no loaded OpenBLAS with cblas gemm and gemv is numpy's own ({seen})"
    found.sort(key=lambda lib: not os.path.realpath(lib.path).startswith(folders))
    blas = CpuBlas(found[0])
    problem = self_check(blas)
    return (None, problem) if problem else (blas, None)


def self_check(blas):
    """None when gemm and gemv agree with np.matmul on small products of both dtypes; otherwise what differed."""
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        A, B, C = (rng.standard_normal(shape).astype(dtype) for shape in ((7, 5), (3, 7), (5, 3)))
        expected = C - A.T @ B.T
        blas.gemm(A.T, B.T, C, alpha=-1.0, beta=1.0)  # both transposed, α = −1, β = 1: the folded update
        x, y = rng.standard_normal(7).astype(dtype), rng.standard_normal(5).astype(dtype)
        expected_y = A.T @ x
        blas.gemv(A.T, x, y)
        if not (np.allclose(C, expected, rtol=tol, atol=tol) and np.allclose(y, expected_y, rtol=tol, atol=tol)):
            return f"{blas.symbols[0]} of {blas.lib.describe()} disagreed with np.matmul on a {np.dtype(dtype)} check"
    return None


@functools.cache
def _found():
    paths = [lib.filepath for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers]
    return find_blas(paths, numpy_blas_config())


def cpu_blas():
    """numpy's OpenBLAS, bound and checked (a CpuBlas), or None when the fast CPU path must use np.matmul.

    A test or a benchmark that wants the np.matmul path sets this module's cpu_blas to `lambda: None`
    (scratchnet.fast.choose looks it up here at each call).
    """
    return _found()[0]


def blas_line():
    """One line saying which BLAS path the CPU fused step runs, for --help and the benchmark's machine record."""
    blas, problem = cpu_blas(), _found()[1] or "scratchnet.fast.blas.cpu_blas was set to give None"
    if blas is None:
        return f"CPU BLAS: np.matmul ({problem}); the update is a separate pass"
    ints = "64-bit" if blas.int64 else "32-bit"
    return (f"CPU BLAS: numpy's {blas.lib.describe().rsplit(' in ', 1)[0]}, called directly "
            f"({', '.join(blas.symbols)}, {ints} integers); checked against np.matmul")
