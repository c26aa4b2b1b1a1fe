"""The contenders, each training the same model from the same initial weights on the same batches.

1. tutorial:    the PyTorch tutorial as written: DataLoader over torchvision MNIST with ToTensor;
2. torch eager: the same model and SGD, batches sliced from tensors already in memory;
3. scratchnet:  the NumPy engine, the same batches (scratchnet.step.ReferenceStep);
4. GEMM floor:  only the matrix products of (3)'s step, same shapes, dtype, transposes and BLAS,
                into preallocated outputs: the time no engine built on this BLAS can beat.

On a GPU (--device cuda) the contenders are torch eager, torch with the whole step captured in a CUDA
graph, and scratchnet on CuPy; there every epoch is the ⌊N/m⌋ full batches (a graph has fixed shapes).

Each contender runs `steps(n)` minibatches in dataset order, wrapping around at the end of an epoch, and
`sync()` waits for the device, so that the clock is read only when the work is done.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from scratchnet import SGD, Network
from scratchnet.backend import xp_for_device
from scratchnet.fused import FusedStep
from scratchnet.step import ReferenceStep
from torch_ref.bridge import load_into_torch, to_torch
from torch_ref.data import mnist
from torch_ref.train import train_step as torch_train_step


class Work:
    """What every contender trains: data, layer sizes, initial weights (scratchnet's seed-0 draw), m, α."""

    def __init__(self, x_train, y_train, x_test, y_test, sizes, batch_size, lr=1e-3, data_dir="data", device="cpu"):
        if device == "cuda":  # full batches only, the same for every GPU contender
            keep = len(x_train) // batch_size * batch_size
            x_train, y_train = x_train[:keep], y_train[:keep]
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.sizes, self.batch_size, self.lr, self.data_dir = sizes, batch_size, lr, data_dir
        self.device = device
        self.initial = Network(sizes, dtype=x_train.dtype, seed=0)
        self.batches_per_epoch = math.ceil(len(x_train) / batch_size)


class Scratchnet:
    name = "scratchnet"

    def __init__(self, work):
        self.work = work
        self.xp = xp_for_device(work.device)
        self.net = Network(work.sizes, dtype=work.x_train.dtype, xp=self.xp)
        self.x, self.y = self.xp.asarray(work.x_train), self.xp.asarray(work.y_train)
        self.reset()

    def reset(self):
        for l in self.net.W:
            self.net.W[l][...] = self.xp.asarray(self.work.initial.W[l])
            self.net.b[l][...] = self.xp.asarray(self.work.initial.b[l])
        self.opt = SGD(self.net, lr=self.work.lr)
        self.trainer = ReferenceStep(self.net, self.opt)
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

    def accuracy(self):
        self.trainer.check()  # the fused step's sync point: net.W, net.b ← θ
        x_test, y_test = self.xp.asarray(self.work.x_test), self.xp.asarray(self.work.y_test)
        return float((self.net.predict(x_test) == y_test).mean())


class ScratchnetFused(Scratchnet):
    """The same engine's fused step (scratchnet.fused): preallocated arrays, α folded into δ^[L], one flat
    update; on a GPU one CUDA kernel per elementwise equation and cuBLAS called directly."""

    name = "scratchnet fused"

    def reset(self):
        super().reset()
        self.trainer = FusedStep(self.net, self.opt, self.work.batch_size)


class ScratchnetGraph(ScratchnetFused):
    """The fused step captured once in a CUDA graph (FusedStep.capture), replayed on every full batch.

    cupy.matmul refuses capture; the fused step calls cuBLAS directly, which can be captured. Each step
    copies the batch into the graph's fixed input arrays and launches the graph: three launches, not ~20.
    """

    name = "scratchnet CUDA graph"

    def reset(self):
        super().reset()
        self.trainer.capture()


class TorchEager:
    name = "torch eager"

    def __init__(self, work):
        self.work = work
        self.model = to_torch(work.initial, device=work.device)
        self.x, self.y = torch.from_numpy(work.x_train).to(work.device), torch.from_numpy(work.y_train).to(work.device)
        self.loss_fn = nn.CrossEntropyLoss()
        self.reset()

    def sync(self):
        if self.work.device == "cuda":
            torch.cuda.synchronize()

    def reset(self):
        load_into_torch(self.work.initial, self.model)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.work.lr)
        self.batch = 0

    def steps(self, n):
        m = self.work.batch_size
        for _ in range(n):
            start = self.batch * m
            torch_train_step(self.model, self.loss_fn, self.optimizer, self.x[start:start + m], self.y[start:start + m])
            self.batch = (self.batch + 1) % self.work.batches_per_epoch

    def phases(self, n, clock):
        m = self.work.batch_size
        spent = np.zeros(3)
        for _ in range(n):
            start = self.batch * m
            t0 = clock()
            loss = self.loss_fn(self.model(self.x[start:start + m]), self.y[start:start + m])
            t1 = clock()
            loss.backward()
            t2 = clock()
            self.optimizer.step()
            self.optimizer.zero_grad()
            spent += (t1 - t0, t2 - t1, clock() - t2)
            self.batch = (self.batch + 1) % self.work.batches_per_epoch
        return spent

    def accuracy(self):
        with torch.no_grad():
            pred = self.model(torch.from_numpy(self.work.x_test).to(self.work.device)).argmax(1).cpu()
        return float((pred == torch.from_numpy(self.work.y_test)).float().mean())


