"""Which OpenBLAS kernel runs the fused step fastest on this machine, measured, not guessed from the CPU's name.

    python -m scratchnet.fast.kernel          # time the step under each kernel (~30 s), record and print the choice
    OPENBLAS_CORETYPE=Haswell python -m scratchnet.train     # then train with the kernel it names

numpy's OpenBLAS is built with DYNAMIC_ARCH: as it loads, it picks a kernel by the CPU's name (SkylakeX for an
AVX-512 CPU), and that pick is not always the fastest for these shapes: on the project's AMD EPYC (Zen 4) the
step's products took 2.68 s/epoch with SkylakeX and 2.08 with Haswell; on an Intel Xeon with AVX-512,
SkylakeX was the faster. So the choice is measured: each candidate kernel in a fresh interpreter (a kernel
this CPU lacks may die of an illegal instruction there, not here), the tutorial's step at batch 64 on one
thread, interleaved rounds, medians. The result is kept in the user's cache folder, one entry per library
version and CPU, and `python -m scratchnet.fast` says what it found.

Why the choice is recorded and named rather than applied when a run starts: OPENBLAS_CORETYPE is read once,
when the library loads, which is `import numpy`; `python -m scratchnet.train` imports numpy before any code of
scratchnet's fast path runs (the engine, which imports nothing from here, comes first), and so does any program
or notebook that imported numpy itself. What is left would be to re-execute the process with the variable set
(which a test, a notebook or an in-process `main(cfg)` cannot survive), or to load a second, private copy of
the library with another kernel for the step alone (two OpenBLAS instances in one process, and a step whose
products round unlike numpy's own). Neither is worth a 10–25 % on some CPUs; the measured name, set by the
user, is. A user's OPENBLAS_CORETYPE is always left as it is.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.fast.kernel_choice import advice, cache_path, record
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import info, run_cli

CANDIDATES = ("Haswell", "SkylakeX", "Zen", "CooperLake", "SapphireRapids", "Sandybridge")  # x86-64 kernels
ROUNDS = 3
PROBE = """
import json, time
import numpy as np
from scratchnet import SGD, Network
from scratchnet.fast.blas import cpu_blas
from scratchnet.fast.fused_cpu import BlasStep
blas = cpu_blas()
net = Network([784, 512, 512, 10], seed=0)
step = BlasStep(net, SGD(net, lr=1e-3), 64, blas)
rng = np.random.default_rng(0)
x, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)
for _ in range(10):
    step.step(x, y)
times = []
for _ in range(7):
    start = time.perf_counter()
    for _ in range(20):
        step.step(x, y)
    times.append((time.perf_counter() - start) / 20)
print(json.dumps({"kernel": blas.lib.kernel, "ms": 1e3 * sorted(times)[3]}))
"""


def probe(kernel):
    """(the kernel that ran, ms per step) in a fresh interpreter with OPENBLAS_CORETYPE=kernel; None if it failed."""
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return None
    reply = json.loads(done.stdout.splitlines()[-1])
    return reply["kernel"], reply["ms"]


def measure(candidates=CANDIDATES, rounds=ROUNDS):
    """{kernel: median ms per step} over interleaved rounds; a kernel OpenBLAS maps to another counts once."""
    seen = {}
    for _ in range(rounds):
        for kernel in candidates:
            result = probe(kernel)
            if result is not None:
                seen.setdefault(result[0], []).append(result[1])
    return {kernel: statistics.median(ms) for kernel, ms in seen.items()}


def main(blas):
    """The command: measure, record, and print each kernel's time and the advice."""
    if blas is None:
        raise UsageError("numpy's OpenBLAS is not bound here (python -m scratchnet.fast says why): "
                         "there is no kernel to choose")
    info(f"timing the step under {', '.join(CANDIDATES)}, {ROUNDS} interleaved rounds, each in a fresh interpreter")
    ms = measure()
    if not ms:
        raise ScratchnetError("no kernel could be timed: run python -m scratchnet.fast to see what is wrong")
    record(blas, ms)
    for kernel, t in sorted(ms.items(), key=lambda item: item[1]):
        print(f"{kernel:>16}: {t:.2f} ms per step (784-512-512-10, batch 64, one thread, median)")
    print(advice(blas))
    print(f"recorded in {cache_path()}")


def cli(argv):
    """python -m scratchnet.fast.kernel: its flags (only --help), then main on numpy's OpenBLAS."""
    from scratchnet.fast.blas import cpu_blas

    OneLineParser(prog="python -m scratchnet.fast.kernel", description=__doc__,
                  formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    main(cpu_blas())


if __name__ == "__main__":
    run_cli(cli, sys.argv[1:])
