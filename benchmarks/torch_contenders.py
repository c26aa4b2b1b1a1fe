"""The PyTorch contenders, each training the same model from the same initial weights on the same batches.

    tutorial:          the PyTorch tutorial as written: DataLoader over torchvision MNIST with ToTensor;
    torch eager:       the same model and SGD, batches sliced from tensors already in memory;
    torch.compile:     torch eager's model and optimizer step compiled by torch.compile (inductor), the way
                       PyTorch's own tutorials compile a training step;
    torch CUDA graphs: on a GPU, the whole step captured once in a CUDA graph.

torch runs on its own thread pool; `--threads N` sets it (torch.set_num_threads). With `auto` (the default)
each contender runs twice: on torch's own default (a thread per core), and as "…, threads auto" on all the
cores but one, what `python -m torch_ref.train` runs by default (torch_ref.threads): torch's pool waits for its
slowest thread at every product, as OpenBLAS's does, so the busy column tells the two apart. Each contender is
built in a process of its own (benchmarks/worker.py).
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from scratchnet.fast.threads import pool_thread_count
from torch_ref.bridge import load_into_torch, to_torch
from torch_ref.data import mnist
from torch_ref.train import Training
from torch_ref.train import train_step as torch_train_step


class TorchEager:
    name = "torch eager"

    def __init__(self, work):
        self.work = work
        self.model = to_torch(work.initial, device=work.device)
        self.x, self.y = torch.from_numpy(work.x_train).to(work.device), torch.from_numpy(work.y_train).to(work.device)
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.work.lr)  # plain SGD: it keeps no state
        self.training = Training(self.model, self.loss_fn, self.optimizer)  # what torch_ref's train_step takes
        self.reset()

    def sync(self):
        if self.work.device == "cuda":
            torch.cuda.synchronize()

    def reset(self):
        """The initial weights back, in place, and the first batch next."""
        load_into_torch(self.work.initial, self.model)
        self.batch = 0

    def steps(self, n):
        m = self.work.batch_size
        for _ in range(n):
            start = self.batch * m
            torch_train_step(self.training, self.x[start:start + m], self.y[start:start + m])
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
            loss = torch_train_step(self.training, X, y)
            if self.batch % 100 == 0:
                loss.item()  # the tutorial reads the loss every 100 batches to print it
            self.batch = (self.batch + 1) % self.work.batches_per_epoch


class TorchCompile(TorchEager):
    """torch eager's step with the model and the optimizer step compiled (torch.compile, inductor backend).

    Compiling happens at the first step of each batch shape; `compile_shapes()` runs a full and the last,
    partial batch before any timing, so that no compilation is timed.
    """

    name = "torch.compile"

    def __init__(self, work):
        super().__init__(work)
        self.compiled = torch.compile(self.model)
        self.optimizer_step = torch.compile(self.optimizer.step)

    def steps(self, n):
        m = self.work.batch_size
        for _ in range(n):
            start = self.batch * m
            loss = self.loss_fn(self.compiled(self.x[start:start + m]), self.y[start:start + m])
            loss.backward()
            self.optimizer_step()
            self.optimizer.zero_grad()
            self.batch = (self.batch + 1) % self.work.batches_per_epoch

    def compile_shapes(self):
        """One step on a full batch and one on the epoch's last batch: every shape the epoch will see."""
        self.steps(1)
        self.batch = self.work.batches_per_epoch - 1
        self.steps(1)


class AutoThreads:
    """A contender on --threads auto's count, all the cores but one, instead of torch's default (its process's
    whole torch, set before it builds: each contender has a process of its own)."""

    def __init__(self, work):
        torch.set_num_threads(pool_thread_count("auto"))
        super().__init__(work)


class TutorialAutoThreads(AutoThreads, Tutorial):
    name = "tutorial, threads auto"


class TorchEagerAutoThreads(AutoThreads, TorchEager):
    name = "torch eager, threads auto"


class TorchCompileAutoThreads(AutoThreads, TorchCompile):
    name = "torch.compile, threads auto"


AUTO_THREADS = {c.name: c for c in (TutorialAutoThreads, TorchEagerAutoThreads, TorchCompileAutoThreads)}
CONTENDERS = {"tutorial": Tutorial, "torch eager": TorchEager, "torch.compile": TorchCompile,
              "torch CUDA graphs": TorchGraphs, **AUTO_THREADS}
