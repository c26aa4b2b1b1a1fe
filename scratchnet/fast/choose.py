"""Which step a run trains with: the reference step (scratchnet.step), or the fused step of this folder.

On the CPU the fused step is BlasStep (fused_cpu.py: the update inside numpy's own BLAS calls, blas.py, its
products shared out by the workers of parallel.py), or FusedStep (fused.py) on np.matmul where that BLAS is not
found; on a GPU FusedStep, in one CUDA graph.
"""

import numpy as np

from scratchnet.errors import UsageError
from scratchnet.fast import blas as cpu
from scratchnet.fast.fused import FusedStep
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.fast.parallel import shared_workers
from scratchnet.fast.rules import check_fusable
from scratchnet.fast.threads import BlasThreads, parse_threads, thread_count
from scratchnet.step import ReferenceStep


def wants_fused(cfg, net, opt):
    """Whether the run trains with the fused step: --step fused, or --step auto where the model allows it.
    --step fused for a model the fused step cannot compute is refused here, before any work."""
    if cfg.step == "reference":
        return False
    try:
        check_fusable(net, opt)
    except UsageError as no:
        if cfg.step == "fused":
            raise UsageError(f"--step fused: {no}; use --step reference") from None
        return False
    return True


def fused_step(net, opt, max_batch, threads="auto"):
    """The fused step for net and opt: on the CPU with numpy's OpenBLAS at hand a BlasStep on --threads workers
    (the same bits on any count), otherwise a FusedStep."""
    blas = cpu.cpu_blas() if isinstance(net.W[2], np.ndarray) else None  # looked up at each call: a test may set it
    if blas is not None:
        workers = shared_workers(thread_count(parse_threads(str(threads))))
        return BlasStep(net, opt, max_batch, blas, workers)
    return FusedStep(net, opt, max_batch)


def make_step(cfg, net, opt, fused, cuda_graph=True):
    """The step a run trains with, and the line a command prints about it (None: nothing to say): ReferenceStep,
    or (fused) the fused step, on a GPU captured as a CUDA graph that every full batch replays (unless not
    cuda_graph). Made after a resume has loaded net and opt: FusedStep copies them in."""
    if not fused:
        return ReferenceStep(net, opt), None
    step = fused_step(net, opt, cfg.batch_size, cfg.threads)
    on_cpu = isinstance(step, BlasStep) or step.xp is np
    if on_cpu and cfg.step == "auto":
        return step, None  # the default run on the CPU: its path is in --help (blas_line), not in every run
    if isinstance(step, BlasStep):
        threads = BlasThreads(cfg.threads).describe()
        how = (f", the update inside numpy's BLAS calls (scratchnet.fast.fused_cpu), {step.blas.lib.kernel} kernel, "
               f"on {threads}")
    elif on_cpu:
        how = f" (scratchnet.fast.fused, on np.matmul: {cpu.blas_line().split('(', 1)[1]}"
    elif not cuda_graph:
        how = " (scratchnet.fast.fused), kernel by kernel"
    else:
        try:
            step.capture()
            how = " (scratchnet.fast.fused), in a CUDA graph"
        except Exception as e:  # a driver that refuses the capture still runs the kernels one by one
            first = str(e).splitlines()[0]
            how = f" (scratchnet.fast.fused), kernel by kernel (the CUDA graph capture failed: {first})"
    return step, f"training step: fused{how}"
