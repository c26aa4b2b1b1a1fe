"""The tutorial's training step, fused: the equations of network.py, losses.py and optim.py on preallocated arrays.

Network.forward, Network.cost, Network.backward and SGD.step are the reference, written to be read beside
the equations. This module is their fast path for the one model the tutorial trains (ReLU hidden layers,
softmax cross-entropy, plain SGD: no momentum, weight decay or dropout), and tests/test_fused.py checks it
against them. It runs on NumPy and on CuPy from the same lines; each elementwise equation is written twice,
as NumPy lines and as one CUDA kernel, side by side (`Elementwise`), so that on a GPU it costs one launch.

Three things differ from the reference, and none changes the mathematics:

- The hidden z^[l] is never stored. a^[l] = max(W^[l] a^[l-1] + b^[l], 0) is written over the product in
  place, and σ′(z^[l]) = [z^[l] > 0] = [a^[l] > 0] is read back from a^[l].
- α enters at δ^[L]. The δ recursion (BP2) and the gradients (BP3), (BP4) are linear in δ^[L], so starting
  from α δ^[L] makes them produce α ∂C/∂W^[l] and α ∂C/∂b^[l], and the update θ ← θ − α ∂C/∂θ becomes one
  subtraction over one flat buffer that holds every W^[l] and b^[l] (net.W[l], net.b[l] are views into it).
- The divergence check stays on the device. The cost kernel counts the steps and records the first whose
  C is NaN or infinite; from then on the update is skipped, so the parameters stay the last good ones. The
  host asks `first_bad_step()` when it prints the loss: on a GPU nothing waits for the device in between.

Shapes: as in network.py, a batch of m samples is stacked as rows: a[l], delta[l] (m, n_l); x (m, n_1), y (m,).
"""

import math

import numpy as np

from scratchnet.backend import cublas, cupy, get_xp
from scratchnet.errors import UsageError


class Elementwise:
    """One elementwise equation written twice: NumPy lines, and the same as one CUDA kernel for CuPy arrays.

    Args:
        numpy_fn: the NumPy lines, called with the arguments as given (outputs last, written in place).
        in_params, out_params, operation: the cupy.ElementwiseKernel spelling of the same equation.
    """

    def __init__(self, name, numpy_fn, in_params, out_params, operation):
        self.name, self.numpy_fn = name, numpy_fn
        self.spec = (in_params, out_params, operation, name)
        self.kernel = None  # compiled on the first call with CuPy arrays

    def __call__(self, *args):
        if get_xp(*args) is np:
            return self.numpy_fn(*args)
        if self.kernel is None:
            self.kernel = cupy.ElementwiseKernel(*self.spec)
        return self.kernel(*args)


def _bias_relu(b, a):
    np.add(a, b, out=a)
    np.maximum(a, 0, out=a)


def _relu_backward(a, delta):
    np.multiply(delta, a > 0, out=delta)


def _sgd(g, state, theta):
    if state[1] == 0:
        np.subtract(theta, g, out=theta)


# a^[l] = σ(z^[l]) = max(z^[l], 0), z^[l] = (W^[l] a^[l-1], already in a) + b^[l]; NaN stays NaN, as in np.maximum
bias_relu = Elementwise("bias_relu", _bias_relu, "T b", "T a",
                        "T z = a + b; a = (z > 0 || z != z) ? z : (T)0")
