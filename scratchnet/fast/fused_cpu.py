"""The fused step on the CPU, with the SGD update inside the BLAS calls that compute the gradients.

scratchnet.fast.fused computes α ∂C/∂θ into a buffer, then subtracts it from θ: on the CPU that is two memory
passes over all 670,000 parameters that numpy's matmul cannot avoid, since it always writes C = A B. The
BLAS itself computes C ← α A B + β C, so here numpy's own OpenBLAS (scratchnet.fast.blas) is called with β = 1:

    (BP4) + update   W^[l] ← W^[l] − (α δ^[l])ᵀ a^[l-1]     one sgemm, α = −1, β = 1, straight into W^[l]
    (BP3) + update   b^[l] ← b^[l] − (α δ^[l])ᵀ 1           one sgemv, α = −1, β = 1, straight into b^[l]

and ∂C/∂W^[l], ∂C/∂b^[l] are never stored. α δ^[l] already carries the learning rate and the 1/m of the
mean (scratchnet.fast.fused's docstring says why that changes nothing but rounding). Within a layer (BP2) runs
first: it reads W^[l] before the update writes it. Every product is bound to its preallocated arrays once
per batch size (scratchnet.fast.blas.Product) and cut into pieces fixed by its shape, which the workers of
scratchnet.fast.parallel share out (its docstring says why any number of them gives the same bits); the
elementwise equations run on the calling thread between the layers. The batch is copied into a^[1].

The step updates the Network's own W^[l], b^[l] in place: there is no θ to copy back, so net holds the
parameters after every step. The divergence check needs no device either: C is on the host once the cost
is computed, before backward starts. A non-finite C is recorded, that step and every later one leave W
and b as they are, and `sync()` raises, as scratchnet.fast.fused does on a GPU.

Shapes: as in network.py, a[l], alpha_delta[l] (m, n_l) with samples as rows; W[l] (n_l, n_{l-1}); b[l] (n_l,).
"""

import numpy as np

from scratchnet.errors import UsageError
from scratchnet.fast.kernels import bias_relu, relu_backward, softmax_cross_entropy
from scratchnet.fast.parallel import blocks, cuts, gemm_tasks, shared_workers
from scratchnet.fast.rules import check_fusable, diverged, refuse_batch


