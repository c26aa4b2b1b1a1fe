"""--threads N|auto for torch, with scratchnet.train's meaning (scratchnet.fast.threads): N threads, or auto,
all the cores but one (and at least one).

torch's intra-op pool (OpenMP, which runs every matmul) splits each product between its threads and waits for
the slowest, as OpenBLAS does, so it collapses the same way when another process holds a core. Measured on
the project's 2-core machine shared with other jobs (load average ~10), 200 steps of python -m torch_ref.train
taking turns: 90-96 s on torch's default 2 threads, 3-15 s on 1. `TorchThreads` sets torch.set_num_threads
and, where the process has not yet started parallel work, torch.set_num_interop_threads (torch lets a process
size that pool once).
"""

import torch

from scratchnet.fast.threads import parse_threads, pool_thread_count


def set_interop_threads(count):
    """torch's inter-op pool to `count` threads, when torch still allows it: it sizes that pool once, before the
    process's first parallel work, and refuses later calls; the eager training step runs no inter-op work, so
    a later run keeps the pool it has."""
    if torch.get_num_interop_threads() == count:
        return
    try:
        torch.set_num_interop_threads(count)
    except RuntimeError:  # "cannot set number of interop threads after parallel work has started"
        pass


class TorchThreads:
    """While active, torch runs `count` intra-op threads (and, where it still can, inter-op threads).

        with TorchThreads("auto") as threads:   # or TorchThreads(4), TorchThreads("4")
            ...
    """

    def __init__(self, setting):
        self.count = pool_thread_count(parse_threads(str(setting)))  # "auto", "4" (a flag's text) or 4

    def __enter__(self):
        self.saved = torch.get_num_threads()
        torch.set_num_threads(self.count)
        set_interop_threads(self.count)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)

