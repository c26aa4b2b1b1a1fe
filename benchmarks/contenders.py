"""The NumPy contenders, each training the same model from the same initial weights on the same batches.

    scratchnet:        the reference engine (scratchnet.step.ReferenceStep: network.py's forward, backward, SGD);
    scratchnet fused:  the same engine's fused step (scratchnet.fast.fused_cpu: its workers on fixed pieces of each
                       product; scratchnet.fast.fused where numpy's OpenBLAS is not found), on --threads and on 1;
    GEMM floor:        only the matrix products of scratchnet's step, same shapes, dtype, transposes and BLAS,
                       into preallocated outputs, on OpenBLAS's own threads: the time no engine built on this BLAS
                       can beat at that thread count (and at 1).

On a GPU (--device cuda) scratchnet and its fused step run on CuPy, and the fused step also as a CUDA graph.
The peers are in benchmarks/torch_contenders.py and benchmarks/jax_contender.py; each contender runs in a
process of its own (benchmarks/worker.py), so that no two thread pools share one.

Each contender runs `steps(n)` minibatches in dataset order, wrapping around at the end of an epoch, and
`sync()` waits for the device, so that the clock is read only when the work is done. The scratchnet contenders
are runs built as scratchnet.train builds its own (scratchnet.run.build), from the seed-0 TrainConfig of `Work`.
The worker process sets the BLAS threads of the scratchnet contenders and the floor (--threads,
scratchnet.fast.threads).
"""

import functools
import math
from dataclasses import replace

import numpy as np
from threadpoolctl import ThreadpoolController

from scratchnet import Network
from scratchnet.backend import xp_for_device
from scratchnet.fast.blas import cpu_blas
from scratchnet.fast.threads import parse_threads, thread_count
from scratchnet.run.build import build
from scratchnet.run.config import TrainConfig


class Work:
    """What every contender trains: data, layer sizes, initial weights (scratchnet's seed-0 draw), m, α.

    splits: ((x_train, y_train), (x_test, y_test)) as scratchnet.mnist.load.load_data returns them (NumPy);
    sizes: [784, n_2, …, 10].
    """

    lr = 1e-3  # α, the tutorial's

    def __init__(self, splits, sizes, batch_size, data_dir="data", device="cpu", threads="auto"):
        (x_train, y_train), (x_test, y_test) = splits
        if device == "cuda":  # full batches only, the same for every GPU contender
            keep = len(x_train) // batch_size * batch_size
            x_train, y_train = x_train[:keep], y_train[:keep]
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.sizes, self.batch_size, self.data_dir = sizes, batch_size, data_dir
        self.device, self.threads = device, threads  # threads: the worker's --threads, N or "auto"
        self.initial = Network(sizes, dtype=x_train.dtype, seed=0)
        self.batches_per_epoch = math.ceil(len(x_train) / batch_size)
        self.cfg = TrainConfig(hidden=tuple(sizes[1:-1]), batch_size=batch_size, lr=self.lr,
                               dtype=str(x_train.dtype), seed=0, device=device, data_dir=data_dir, step="reference",
                               threads=threads)  # seed 0: `initial`


class Scratchnet:
    name = "scratchnet"
    kind = "reference"   # the run's TrainConfig.step
    cuda_graph = False

    def __init__(self, work):
        self.work = work
        self.xp = xp_for_device(work.device)
        self.x, self.y = self.xp.asarray(work.x_train), self.xp.asarray(work.y_train)
        self.reset()

    def reset(self):
        """A fresh run: the initial weights, a fresh optimizer and step, the first batch next."""
        run = build(replace(self.work.cfg, step=self.kind), len(self.work.x_train), cuda_graph=self.cuda_graph)
        self.net, self.opt, self.trainer = run.net, run.opt, run.step
        self.batch = 0

    def step(self, x, y):
        self.trainer.step(x, y)

    def steps(self, n):
        m = self.work.batch_size
        for _ in range(n):
            start = self.batch * m
            self.step(self.x[start:start + m], self.y[start:start + m])
            self.batch = (self.batch + 1) % self.work.batches_per_epoch

    def sync(self):
        if self.xp is not np:
            self.xp.cuda.Device().synchronize()

    def phases(self, n, clock):
        """Seconds spent in forward (with the cost), backward and update over n steps."""
        w, m = self.work, self.work.batch_size
        spent = np.zeros(3)
        for _ in range(n):
            start = self.batch * m
            t0 = clock()
            self.net.forward(w.x_train[start:start + m])
            C, delta_L = self.net.cost(w.y_train[start:start + m])
            t1 = clock()
            dW, db = self.net.backward(delta_L)
            t2 = clock()
            self.opt.step(dW, db)
            spent += (t1 - t0, t2 - t1, clock() - t2)
            self.batch = (self.batch + 1) % w.batches_per_epoch
        return spent

    @property
    def runs_on(self):
        """The reference engine's threads: numpy's BLAS pools as they run now (one thread where the fused
        step's workers are the parallelism: scratchnet.fast.threads)."""
        counts = sorted({pool["num_threads"] for pool in ThreadpoolController().select(user_api="blas").info()})
        return f"{'/'.join(map(str, counts))} BLAS thread{'s' if counts != [1] else ''}"

    def accuracy(self):
        self.trainer.sync()  # the fused step's sync point: net.W, net.b ← θ
        x_test, y_test = self.xp.asarray(self.work.x_test), self.xp.asarray(self.work.y_test)
        return float((self.net.predict(x_test) == y_test).mean())


