"""One contender in a process of its own, driven by benchmarks.run through its stdin and stdout.

    python -m benchmarks.worker ENGINE NAME --data-dir data --device cpu --threads auto

ENGINE is numpy, torch or jax: only that engine is imported, so that no other library's thread pool lives
in the process (two pools on the same cores slow each other down: measured). The worker loads MNIST once,
then answers one JSON line per command line:

    {"op": "build", "sizes": [784, 512, 512, 10], "batch_size": 64, "memory": true}  → {"peak_memory_mib": …}
    {"op": "steps", "n": 938}      → {"seconds": …}   (n steps in dataset order, the device synchronised)
    {"op": "reset"}                → {}               (the initial weights back, the first batch next)
    {"op": "accuracy"}             → {"accuracy": …}
    {"op": "phases", "n": 300}     → {"phases": [forward, backward, update]}   (seconds over n steps)
    {"op": "threads"}              → {"threads": …}   (what ran the BLAS, and what --threads auto chose)
    {"op": "limits", "repeats": 5} → {"sgemm_flops_per_second": …, "products": […]}   (numpy only)

An error answers {"error": "…"} and the worker goes on serving; end of input ends it.
"""

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np
from threadpoolctl import threadpool_info

from benchmarks.contenders import Work
from benchmarks.limits import best_sgemm_rate, product_times
from benchmarks.memory import STEPS, PeakRSS
from scratchnet.fast.blas import blas_line
from scratchnet.fast.threads import BlasThreads, cores, parse_threads
from scratchnet.mnist.load import load_data
from scratchnet.run.config import TrainConfig
from scratchnet.shell.cli import OneLineParser

WARMUP_STEPS = 20


def contender_classes(engine, threads):
    """{name: class} of one engine's contenders; each engine's libraries are imported here, and only here,
    so that a worker loads the one engine it runs."""
    if engine == "jax":
        if threads == 1:  # XLA reads its flags once, when jax is imported
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                       " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
        from benchmarks.jax_contender import CONTENDERS
    elif engine == "torch":
        import torch

        from benchmarks.torch_contenders import CONTENDERS

        if threads != "auto":
            torch.set_num_threads(threads)
    else:
        from benchmarks.contenders import CONTENDERS
    return CONTENDERS


class Worker:
    """Builds and drives one contender; its numpy BLAS threads follow one policy for the whole process."""

    def __init__(self, cls, data, args):
        self.cls, self.data, self.args = cls, data, args
        self.contender = None
        self.blas_threads = BlasThreads(args.threads) if args.engine == "numpy" else None

    def build(self, sizes, batch_size, memory=False):
        self.contender = None  # the previous point's arrays go before this one's are measured
        work = Work(self.data, sizes, batch_size, data_dir=self.args.data_dir, device=self.args.device,
                    threads=self.args.threads)
        with PeakRSS() as rss:
            contender = self.cls(work)
            contender.steps(STEPS if memory else 2)  # a contender that fails fails here, before any timing
            contender.sync()
        if hasattr(contender, "compile_shapes"):
            contender.compile_shapes()  # every batch shape compiled before the clock runs
        contender.steps(WARMUP_STEPS)
        contender.reset()
        contender.sync()
        self.contender = contender
        return {"peak_memory_mib": rss.mib if memory else None, "samples": len(work.x_train),
                "batches_per_epoch": work.batches_per_epoch}

    def steps(self, n):
        start = time.perf_counter()
        self.contender.steps(n)
        self.contender.sync()
        return {"seconds": time.perf_counter() - start}

    def reset(self):
        self.contender.reset()
        self.contender.sync()
        return {}

    def accuracy(self):
        return {"accuracy": self.contender.accuracy()}

    def phases(self, n):
        return {"phases": self.contender.phases(n, time.perf_counter).tolist()}

    def threads(self):
        record = {"blas": [{key: pool.get(key) for key in ("internal_api", "version", "num_threads", "filepath")}
                           for pool in threadpool_info() if pool.get("user_api") == "blas"],
                  "cpu_blas": blas_line(),
                  "engines_loaded": [m for m in ("torch", "jax") if m in sys.modules]}
        if self.args.engine == "torch":
            record["torch_threads"] = sys.modules["torch"].get_num_threads()
        if self.args.engine == "jax":
            record["xla_flags"] = os.environ.get("XLA_FLAGS", "") or "XLA's default (a thread per core)"
        if self.blas_threads is not None:
            record["policy"] = self.blas_threads.describe()
        if getattr(self.contender, "runs_on", None):
            record["runs_on"] = self.contender.runs_on  # the floor, the reference: their own threads, not workers
        return {"threads": record}

    def limits(self, repeats):
        with BlasThreads(cores()):  # the hardware's limit: every core, whatever --threads the floor runs on
            rate = best_sgemm_rate(repeats=repeats)
        work = self.contender.work
        return {"sgemm_flops_per_second": rate, "products": product_times(work.sizes, work.batch_size, repeats, rate)}


def serve(worker, commands, replies):
    for line in commands:
        command = json.loads(line)
        op = command.pop("op")
        try:
            reply = getattr(worker, op)(**command)
        except Exception as e:  # the orchestrator leaves this contender out and says why
            traceback.print_exc(file=sys.stderr)
            reply = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main():
    p = OneLineParser(prog="python -m benchmarks.worker", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("engine", choices=("numpy", "torch", "jax"))
    p.add_argument("name")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", default="auto")
    args = p.parse_args()
    args.threads = parse_threads(args.threads)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # anything a library prints goes to stderr, never into the replies
    cls = contender_classes(args.engine, args.threads)[args.name]
    data = load_data(TrainConfig(data_dir=args.data_dir), np)  # all of MNIST, float32, as the tutorial feeds it
    worker = Worker(cls, data, args)
    if worker.blas_threads is None:
        serve(worker, sys.stdin, replies)
    else:
        with worker.blas_threads:  # numpy's BLAS on --threads for the whole process
            serve(worker, sys.stdin, replies)


if __name__ == "__main__":
    main()
