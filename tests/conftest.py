"""Shared fixtures: hypothesis profiles, the `xp` array-module fixture, and the MNIST folder.

Hypothesis profile by HYPOTHESIS_PROFILE: dev (fast, the default), ci (derandomized, no deadline;
the default when CI is set), thorough (2,000 examples).
"""

import os
import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"


def _cupy_or_skip():
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy imports without a GPU and fails at first use
        pytest.skip(f"no CUDA device: {e}")
    return cupy


@pytest.fixture(scope="session", params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test: numpy always, cupy when a GPU is present (skipped otherwise)."""
    if request.param == "numpy":
        return np
    return _cupy_or_skip()


@pytest.fixture(scope="session")
def mnist_dir():
    """The repository's data/ folder with MNIST in it, fetched on first use (as the CLI would)."""
    from scratchnet.data import load_mnist

    load_mnist(str(DATA_DIR), train=False)
    return str(DATA_DIR)
