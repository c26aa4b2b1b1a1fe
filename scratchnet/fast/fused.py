"""The tutorial's training step, fused: the equations of network.py, losses.py and optim.py on preallocated arrays.

Network.forward, Network.cost, Network.backward and SGD.step are the reference, written to be read beside
the equations. This module is their fast path for the one model the tutorial trains (ReLU hidden layers,
softmax cross-entropy, plain SGD: no momentum, weight decay or dropout), and tests/test_fused.py checks it
against them. It runs on NumPy and on CuPy from the same lines; its elementwise equations are written twice,
as NumPy lines and as one CUDA kernel each (scratchnet.fast.kernels), so that on a GPU each costs one launch.

Three things differ from the reference, and none changes the mathematics:

- The hidden z^[l] is never stored. a^[l] = max(W^[l] a^[l-1] + b^[l], 0) is written over the product in
  place, and σ′(z^[l]) = [z^[l] > 0] = [a^[l] > 0] is read back from a^[l].
- α enters at δ^[L]. The δ recursion (BP2) and the gradients (BP3), (BP4) are linear in δ^[L], so starting
  from α δ^[L] makes them produce α ∂C/∂W^[l] and α ∂C/∂b^[l], and the update θ ← θ − α ∂C/∂θ becomes one
  subtraction over one flat buffer θ that holds every W^[l] and b^[l]. The step owns θ: it copies the
  Network's W, b in when it is made and back at each `sync()`, the two points where the two meet.
- The divergence check stays on the device. The cost kernel counts the steps (from opt.t on) and records
  the first whose C is NaN or infinite; from then on the update is skipped, so the parameters stay the last
  good ones. The loop calls `sync()` when it prints the loss: on a GPU nothing waits for the device in between.

Shapes: as in network.py, a batch of m samples is stacked as rows: a[l], alpha_delta[l] (m, n_l); z_L (m, n_L);
x (m, n_1), y (m,).
"""

import numpy as np

from scratchnet.backend import get_xp
from scratchnet.errors import UsageError
from scratchnet.fast.kernels import bias_relu, matmul_into, relu_backward, sgd, softmax_cross_entropy
from scratchnet.fast.rules import check_fusable, diverged, refuse_batch


