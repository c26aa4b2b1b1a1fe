"""What ran the benchmark: CPU, cores, library versions, BLAS library and kernel, thread counts."""

import os
import platform

import numpy as np
import torch
from threadpoolctl import threadpool_info


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device="cpu"):
    """A dict recorded beside every figure, so that figures from different runs stay comparable."""
    blas = [{key: pool.get(key) for key in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "gpu": gpu_info() if device == "cuda" else None,
    }


def gpu_info():
    import cupy

    return {"name": torch.cuda.get_device_name(), "torch_cuda": torch.version.cuda, "cupy": cupy.__version__,
            "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}


def kernel_line(info):
    """One line naming the BLAS kernel(s) that ran, and a warning when OPENBLAS_CORETYPE forced one."""
    kernels = ", ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}, {b['num_threads']} threads"
                        for b in info["blas"]) or "unknown BLAS"
    line = f"numpy BLAS: {kernels}; torch {info['torch']} with {info['torch_threads']} threads; {info['cpu']}"
    if info.get("gpu"):
        line += f"; GPU {info['gpu']['name']} (CuPy {info['gpu']['cupy']}, torch CUDA {info['gpu']['torch_cuda']})"
    if info["OPENBLAS_CORETYPE"]:
        line += (f"\nNOTE: OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']} forces that kernel; numpy's figures are "
                 "slowed by it (unset it to measure the native kernel)")
    return line
