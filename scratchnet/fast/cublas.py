"""cuBLAS's gemm through ctypes, for the fused step's products on a GPU (scratchnet.fast.kernels.matmul_into).

The library is the one CuPy loaded (found in /proc/self/maps), called on CuPy's own handle and stream. The
module is given the cupy module by its caller (scratchnet.backend stays the one place that imports CuPy).
"""

import ctypes
import functools

import numpy

from scratchnet.errors import ScratchnetError


class Cublas:
    """cuBLAS's gemm and cublasSetStream through ctypes, on CuPy's own handle: the cheapest GEMM call from Python.

    CuPy's bindings refuse to run inside a CUDA-graph stream capture (its cublasSetStream wrapper raises
    NotImplementedError), although cuBLAS itself can be captured; this calls the library CuPy loaded, directly.
    """

    OP_N, OP_T = 0, 1  # cublasOperation_t

    def __init__(self, cupy):
        self.cupy = cupy
        cupy.cuda.device.get_cublas_handle()  # CuPy's handle: made with the libcublas CuPy loads, found below
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
        handle = self.cupy.cuda.device.get_cublas_handle()
        self.set_stream(handle, self.cupy.cuda.get_current_stream().ptr)
        if dtype == numpy.float32:
            gemm, one, zero = self.sgemm, self.one_f32, self.zero_f32
        else:
            gemm, one, zero = self.dgemm, self.one_f64, self.zero_f64
        status = gemm(handle, op_a, op_b, m, n, k, one.ctypes.data, A, lda, B, ldb, zero.ctypes.data, C, ldc)
        if status != 0:
            raise ScratchnetError(f"cuBLAS gemm failed with status {status}")


@functools.cache
def cublas(cupy):
    """The one Cublas of this process, made on first use (it needs a GPU)."""
    return Cublas(cupy)
