"""How much memory a run needs and how much there is: a run that cannot fit is refused before any work."""

import os

from scratchnet.errors import UsageError


def memory_needed(sizes, dtype, batch_size, state_copies=2, samples=0):
    """Bytes a run holds at once, roughly: W, b and their gradients, `state_copies` more copies of them (the
    optimizer's buffers and the update's temporaries), a batch's z, a, δ and dropout mask in every layer, and
    `samples` images of n_1 pixels as dtype (with the uint8 file and one conversion copy beside them)."""
    itemsize = 8 if dtype == "float64" else 4
    parameters = sum(n * n_prev + n for n_prev, n in zip(sizes[:-1], sizes[1:], strict=False))
    activations = batch_size * sum(sizes)
    return itemsize * ((2 + state_copies) * parameters + 4 * activations) + samples * sizes[0] * (2 * itemsize + 1)


def memory_available():
    """Bytes this process may still allocate: MemAvailable, or less under a cgroup limit; None where unknown."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, open("/sys/fs/cgroup/memory.current") as current:
            found.append(int(limit.read()) - int(current.read()))
    except (OSError, ValueError):  # no cgroup v2, or "max": no limit
        pass
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(found) if found else None


def check_memory(needed, what, advice, available=None):
    """Refuse, before allocating, a run that needs more memory than there is: one line with both figures."""
    available = memory_available() if available is None else available
    if available is not None and needed > available:
        raise UsageError(f"{what} needs about {_gib(needed)} of memory, and {_gib(available)} is available: {advice}")


def _gib(n):
    if n >= 100 * 2**30:
        return f"{n / 2**30:,.0f} GiB"
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"