class FusedStep:
    """One SGD step of net on a batch, fused (module docstring): `step(x, y)` returns C as a 0-d array.

    Args:
        net: the Network; its W[l], b[l] are copied into θ here and copied back at every sync().
        opt: its plain SGD optimizer: it owns α_t and the step count t (opt.count_step(), once a step).
        max_batch: the largest m that step() will be given; every array is allocated for it once.

    The step owns its arrays, and meets the Network at two named points only: here (θ ← net's W, b) and at
    sync() (net's W, b ← θ, written in place). Between them net.W and net.b are stale: read them after sync().
    Unlike Network.forward and cost, step() does not check each batch for NaN inputs or labels outside
    0..n_L−1 (on a GPU that would wait for the device every step): check the data once, as scratchnet.train
    does when it loads it. A NaN input shows up as a divergence.
    """

    def __init__(self, net, opt, max_batch):
        check_fusable(net, opt)
        xp = self.xp = get_xp(net.W[2])
        self.net, self.opt, self.L, self.max_batch = net, opt, net.L, max_batch
        dtype, n, layers = net.dtype, net.sizes, range(2, net.L + 1)
        total = sum(net.W[l].size + net.b[l].size for l in layers)
        self.theta = xp.empty(total, dtype)                # θ: every W^[l], b^[l], one after the other
        self.alpha_grad = xp.empty(total, dtype)           # α ∂C/∂θ in the same layout
        self.W, self.b, self.alpha_dW, self.alpha_db, offset = {}, {}, {}, {}, 0
        for l in layers:
            for params, mine, grads in ((net.W, self.W, self.alpha_dW), (net.b, self.b, self.alpha_db)):
                size, shape = params[l].size, params[l].shape
                mine[l] = self.theta[offset:offset + size].reshape(shape)      # W^[l] or b^[l], a view into θ
                grads[l] = self.alpha_grad[offset:offset + size].reshape(shape)
                mine[l][...] = params[l]                   # sync point 1: θ ← the Network's parameters
                offset += size
        self.a = {l: xp.empty((max_batch, n[l - 1]), dtype) for l in range(2, self.L)}  # hidden a^[l]; a[1] = x
        self.z_L = xp.empty((max_batch, n[-1]), dtype)     # z^[L]
        self.alpha_delta = {l: xp.empty((max_batch, n[l - 1]), dtype) for l in layers}  # α δ^[l]
        self.ones = xp.ones((1, max_batch), dtype)         # 1ᵀ: 1ᵀ (α δ^[l]) sums α δ^[l] over the batch
        self.alpha_db_row = {l: self.alpha_db[l].reshape(1, -1) for l in layers}
        self.alpha = xp.full(1, opt.alpha(), dtype)        # α_t on the device, for the kernels and the graph
        self.alpha_on_device = opt.alpha()                 # its value, known on the host: copied when α changes
        self.C = xp.zeros((), dtype)                       # the last step's C
        # opt.t as the device counts it (the cost kernel adds 1 a step), and the first t whose C was not finite
        self.state = xp.asarray(np.array([opt.t, 0], np.int32))
        self.graph = None                                  # the CUDA graph of one step, once capture() made it

    def step(self, x, y):
        """Forward, cost and α δ^[L], backward, update: one step of SGD on the batch (x, y).

        Returns C as a 0-d array that the next step overwrites (read it, or add it up, before then).
        After capture(), a full batch replays the CUDA graph instead of launching each kernel.
        """
        m = len(x)
        refuse_batch(x, y, self.net, self.max_batch)
        alpha = self.opt.count_step()  # α_t; this step is the optimizer's step (SGD.step's update, fused)
        if alpha != self.alpha_on_device:
            self.alpha.fill(alpha)                         # on the device, without waiting for it
            self.alpha_on_device = alpha
        if self.graph is not None and m == self.max_batch:
            self.x_graph[...] = x                          # the graph reads its batch from these two arrays
            self.y_graph[...] = y
            self.graph.launch(stream=self.xp.cuda.get_current_stream())
        else:
            self._equations(self.xp.ascontiguousarray(x), self.xp.ascontiguousarray(y))
        return self.C

    def _equations(self, x, y):
        """The step itself, equation by equation, on the first m = len(x) rows of every buffer."""
        L, a, alpha_delta, m = self.L, self.a, self.alpha_delta, len(x)
        a[1] = x                                            # a^[1] = x                            (m, n_1)
        for l in range(2, L):
            matmul_into(a[l - 1][:m], self.W[l].T, a[l][:m])  # W^[l] a^[l-1]                     (m, n_l)
            bias_relu(self.b[l], a[l][:m])                  # a^[l] = max(W^[l] a^[l-1] + b^[l], 0)  (m, n_l)
        matmul_into(a[L - 1][:m], self.W[L].T, self.z_L[:m])  # W^[L] a^[L-1]; the kernel adds b^[L]  (m, n_L)
        softmax_cross_entropy(self.z_L[:m], self.b[L], y, self.alpha, alpha_delta[L][:m], self.C, self.state)  # (BP1)
        for l in range(L, 1, -1):
            delta = alpha_delta[l][:m]
            matmul_into(delta.T, a[l - 1][:m], self.alpha_dW[l])  # (BP4) α ∂C/∂W^[l] = (α δ^[l]) (a^[l-1])ᵀ
            matmul_into(self.ones[:, :m], delta, self.alpha_db_row[l])  # (BP3) α ∂C/∂b^[l] = Σ_batch α δ^[l]
            if l > 2:
                matmul_into(delta, self.W[l], alpha_delta[l - 1][:m])  # (BP2), first (W^[l])ᵀ α δ^[l]
                relu_backward(a[l - 1][:m], alpha_delta[l - 1][:m])  # (BP2) α δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ α δ^[l]
        sgd(self.alpha_grad, self.state, self.theta)        # θ ← θ − α ∂C/∂θ, every W^[l] and b^[l] at once

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
        """The t (as opt.t numbers steps: 1, 2, …) of the first step whose C was NaN or ±∞; None while every C
        was finite. Reading it waits for the device."""
        bad = int(self.state[1])
        return bad or None

    def sync(self):
        """Sync point 2: wait for the device, copy θ into the Network's W, b (in place), and raise
        DivergenceError if a step diverged. Then net holds the parameters of the last good step.

        The loop calls it where it must wait for the device anyway: when it prints the loss, saves a
        checkpoint, stops for Ctrl-C, and at the end of an epoch.
        """
        for l in self.W:
            self.net.W[l][...] = self.W[l]
            self.net.b[l][...] = self.b[l]
        bad = self.first_bad_step()
        if bad:
            raise diverged(bad)
