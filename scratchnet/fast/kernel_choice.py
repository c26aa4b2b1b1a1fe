"""The OpenBLAS kernel measured fastest here, as recorded: one entry per library version and CPU in the user's
cache folder. scratchnet.fast.kernel measures and records it; `python -m scratchnet.fast` reads it back.
"""

import json
import os
import platform


def cache_path():
    """The cache file: $XDG_CACHE_HOME/scratchnet/openblas-kernel.json (~/.cache/... by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "scratchnet", "openblas-kernel.json")


def machine_key(blas):
    """One entry per library version and CPU: the choice holds for both, and for nothing else."""
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return f"OpenBLAS {blas.lib.version} on {cpu}"


def recorded(blas):
    """The measurement recorded for this library and CPU ({"fastest": …, "ms": {…}}), or None."""
    try:
        with open(cache_path()) as f:
            return json.load(f).get(machine_key(blas))
    except (OSError, ValueError):
        return None


def record(blas, ms):
    path, entries = cache_path(), {}
    try:
        with open(path) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        pass
    entries[machine_key(blas)] = {"fastest": min(ms, key=ms.get), "ms": ms}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(entries, f, indent=1)
    os.replace(path + ".tmp", path)


def advice(blas):
    """One line on the kernel running against the fastest measured here, or None where none was measured."""
    found = recorded(blas)
    if not found:
        return None
    fastest, ms = found["fastest"], found["ms"]
    if blas.lib.kernel == fastest:
        return f"kernel: {fastest}, the fastest of {', '.join(ms)} measured here (python -m scratchnet.fast.kernel)"
    gain = ms.get(blas.lib.kernel, ms[fastest]) / ms[fastest]
    return (f"kernel: {blas.lib.kernel}; {fastest} measured {gain:.2f} × faster here: "
            f"export OPENBLAS_CORETYPE={fastest} to train with it")