class BlasStep:
    """One SGD step of net on a batch, with the update folded into numpy's BLAS: `step(x, y)` returns C.

    Args:
        net: a NumPy Network; its W[l], b[l] are updated in place (they stay the Network's own arrays).
        opt: its plain SGD optimizer: it owns α_t and the step count t (opt.count_step(), once a step).
        max_batch: the largest m that step() will be given; every array is allocated for it once.
        blas: a scratchnet.fast.blas.CpuBlas (cpu_blas()).
        workers: the scratchnet.fast.parallel.Workers that run the products' pieces (by default the caller alone);
            any number of them gives the same bits, and numpy's OpenBLAS runs one thread during the step.

    Like scratchnet.fast.fused.FusedStep, step() does not check each batch for NaN inputs or labels outside
    0..n_L−1: a NaN input shows up as a divergence.
    """

    def __init__(self, net, opt, max_batch, blas, workers=None):
        check_fusable(net, opt)
        if not all(isinstance(net.W[l], np.ndarray) and net.W[l].flags.c_contiguous for l in net.W):
            raise UsageError("the BLAS step needs the network's W^[l] as C-ordered NumPy arrays (--device cpu)")
        self.net, self.opt, self.L, self.blas, self.max_batch = net, opt, net.L, blas, max_batch
        self.workers = workers or shared_workers(1)
        dtype, n, layers = net.dtype, net.sizes, range(1, net.L + 1)
        self.a = {l: np.empty((max_batch, n[l - 1]), dtype) for l in layers}  # a^[l]; a[1] holds x, a[L] z^[L]
        self.alpha_delta = {l: np.empty((max_batch, n[l - 1]), dtype) for l in layers if l > 1}  # α δ^[l]
        self.ones = np.ones(max_batch, dtype)                                   # 1: sums over the batch
        self.alpha = np.array([opt.alpha()], dtype)                             # α_t, as the cost kernel reads it
        self.C = np.zeros((), dtype)
        self.state = np.array([opt.t, 0], np.int32)  # opt.t as the cost counts it, the first t whose C was not finite
        self.plans = {}                     # m → the bound products of a step on m rows

    def _plan(self, m):
        """The step's BLAS calls for a batch of m rows, bound to their arrays and cut into tasks
        (scratchnet.fast.parallel): (forward, backward), one list of tasks per layer."""
        a, delta, W, b, blas = self.a, self.alpha_delta, self.net.W, self.net.b, self.blas
        forward = [gemm_tasks(blas, a[l - 1][:m], W[l].T, a[l][:m]) for l in range(2, self.L + 1)]  # W^[l] a^[l-1]
        backward = []
        for l in range(self.L, 1, -1):
            n_l, n_prev = W[l].shape
            layer = []
            for J in blocks(n_prev, cuts(m, n_prev, n_l, flops_each=2 if l > 2 else 1)):  # columns J of W^[l]
                W_J = W[l][:, J]  # BP2 reads them, then BP4's update writes them: one task, in that order
                task = [blas.bind_gemm(delta[l][:m], W_J, delta[l - 1][:m, J])] if l > 2 else []  # (BP2) (W^[l])ᵀ αδ
                task.append(blas.bind_gemm(delta[l][:m].T, a[l - 1][:m, J], W_J, alpha=-1.0, beta=1.0))  # (BP4)+update
                layer.append(task)
            layer.append([blas.bind_gemv(delta[l][:m].T, self.ones[:m], b[l], alpha=-1.0, beta=1.0)])  # (BP3) + update
            backward.append(layer)
        return forward, backward

    def step(self, x, y):
        """Forward, cost and α δ^[L], then backward with the update: one step of SGD on the batch (x, y).

        Returns C as a 0-d array that the next step overwrites (read it, or add it up, before then).
        """
        m = len(x)
        refuse_batch(x, y, self.net, self.max_batch)
        if m not in self.plans:
            self.plans[m] = self._plan(m)
        self.alpha[0] = self.opt.count_step()  # α_t; this step is the optimizer's step (SGD.step's update, fused)
        with self.blas.one_thread():  # the workers are the parallelism: each piece is one single-threaded call
            self._run(*self.plans[m], x, y)
        return self.C

    def _run(self, forward, backward, x, y):
        """The step's work on the batch, with its products as planned (forward, backward) for len(x) rows."""
        net, m, a, delta, L = self.net, len(x), self.a, self.alpha_delta, self.L
        a[1][:m] = x                                        # a^[1] = x                            (m, n_1)
        for l, tasks in zip(range(2, L + 1), forward, strict=True):
            self.workers.run(tasks)                         # W^[l] a^[l-1]                        (m, n_l)
            if l < L:
                bias_relu(net.b[l], a[l][:m])               # a^[l] = max(W^[l] a^[l-1] + b^[l], 0)
        softmax_cross_entropy(a[L][:m], net.b[L], y, self.alpha, delta[L][:m], self.C, self.state)  # (BP1) α δ^[L]
        if self.state[1] == 0:                              # C finite: backward, updating as it goes
            for l, tasks in zip(range(L, 1, -1), backward, strict=True):
                self.workers.run(tasks)                     # the layer's tasks above: BP2, BP4 and BP3, with the update
                if l > 2:
                    relu_backward(a[l - 1][:m], delta[l - 1][:m])  # (BP2) α δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ α δ^[l]

    def sync(self):
        """Raise DivergenceError if a step's C was NaN or ±∞ (net holds the parameters of the step before it)."""
        if self.state[1]:
            raise diverged(int(self.state[1]))
