"""The one place that imports CuPy: pick the array module for a device, or from the arrays at hand.

Arrays carry their device with them, so the engine never asks a global flag. It writes

    xp = get_xp(z)          # numpy for numpy arrays, cupy for cupy arrays
    a = xp.maximum(z, 0)

only where it creates arrays or calls ufuncs; operators (@ * + .T .sum) need no xp at all.
"""

import numpy

from scratchnet.errors import UsageError

try:
    import cupy
except ImportError:  # CuPy is the optional extra `gpu`; without it everything runs on NumPy.
    cupy = None


def get_xp(*arrays):
    """The array module (numpy or cupy) that owns `arrays`."""
    if cupy is None:
        return numpy
    return cupy.get_array_module(*arrays)


def check_gpu():
    """Raise UsageError saying why not, as one phrase for an error line, unless CuPy sees a CUDA GPU."""
    if cupy is None:
        raise UsageError("CuPy is not installed (pip install 'scratchnet[gpu]'; the README says which wheel)")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy imports fine without a GPU, then raises CUDARuntimeError at first use
        raise UsageError(f"CuPy sees no CUDA GPU ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if count == 0:
        raise UsageError("CuPy sees no CUDA GPU (0 devices)")


def xp_for_device(device):
    """The array module for `device`, chosen once at the edge.

    "cpu" → numpy; "cuda" → cupy, or a UsageError saying why not; "auto" → cupy when it sees a GPU, else numpy.
    """
    if device == "cpu":
        return numpy
    if device in ("cuda", "auto"):
        try:
            check_gpu()
        except UsageError as no:
            if device == "auto":
                return numpy
            raise UsageError(f"--device cuda: {no}; use --device cpu") from None
        return cupy
    raise UsageError(f"unknown device {device!r}: use cpu, cuda or auto")


def to_numpy(a):
    """A NumPy copy of `a` (a no-op view for NumPy arrays), e.g. for printing or saving."""
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return numpy.asarray(a)
