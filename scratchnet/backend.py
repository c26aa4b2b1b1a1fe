"""The one place that knows about CuPy: pick the array module for a device, or from the arrays at hand.

Arrays carry their device with them, so the engine never asks a global flag. It writes

    xp = get_xp(z)          # numpy for numpy arrays, cupy for cupy arrays
    a = xp.maximum(z, 0)

only where it creates arrays or calls ufuncs; operators (@ * + .T .sum) need no xp at all.
"""

import ctypes
import functools

import numpy

from scratchnet.errors import ScratchnetError, UsageError

try:
    import cupy
except ImportError:  # CuPy is the optional extra `gpu`; without it everything runs on NumPy.
    cupy = None


def get_xp(*arrays):
    """The array module (numpy or cupy) that owns `arrays`."""
    if cupy is None:
        return numpy
    return cupy.get_array_module(*arrays)


class Cublas:
    """cuBLAS's gemm and cublasSetStream through ctypes, on CuPy's own handle: the cheapest GEMM call from Python.

    CuPy's bindings refuse to run inside a CUDA-graph stream capture (its cublasSetStream wrapper raises
    NotImplementedError), although cuBLAS itself can be captured; this calls the library CuPy loaded, directly.
    """

    OP_N, OP_T = 0, 1  # cublasOperation_t

    def __init__(self):
        from cupy_backends.cuda.libs import cublas  # noqa: F401  (loads libcublas into this process)

        with open("/proc/self/maps") as maps:
            path = next((line.split()[-1] for line in maps if "/libcublas.so" in line), None)
        if path is None:
            raise ScratchnetError("CuPy loaded no libcublas into this process: the fused step's GEMMs need it")
        lib = ctypes.CDLL(path)
        self.set_stream = lib.cublasSetStream_v2
        self.set_stream.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.sgemm, self.dgemm = lib.cublasSgemm_v2, lib.cublasDgemm_v2
        self.one_f32, self.zero_f32 = numpy.ones(1, numpy.float32), numpy.zeros(1, numpy.float32)  # α = 1, β = 0,
        self.one_f64, self.zero_f64 = numpy.ones(1, numpy.float64), numpy.zeros(1, numpy.float64)  # on the host
        for gemm in (self.sgemm, self.dgemm):
            gemm.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]

    def gemm(self, dtype, op_a, op_b, m, n, k, A, lda, B, ldb, C, ldc):
        """C = op(A) op(B) in column-major terms (cuBLAS's), α = 1, β = 0, on CuPy's current stream."""
        handle = cupy.cuda.device.get_cublas_handle()
        self.set_stream(handle, cupy.cuda.get_current_stream().ptr)
        if dtype == numpy.float32:
            gemm, one, zero = self.sgemm, self.one_f32, self.zero_f32
        else:
            gemm, one, zero = self.dgemm, self.one_f64, self.zero_f64
        status = gemm(handle, op_a, op_b, m, n, k, one.ctypes.data, A, lda, B, ldb, zero.ctypes.data, C, ldc)
        if status != 0:
            raise ScratchnetError(f"cuBLAS gemm failed with status {status}")


@functools.cache
def cublas():
    """The one Cublas of this process, made on first use (it needs a GPU)."""
    return Cublas()


def gpu_problem():
    """None when CuPy sees a CUDA GPU; otherwise why not, as one phrase for an error line."""
    if cupy is None:
        return "CuPy is not installed (pip install 'scratchnet[gpu]'; the README says which wheel)"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy imports fine without a GPU, then raises CUDARuntimeError at first use
        return f"CuPy sees no CUDA GPU ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    return None if count > 0 else "CuPy sees no CUDA GPU (0 devices)"


def xp_for_device(device):
    """The array module for `device`, chosen once at the edge.

    "cpu" → numpy; "cuda" → cupy, or a UsageError saying why not; "auto" → cupy when it sees a GPU, else numpy.
    """
    if device == "cpu":
        return numpy
    if device in ("cuda", "auto"):
        problem = gpu_problem()
        if problem is None:
            return cupy
        if device == "auto":
            return numpy
        raise UsageError(f"--device cuda: {problem}; use --device cpu")
    raise UsageError(f"unknown device {device!r}: use cpu, cuda or auto")


def to_numpy(a):
    """A NumPy copy of `a` (a no-op view for NumPy arrays), e.g. for printing or saving."""
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return numpy.asarray(a)
