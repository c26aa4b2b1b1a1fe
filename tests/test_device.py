"""Choosing the device at the edge: --device cpu|cuda|auto, and one clear line when CUDA cannot be had.

CuPy is replaced by small stand-ins, so these run on any CPU machine: no CuPy at all, CuPy that imports
but finds no GPU (it raises CUDARuntimeError at first use), and CuPy with a GPU.

    python -m pytest tests/test_device.py
"""

import types

import numpy as np
import pytest

from scratchnet import backend
from scratchnet.errors import UsageError


class CUDARuntimeError(RuntimeError):
    pass


class FakeCupy:
    """Just enough of cupy for device selection: cuda.runtime.getDeviceCount()."""

    def __init__(self, count=None):
        def get_device_count():
            if count is None:
                raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
            return count

        runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
        self.cuda = types.SimpleNamespace(runtime=runtime)


@pytest.mark.parametrize("cupy,device,expected", [
    (None, "cpu", "numpy"), (None, "auto", "numpy"),
    (FakeCupy(), "auto", "numpy"), (FakeCupy(0), "auto", "numpy"),
    (FakeCupy(1), "auto", "cupy"), (FakeCupy(1), "cuda", "cupy"), (FakeCupy(1), "cpu", "numpy"),
])
def test_device_selection(monkeypatch, cupy, device, expected):
    monkeypatch.setattr(backend, "cupy", cupy)
    xp = backend.xp_for_device(device)
    assert (xp is np) if expected == "numpy" else (xp is cupy)


@pytest.mark.parametrize("cupy,message", [
    (None, "--device cuda: CuPy is not installed (pip install 'scratchnet[gpu]'; the README says which wheel); "
           "use --device cpu"),
    (FakeCupy(), "--device cuda: CuPy sees no CUDA GPU (cudaErrorNoDevice: no CUDA-capable device is detected); "
                 "use --device cpu"),
    (FakeCupy(0), "--device cuda: CuPy sees no CUDA GPU (0 devices); use --device cpu"),
])
def test_cuda_without_a_gpu_is_one_clear_line(monkeypatch, cupy, message):
    monkeypatch.setattr(backend, "cupy", cupy)
    with pytest.raises(UsageError) as err:
        backend.xp_for_device("cuda")
    assert str(err.value) == message


def test_unknown_device():
    with pytest.raises(UsageError, match="unknown device 'tpu': use cpu, cuda or auto"):
        backend.xp_for_device("tpu")


def test_get_xp_and_to_numpy_on_numpy():
    a = np.arange(3.0)
    assert backend.get_xp(a) is np
    assert backend.to_numpy(a) is a