class TorchGraphs(TorchEager):
    """torch on a GPU with the whole step (forward, loss, backward, SGD) captured once in a CUDA graph.

    Each step copies the batch into the graph's static inputs and replays it: one launch instead of ~40.
    """

    name = "torch CUDA graphs"

    def reset(self):
        super().reset()
        m = self.work.batch_size
        self.static_x, self.static_y = self.x[:m].clone(), self.y[:m].clone()
        side = torch.cuda.Stream()  # warm up on a side stream, as torch.cuda.graph requires
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.optimizer.zero_grad(set_to_none=True)
                self.loss_fn(self.model(self.static_x), self.static_y).backward()
        torch.cuda.current_stream().wait_stream(side)  # the warm-up took no optimizer step: W is still W0
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.static_loss = self.loss_fn(self.model(self.static_x), self.static_y)
            self.static_loss.backward()
            self.optimizer.step()

    def steps(self, n):
        m = self.work.batch_size
        for _ in range(n):
            start = self.batch * m
            self.static_x.copy_(self.x[start:start + m])
            self.static_y.copy_(self.y[start:start + m])
            self.graph.replay()
            self.batch = (self.batch + 1) % self.work.batches_per_epoch


class Tutorial(TorchEager):
    """The tutorial's loop over its DataLoader (ToTensor on every image, every batch collated anew)."""

    name = "tutorial"

    def __init__(self, work):
        subset = len(work.x_train) if len(work.x_train) < 60000 else 0
        self.loader = DataLoader(mnist(work.data_dir, train=True, size=subset), batch_size=work.batch_size)
        super().__init__(work)

    def reset(self):
        super().reset()
        self.iterator = iter(self.loader)  # back to the first batch, like the other contenders

    def steps(self, n):
        for _ in range(n):
            batch = next(self.iterator, None)
            if batch is None:
                self.iterator = iter(self.loader)
                batch = next(self.iterator)
            X, y = batch
            loss = torch_train_step(self.model, self.loss_fn, self.optimizer, X, y)
            if self.batch % 100 == 0:
                loss.item()  # the tutorial reads the loss every 100 batches to print it
            self.batch = (self.batch + 1) % self.work.batches_per_epoch


class GemmFloor:
    """Only the matrix products of scratchnet's step, in the engine's order and layout, into out= buffers."""

    name = "GEMM floor"

    def __init__(self, work):
        self.work = work
        net, m, dtype = work.initial, work.batch_size, work.x_train.dtype
        self.W = net.W
        self.a = {l: np.ones((m, net.sizes[l - 1]), dtype) for l in range(2, net.L + 1)}  # also z, δ^[l]
        self.delta = {l: np.ones((m, net.sizes[l - 1]), dtype) for l in range(2, net.L + 1)}
        self.dW = {l: np.empty_like(net.W[l]) for l in net.W}
        self.L = net.L
        self.batch = 0

    def reset(self):
        self.batch = 0

    def steps(self, n):
        w, m, W, a, delta, dW = self.work, self.work.batch_size, self.W, self.a, self.delta, self.dW
        for _ in range(n):
            start = self.batch * m
            x = w.x_train[start:start + m]
            rows = len(x)
            a[1] = x
            for l in range(2, self.L + 1):
                np.matmul(a[l - 1][:rows], W[l].T, out=a[l][:rows])       # z^[l] = a^[l-1] W^[l]ᵀ
            for l in range(self.L, 1, -1):
                np.matmul(delta[l][:rows].T, a[l - 1][:rows], out=dW[l])  # (BP4) δ^[l]ᵀ a^[l-1]
                if l > 2:
                    np.matmul(delta[l][:rows], W[l], out=delta[l - 1][:rows])  # (BP2) δ^[l] W^[l]
            self.batch = (self.batch + 1) % w.batches_per_epoch

    def accuracy(self):
        return None

    def sync(self):
        pass


CONTENDERS = {"tutorial": Tutorial, "torch eager": TorchEager, "scratchnet": Scratchnet,
              "scratchnet fused": ScratchnetFused, "GEMM floor": GemmFloor}
GPU_CONTENDERS = {"torch eager": TorchEager, "torch CUDA graphs": TorchGraphs, "scratchnet": Scratchnet,
                  "scratchnet fused": ScratchnetFused, "scratchnet CUDA graph": ScratchnetGraph}