class ScratchnetFused(Scratchnet):
    """The same engine's fused step: on the CPU with the update inside numpy's BLAS calls (scratchnet.fast.fused_cpu;
    scratchnet.fast.fused where no OpenBLAS is found); on a GPU one CUDA kernel per elementwise equation and cuBLAS
    called directly (scratchnet.fast.fused)."""

    name = "scratchnet fused"
    kind = "fused"
    runs_on = None  # its threads are the policy's workers (the record's "policy")


class ScratchnetGraph(ScratchnetFused):
    """The fused step captured once in a CUDA graph (FusedStep.capture), replayed on every full batch.

    cupy.matmul refuses capture; the fused step calls cuBLAS directly, which can be captured. Each step
    copies the batch into the graph's fixed input arrays and launches the graph: three launches, not ~20.
    """

    name = "scratchnet CUDA graph"
    cuda_graph = True


class GemmFloor:
    """Only the 8 matrix products of scratchnet's step, in the engine's order and layout, into preallocated
    outputs, with β = 0, through the BLAS path the fused step takes (numpy's OpenBLAS bound once per batch
    size, scratchnet.fast.blas; np.matmul where that is not found), each product whole, on OpenBLAS's own threads
    at the count the fused step runs (--threads): the floor at the same thread count. The batch's values do not
    change a product's time, so the operands are fixed arrays of the right shapes."""

    name = "GEMM floor"

    def __init__(self, work):
        self.work = work
        net, m, dtype = work.initial, work.batch_size, work.x_train.dtype
        self.W = net.W
        self.a = {l: np.ones((m, net.sizes[l - 1]), dtype) for l in range(1, net.L + 1)}  # also z^[l]
        self.delta = {l: np.ones((m, net.sizes[l - 1]), dtype) for l in range(2, net.L + 1)}
        self.dW = {l: np.empty_like(net.W[l]) for l in net.W}
        self.L = net.L
        self.blas = cpu_blas() if work.device == "cpu" else None
        self.pools, self.count = ThreadpoolController(), thread_count(parse_threads(str(work.threads)))
        self.runs_on = f"{self.count} OpenBLAS thread{'s' if self.count > 1 else ''}"
        self.plans = {}
        self.batch = 0

    def reset(self):
        self.batch = 0

    def _products(self, rows):
        """The step's products on `rows` rows, as calls: bound BLAS products, or np.matmul into out=."""
        W, a, delta, dW = self.W, self.a, self.delta, self.dW
        operands = [(a[l - 1][:rows], W[l].T, a[l][:rows]) for l in range(2, self.L + 1)]  # z^[l] = a^[l-1] W^[l]ᵀ
        for l in range(self.L, 1, -1):
            operands.append((delta[l][:rows].T, a[l - 1][:rows], dW[l]))                   # (BP4) δ^[l]ᵀ a^[l-1]
            if l > 2:
                operands.append((delta[l][:rows], W[l], delta[l - 1][:rows]))              # (BP2) δ^[l] W^[l]
        if self.blas:
            return [self.blas.bind_gemm(A, B, C) for A, B, C in operands]
        return [functools.partial(np.matmul, A, B, out=C) for A, B, C in operands]

    def steps(self, n):
        w, m = self.work, self.work.batch_size
        with self.pools.limit(limits=self.count, user_api="blas"):  # where the fused step's BLAS runs one thread
            for _ in range(n):
                rows = min(m, len(w.x_train) - self.batch * m)
                if rows not in self.plans:
                    self.plans[rows] = self._products(rows)
                for product in self.plans[rows]:
                    product()
                self.batch = (self.batch + 1) % w.batches_per_epoch

    def accuracy(self):
        return None

    def sync(self):
        pass


CONTENDERS = {"scratchnet": Scratchnet, "scratchnet fused": ScratchnetFused, "GEMM floor": GemmFloor,
              "scratchnet CUDA graph": ScratchnetGraph,
              "scratchnet fused (1 thread)": ScratchnetFused, "GEMM floor (1 thread)": GemmFloor}  # on --threads 1
