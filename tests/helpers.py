"""The comparison helper every test uses: it names the quantity and the layer when it fails."""

import numpy as np

from scratchnet.backend import to_numpy


def assert_close(actual, expected, name, rtol, atol=0.0):
    """assert_allclose on NumPy copies, with `name` (e.g. "dW[3]") in the failure message."""
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=rtol, atol=atol, err_msg=name)


def rel_error(a, b):
    """max |a − b| / max(|a|, |b|), cs231n's relative error of two whole arrays (0 when both are 0)."""
    a, b = np.asarray(to_numpy(a), dtype=np.float64), np.asarray(to_numpy(b), dtype=np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)
