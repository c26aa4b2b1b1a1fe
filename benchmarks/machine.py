"""What ran the benchmark: CPU, cores, load, library versions, the BLAS library, kernel and call path.

Read in the orchestrating process without importing torch or JAX (their versions come from the installed
packages' metadata); each contender's own threads are reported by its worker (benchmarks/worker.py).
"""

import os
import platform
from importlib import metadata

import numpy as np
from threadpoolctl import threadpool_info

from scratchnet.fast.blas import blas_line


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info(device="cpu"):
    """A dict recorded beside every figure, so that figures from different runs stay comparable."""
    blas = [{key: pool.get(key) for key in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_before": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": version("torch"),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "blas": blas,
        "cpu_blas": blas_line(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "gpu": gpu_info() if device == "cuda" else None,
    }


def gpu_info():
    import cupy  # only with --device cuda, which check_device has already confirmed

    return {"name": cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(), "cupy": cupy.__version__,
            "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}


def kernel_line(info):
    """Lines naming the BLAS kernel(s), the call path, the load, and a warning when the environment forced a kernel."""
    kernels = ", ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}" for b in info["blas"])
    line = (f"numpy {info['numpy']} BLAS: {kernels or 'unknown'}; torch {info['torch']}; jax {info['jax']}; "
            f"{info['cpu']}, {info['cores']} cores, load average {info['load_before'][0]:.2f} at the start")
    if info.get("gpu"):
        line += f"; GPU {info['gpu']['name']} (CuPy {info['gpu']['cupy']})"
    line += "\n" + info["cpu_blas"]
    forced = {k: info[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if info.get(k)}
    if forced:
        line += (f"\nNOTE: {', '.join(f'{k}={v}' for k, v in forced.items())} forces OpenBLAS's kernel choice; "
                 "numpy's figures are slowed by it (run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`)")
    return line
