"""The fused step's kernels: each elementwise equation written twice, as NumPy lines and as one CUDA kernel.

scratchnet.fast.fused calls these on NumPy or CuPy arrays alike. `Elementwise` runs the NumPy lines on NumPy
arrays and, on CuPy arrays, the same equation as one `cupy.ElementwiseKernel` (compiled on first use);
softmax cross-entropy is one `cupy.RawKernel` beside its NumPy lines; `matmul_into` is np.matmul on the
CPU and one cuBLAS call on a GPU. Every kernel writes into arrays it is given; on a GPU none allocates.

Notation as in scratchnet.fast.fused: every δ here already carries the factor α of the update.
"""

import functools
import math

import numpy as np

from scratchnet.backend import get_xp
from scratchnet.errors import UsageError
from scratchnet.fast.cublas import cublas


class Elementwise:
    """One elementwise equation written twice: NumPy lines, and the same as one CUDA kernel for CuPy arrays.

    Args:
        name: the kernel's name, as profilers show it.
        numpy_fn: the NumPy lines, called with the arguments as given (outputs last, written in place).
        in_params, out_params, operation: the cupy.ElementwiseKernel spelling of the same equation.
    """

    def __init__(self, name, numpy_fn, in_params, out_params, operation):
        self.numpy_fn = numpy_fn
        self.spec = (in_params, out_params, operation, name)
        self.kernel = None  # compiled on the first call with CuPy arrays

    def __call__(self, *args):
        xp = get_xp(*args)
        if xp is np:
            return self.numpy_fn(*args)
        if self.kernel is None:
            self.kernel = xp.ElementwiseKernel(*self.spec)
        return self.kernel(*args)


def _bias_relu(b, a):
    np.add(a, b, out=a)
    np.maximum(a, 0, out=a)


def _relu_backward(a, delta):
    np.multiply(delta, a > 0, out=delta)


def _sgd(alpha_grad, state, theta):
    if state[1] == 0:
        np.subtract(theta, alpha_grad, out=theta)


# a^[l] = σ(z^[l]) = max(z^[l], 0), z^[l] = (W^[l] a^[l-1], already in a) + b^[l]; NaN stays NaN, as in np.maximum
bias_relu = Elementwise("bias_relu", _bias_relu, "T b", "T a",
                        "T z = a + b; a = (z > 0 || z != z) ? z : (T)0")
# (BP2) δ^[l] = σ′(z^[l]) ⊙ ((W^[l+1])ᵀ δ^[l+1], already in delta), σ′(z^[l]) = [a^[l] > 0] for ReLU
relu_backward = Elementwise("relu_backward", _relu_backward, "T a", "T delta", "delta = delta * (T)(a > 0)")
# θ ← θ − α ∂C/∂θ over the flat buffer (alpha_grad holds α ∂C/∂θ), unless a step has diverged (state[1] ≠ 0)
sgd = Elementwise("sgd", _sgd, "T alpha_grad, raw int32 state", "T theta", "if (state[1] == 0) theta -= alpha_grad")


def _softmax_cross_entropy_numpy(z, b, y, lr, delta, C, state):
    m = len(z)
    rows = np.arange(m)
    z += b                                             # z^[L] = W^[L] a^[L-1] + b^[L]
    z_max = z.max(axis=1, keepdims=True)               # softmax(z) = softmax(z − max z): e^z would overflow
    np.subtract(z, z_max, out=delta)
    np.exp(delta, out=delta)                           # e^{z − max z}
    Z = delta.sum(axis=1, keepdims=True)
    C[...] = (np.log(Z[:, 0]) - (z[rows, y] - z_max[:, 0])).mean()  # C = −(1/m) Σᵢ log softmax(z)ᵢ[yᵢ]
    delta /= Z                                         # p = softmax(z^[L])
    delta[rows, y] = 0                                 # p_k for k ≠ y, so that the sum below is Σ_{k≠y} p_k
    delta[rows, y] = -delta.sum(axis=1)                # p − onehot(y): p_y − 1 = −Σ_{k≠y} p_k; naive p_y − 1 cancels
    delta *= lr[0] / m                                 # (BP1) α δ^[L] = α (p − onehot(y))/m
    state[0] += 1                                      # steps taken
    if state[1] == 0 and not math.isfinite(C):
        state[1] = state[0]                            # the first step whose C is NaN or ±∞


