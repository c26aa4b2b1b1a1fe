"""Shared fixtures: hypothesis profiles, the `xp` array-module fixture, and the MNIST folder.

Hypothesis profile by HYPOTHESIS_PROFILE: dev (fast, the default), ci (derandomized, no deadline;
the default when CI is set), thorough (2,000 examples), planted (dev's 25 examples, derandomized: what
tests/planting.py runs a planted bug's tests under, so that a catch is reproducible). A second seed for the
property tests: `HYPOTHESIS_PROFILE=dev python -m pytest --hypothesis-seed=1 ...` (hypothesis' own option).
"""

import os
import pathlib
import signal
import subprocess
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from scratchnet.shell.signals import SIGNALS

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("planted", max_examples=25, deadline=None, derandomize=True, database=None)
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)

# A suite started under nohup, or with `… &` in a script, inherits SIGHUP or SIGINT ignored, and so would every
# command it starts: scratchnet's commands keep an ignored signal ignored (scratchnet.shell.signals), so the tests
# that Ctrl-C or hang up a command would wait for it in vain. A handler of Python's own still ignores the signal
# here, and a child starts with the default, as from a terminal (exec resets a handled signal, not an ignored one).
for _signum in SIGNALS:
    if signal.getsignal(_signum) is signal.SIG_IGN:
        signal.signal(_signum, lambda signum, frame: None)

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


@pytest.fixture
def full_fs(tmp_path):
    """A real 1 MiB tmpfs (root only), unmounted afterwards: a disk that fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture(scope="module")
def blas():
    """numpy's own BLAS as scratchnet.fast.blas binds it; skipped, saying why, where none is found."""
    from scratchnet.fast.blas import blas_line, cpu_blas

    found = cpu_blas()
    if found is None:
        pytest.skip(blas_line())
    return found


@pytest.fixture(scope="session")
def mnist_dir():
    """The repository's data/ folder with MNIST in it, fetched on first use (as the CLI would)."""
    from scratchnet.mnist.load import load_mnist

    load_mnist(str(DATA_DIR), train=False)
    return str(DATA_DIR)


@dataclass
class NetworkCase:
    """A network and a batch, drawn as a few numbers so that hypothesis shows (and shrinks) a readable case."""

    sizes: list
    activation: object  # one name, or a list with one name per hidden layer
    loss: str
    dtype: str
    m: int
    seed: int
    x_scale: float

    def build(self, xp=np):
        """(net, x, y): the Network on xp, x uniform in [−x_scale, x_scale]^(m × n_1), labels uniform."""
        from scratchnet import Network

        net = Network(self.sizes, activation=self.activation, loss=self.loss, dtype=self.dtype, seed=self.seed, xp=xp)
        rng = np.random.default_rng(self.seed)
        x = rng.uniform(-self.x_scale, self.x_scale, (self.m, self.sizes[0])).astype(self.dtype)
        y = rng.integers(0, self.sizes[-1], self.m)
        return net, xp.asarray(x), xp.asarray(y)


@st.composite
def network_cases(draw, *, layers=(2, 5), max_width=32, max_batch=64, min_width=1, dtypes=("float64",),
                  activations=("relu", "sigmoid", "tanh"), losses=("cross-entropy", "quadratic"),
                  x_scales=(0.1, 1.0, 10.0)):
    """Any network scratchnet builds: L in `layers`, widths in [min_width, max_width], one hidden σ or a mix."""
    L = draw(st.integers(*layers))
    sizes = draw(st.lists(st.integers(min_width, max_width), min_size=L, max_size=L))
    one = st.sampled_from(activations)
    activation = draw(st.one_of(one, st.lists(one, min_size=L - 2, max_size=L - 2)))
    return NetworkCase(sizes=sizes, activation=activation, loss=draw(st.sampled_from(losses)),
                       dtype=draw(st.sampled_from(dtypes)), m=draw(st.integers(1, max_batch)),
                       seed=draw(st.integers(0, 2**32 - 1)), x_scale=draw(st.sampled_from(x_scales)))

# The grading gallery holds students' submissions as data for test_grade_gallery (one notebook does not even
# compile, on purpose): pytest must never collect them, whatever plugin is installed.
collect_ignore_glob = ["grading_gallery/*"]