# (BP2) δ^[l] = σ′(z^[l]) ⊙ ((W^[l+1])ᵀ δ^[l+1], already in delta), σ′(z^[l]) = [a^[l] > 0] for ReLU
relu_backward = Elementwise("relu_backward", _relu_backward, "T a", "T delta", "delta = delta * (T)(a > 0)")
# θ ← θ − g with g = α ∂C/∂θ over the flat buffer, unless a step has diverged (state[1] ≠ 0)
sgd = Elementwise("sgd", _sgd, "T g, raw int32 state", "T theta", "if (state[1] == 0) theta -= g")


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
    delta[rows, y] -= 1                                # p − onehot(y)
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
        for (int k = 0; k < n; ++k) {
            di[k] = (di[k] / Z - (T)(k == y[i])) * scale;    // (BP1) α δ^[L] = α (p − onehot(y))/m
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
_softmax_kernels = {}


def softmax_cross_entropy(z, b, y, lr, delta, C, state):
    """z^[L] += b^[L]; C = −(1/m) Σᵢ log softmax(z^[L])ᵢ[yᵢ]; (BP1) α δ^[L] = α (softmax(z^[L]) − onehot(y))/m.

    Also counts the step in state[0] and records in state[1] the first step whose C is not finite.
    Shapes: z, delta (m, n_L); b (n_L,); y (m,) int64; lr (1,) holds α; C () ; state (2,) int32.
    """
    if get_xp(z) is np:
        return _softmax_cross_entropy_numpy(z, b, y, lr, delta, C, state)
    dtype = np.dtype(z.dtype)
    if dtype not in _softmax_kernels:
        source = _CUDA_TYPES[dtype.type] + f"#define THREADS {THREADS}\n" + _SOFTMAX_CROSS_ENTROPY_CUDA
        _softmax_kernels[dtype] = cupy.RawKernel(source, "softmax_cross_entropy")
    m, n = z.shape
    _softmax_kernels[dtype]((1,), (THREADS,), (z, b, y, lr, np.int32(m), np.int32(n), delta, C, state))


def matmul_into(a, b, out):
    """out = a @ b for 2-d arrays, out C-contiguous, a and b C- or F-contiguous (a transpose of one).

    NumPy: np.matmul. CuPy: one cuBLAS gemm called directly (scratchnet.backend.Cublas), which costs less
    Python per call than cupy.matmul and can be captured in a CUDA graph. cuBLAS is column-major, so it
    computes outᵀ = bᵀ aᵀ: to it a C-contiguous matrix is already its transpose, an F-contiguous one is not.
    """
    if get_xp(a) is np:
        return np.matmul(a, b, out=out)
    M, N, K = out.shape[0], out.shape[1], a.shape[1]
    blas = cublas()
    op_b, ld_b = (blas.OP_N, N) if b.flags.c_contiguous else (blas.OP_T, K)
    op_a, ld_a = (blas.OP_N, K) if a.flags.c_contiguous else (blas.OP_T, M)
    blas.gemm(out.dtype, op_b, op_a, N, M, K, b.data.ptr, ld_b, a.data.ptr, ld_a, out.data.ptr, N)


def fused_problem(net, opt):
    """None when the fused step computes what net and opt do; otherwise why not, as one phrase."""
    from scratchnet.optim import SGD

    if net.loss != "cross-entropy":
        return f"the fused step needs the cross-entropy loss, not {net.loss}"
    if any(name != "relu" for l, name in net.activation.items() if l < net.L):
        return "the fused step needs ReLU in every hidden layer"
    if net.dropout:
        return "the fused step has no dropout"
    if type(opt) is not SGD or opt.momentum or opt.weight_decay:
        return "the fused step needs plain SGD (no momentum, weight decay, Adam or AdamW)"
    return None


class FusedStep:
    """One SGD step of net on a batch, fused (module docstring): `step(x, y)` returns C as a 0-d array.

    Args:
        net: the Network; its W[l], b[l] become views into one flat parameter buffer θ.
        opt: its plain SGD optimizer; α is read from opt.lr at every step, and opt.t counts the steps.
        max_batch: the largest m that step() will be given; every array is allocated for it once.
    """

    def __init__(self, net, opt, max_batch):
        problem = fused_problem(net, opt)
        if problem:
            raise UsageError(problem)
        xp = self.xp = get_xp(net.W[2])
        self.net, self.opt, self.L = net, opt, net.L
        dtype, n = net.dtype, net.sizes
        layers = range(2, self.L + 1)
        total = sum(net.W[l].size + net.b[l].size for l in layers)
        self.theta = xp.empty(total, dtype)                # θ: every W^[l], b^[l], one after the other
        self.g = xp.empty(total, dtype)                    # α ∂C/∂θ in the same layout
        self.gW, self.gb, offset = {}, {}, 0
        for l in layers:
            for params, grads in ((net.W, self.gW), (net.b, self.gb)):
                size, shape = params[l].size, params[l].shape
                self.theta[offset:offset + size] = params[l].ravel()
                params[l] = self.theta[offset:offset + size].reshape(shape)  # the Network now updates in θ
                grads[l] = self.g[offset:offset + size].reshape(shape)
                offset += size
        self.W, self.b = dict(net.W), dict(net.b)          # to notice a W[l] or b[l] replaced behind our back
        self.a = {l: xp.empty((max_batch, n[l - 1]), dtype) for l in layers}        # a^[l]; a[L] holds z^[L]
        self.delta = {l: xp.empty((max_batch, n[l - 1]), dtype) for l in layers}    # α δ^[l]
        self.ones = xp.ones((1, max_batch), dtype)         # 1ᵀ: 1ᵀ (α δ^[l]) sums α δ^[l] over the batch
        self.gb2 = {l: self.gb[l].reshape(1, -1) for l in layers}
        self.lr = np.array([opt.lr], dtype)                # α, on the host; copied to the device when it changes
        self.lr_device = xp.asarray(self.lr)
        self.C = xp.zeros((), dtype)                       # the last step's C
        self.state = xp.zeros(2, np.int32)                 # steps taken, first step with a non-finite C (0: none)
        self.max_batch = max_batch
        self.steps = 0                                     # steps asked for, counted on the host
        self.graph = None                                  # the CUDA graph of one step, once capture() made it

    def step(self, x, y):
        """Forward, cost and α δ^[L], backward, update: one step of SGD on the batch (x, y).

        Returns C as a 0-d array that the next step overwrites (read it, or add it up, before then).
        After capture(), a full batch replays the CUDA graph instead of launching each kernel.
        """
        net, m = self.net, len(x)
        if m > self.max_batch or any(net.W[l] is not self.W[l] or net.b[l] is not self.b[l] for l in self.W):
            raise UsageError("this fused step was built for a larger batch or for other parameter arrays: "
                             "build a new FusedStep")
        if y.dtype != np.int64:
            raise UsageError(f"labels must be int64 for the fused step, got {y.dtype}")
        if self.opt.lr != self.lr[0]:
            self.lr[0] = self.opt.lr
            self.lr_device.fill(self.opt.lr)                # on the device too, without waiting for it
        if self.graph is not None and m == self.max_batch:
            self.x_graph[...] = x                           # the graph reads its batch from these two arrays
            self.y_graph[...] = y
            self.graph.launch(stream=self.xp.cuda.Stream.null)
        else:
            self._equations(self.xp.ascontiguousarray(x), self.xp.ascontiguousarray(y))
        self.opt.t += 1
        self.steps += 1
        return self.C

    def _equations(self, x, y):
        """The step itself, equation by equation, on the first m = len(x) rows of every buffer."""
        L, a, delta, m = self.L, self.a, self.delta, len(x)
        a[1] = x                                            # a^[1] = x                            (m, n_1)
        for l in range(2, L + 1):
            matmul_into(a[l - 1][:m], self.W[l].T, a[l][:m])  # W^[l] a^[l-1]                     (m, n_l)
            if l < L:
                bias_relu(self.b[l], a[l][:m])              # a^[l] = max(W^[l] a^[l-1] + b^[l], 0)  (m, n_l)
        softmax_cross_entropy(a[L][:m], self.b[L], y, self.lr_device, delta[L][:m], self.C, self.state)  # (BP1)
        for l in range(L, 1, -1):
            matmul_into(delta[l][:m].T, a[l - 1][:m], self.gW[l])  # (BP4) α ∂C/∂W^[l] = (α δ^[l]) (a^[l-1])ᵀ
            matmul_into(self.ones[:, :m], delta[l][:m], self.gb2[l])  # (BP3) α ∂C/∂b^[l] = Σ_batch α δ^[l]
            if l > 2:
                matmul_into(delta[l][:m], self.W[l], delta[l - 1][:m])  # (W^[l])ᵀ α δ^[l]
                relu_backward(a[l - 1][:m], delta[l - 1][:m])  # (BP2) α δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ α δ^[l]
        sgd(self.g, self.state, self.theta)                 # θ ← θ − α ∂C/∂θ, all W^[l] and b^[l] at once

    def capture(self):
        """Record one whole step on a batch of max_batch rows as a CUDA graph (CuPy only): then each full batch
        costs two copies and one graph launch instead of ~20 kernel launches from Python.

        A graph replays fixed addresses, so it reads its batch from two arrays of its own, and α from the
        device. Nothing may be compiled or loaded during a capture: one step on scratch copies of the
        parameters and counters compiles every kernel first, and is then undone.
        """
        xp = self.xp
        if xp is np:
            raise UsageError("a CUDA graph needs the network on a GPU (CuPy arrays)")
        self.x_graph = xp.zeros((self.max_batch, self.net.sizes[0]), self.net.dtype)
        self.y_graph = xp.zeros(self.max_batch, np.int64)
        kept = self.theta.copy(), self.state.copy(), self.C.copy()
        self._equations(self.x_graph, self.y_graph)
        self.theta[...], self.state[...], self.C[...] = kept
        stream = xp.cuda.Stream(non_blocking=True)
        xp.cuda.Stream.null.synchronize()
        with stream:
            stream.begin_capture()
            self._equations(self.x_graph, self.y_graph)
            self.graph = stream.end_capture()

    def first_bad_step(self):
        """The number (1, 2, …, as `steps` counts them) of the first step whose C was NaN or ±∞.

        None while every C was finite. Reading it waits for the device: call it when printing the loss.
        """
        bad = int(self.state[1])
        return bad or None