_SOFTMAX_CROSS_ENTROPY_CUDA = r"""
// The same lines as _softmax_cross_entropy_numpy, one block: thread j takes rows j, j + blockDim.x, …
extern "C" __global__ void softmax_cross_entropy(T* z, const T* b, const long long* y, const T* lr,
                                                 const int m, const int n, T* delta, T* C, int* state) {
    __shared__ T partial[THREADS];
    T sum = 0;
    for (int i = threadIdx.x; i < m; i += blockDim.x) {
        T* zi = z + (long long)i * n;
        T* di = delta + (long long)i * n;
        T z_max = zi[0] + b[0];
        for (int k = 0; k < n; ++k) {
            zi[k] += b[k];                                   // z^[L] = W^[L] a^[L-1] + b^[L]
            z_max = zi[k] > z_max ? zi[k] : z_max;
        }
        T Z = 0;
        for (int k = 0; k < n; ++k) {
            di[k] = EXP(zi[k] - z_max);                      // e^{z − max z}
            Z += di[k];
        }
        const T scale = lr[0] / m;
        T others = 0;                                        // Σ_{k≠y} p_k
        for (int k = 0; k < n; ++k) {
            di[k] /= Z;                                      // p = softmax(z^[L])
            if (k != y[i]) others += di[k];
        }
        for (int k = 0; k < n; ++k) {                        // (BP1) α δ^[L] = α (p − onehot(y))/m, where
            di[k] = (k == y[i] ? -others : di[k]) * scale;   // p_y − 1 = −Σ_{k≠y} p_k: naive p_y − 1 cancels
        }
        sum += LOG(Z) - (zi[y[i]] - z_max);                  // −log softmax(z)ᵢ[yᵢ]
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        const T c = partial[0] / m;                          // C, the batch mean
        C[0] = c;
        state[0] += 1;                                       // steps taken
        if (state[1] == 0 && !(c - c == 0)) state[1] = state[0];  // the first C that is NaN or ±∞
    }
}
"""
THREADS = 256
_CUDA_TYPES = {np.float32: "typedef float T;\n#define EXP expf\n#define LOG logf\n",
               np.float64: "typedef double T;\n#define EXP exp\n#define LOG log\n"}


@functools.cache
def _softmax_cross_entropy_kernel(cupy, dtype):
    return cupy.RawKernel(_CUDA_TYPES[dtype.type] + f"#define THREADS {THREADS}\n" + _SOFTMAX_CROSS_ENTROPY_CUDA,
                          "softmax_cross_entropy")


def softmax_cross_entropy(z, b, y, lr, delta, C, state):
    """z^[L] += b^[L]; C = −(1/m) Σᵢ log softmax(z^[L])ᵢ[yᵢ]; (BP1) α δ^[L] = α (softmax(z^[L]) − onehot(y))/m.

    Also counts the step in state[0] and records in state[1] the first step whose C is not finite.
    Shapes: z, delta (m, n_L); b (n_L,); y (m,) int64; lr (1,) holds α; C () ; state (2,) int32.
    """
    xp = get_xp(z)
    if xp is np:
        return _softmax_cross_entropy_numpy(z, b, y, lr, delta, C, state)
    m, n = z.shape
    kernel = _softmax_cross_entropy_kernel(xp, np.dtype(z.dtype))
    kernel((1,), (THREADS,), (z, b, y, lr, np.int32(m), np.int32(n), delta, C, state))


def matmul_into(a, b, out):
    """out = a @ b for 2-d arrays of one dtype, out C-contiguous, a and b C- or F-contiguous (a transpose of one).

    NumPy: np.matmul. CuPy: one cuBLAS gemm called directly (scratchnet.fast.cublas.Cublas), which costs less
    Python per call than cupy.matmul and can be captured in a CUDA graph. cuBLAS is column-major, so it
    computes outᵀ = bᵀ aᵀ: to it a C-contiguous matrix is already its transpose, an F-contiguous one is not.
    """
    xp = get_xp(a)
    if xp is np:
        np.matmul(a, b, out=out)
        return
    if not (a.dtype == b.dtype == out.dtype and out.flags.c_contiguous
            and all(v.flags.c_contiguous or v.flags.f_contiguous for v in (a, b))):
        raise UsageError("matmul_into takes arrays of one dtype, each C- or F-contiguous, out C-contiguous")
    M, N, K = out.shape[0], out.shape[1], a.shape[1]
    blas = cublas(xp)
    op_b, ld_b = (blas.OP_N, N) if b.flags.c_contiguous else (blas.OP_T, K)
    op_a, ld_a = (blas.OP_N, K) if a.flags.c_contiguous else (blas.OP_T, M)
    blas.gemm(out.dtype, op_b, op_a, N, M, K, b.data.ptr, ld_b, a.data.ptr, ld_a, out.data.ptr, N)
