"""The suite can fail: the classic backprop bugs, planted one at a time in a copy of the engine, are all caught.

Each bug is one short string replacement in the source of scratchnet/network.py or scratchnet/losses.py,
aimed at an equation-tagged line. The test asserts that the replacement applied exactly once (an edit of
the engine makes it fail loudly, never pass vacuously: then update the strings here), execs the result as
fresh modules, and runs both checkers of the suite on a network where the bug shows: square layers (a
forgotten transpose raises no shape error), sigmoid units (σ′(a) ≠ σ′(z), unlike ReLU), L = 4 (δ has a
wrong layer to come from), m = 3 (1/m and the sum over the batch matter). Each checker must report the
bug and name the first wrong quantity: helpers.assert_gradients_close against torch autograd, and
helpers.assert_matches_central_differences. The unmodified source, loaded the same way, passes both.

    python -m pytest tests/test_suite_catches_bugs.py
"""

import re
import types
from dataclasses import dataclass

import numpy as np
import pytest

from torch_ref.autograd import torch_gradients

from conftest import REPO
from helpers import TOLERANCE, assert_gradients_close, assert_matches_central_differences

ENGINE = REPO / "scratchnet"


@dataclass
class Bug:
    file: str          # network.py or losses.py
    old: str           # the correct code, found exactly once
    new: str           # the bug
    torch_names: str   # the first quantity the torch comparison reports
    fd_names: str      # the first quantity the central differences report
    loss: str = "cross-entropy"


BUGS = {
    "σ′ dropped (BP2)": Bug(
        "network.py", "self.sigma_prime[l - 1](self.z[l - 1]) * (delta", "(delta", "delta[3]", "delta[3]"),
    "σ′ dropped at the output (BP1, quadratic)": Bug(
        "losses.py", "sigma_prime(z_L) * error / m", "error / m", "delta[4]", "delta[4]", loss="quadratic"),
    "σ′ taken at a^[l] instead of z^[l] (BP2)": Bug(
        "network.py", "self.sigma_prime[l - 1](self.z[l - 1])", "self.sigma_prime[l - 1](self.a[l - 1])",
        "delta[3]", "delta[3]"),
    "missing 1/m (BP1, cross-entropy)": Bug(
        "losses.py", "delta_L = p / m", "delta_L = p", "delta[4]", "delta[4]"),
    "missing 1/m (BP1, quadratic)": Bug(
        "losses.py", "* error / m", "* error", "delta[4]", "delta[4]", loss="quadratic"),
    "sign of onehot flipped (BP1)": Bug(
        "losses.py", "p[rows, y] -= 1", "p[rows, y] += 1", "delta[4]", "delta[4]"),
    "W not transposed (BP2)": Bug(
        "network.py", "(delta @ self.W[l])", "(delta @ self.W[l].T)", "delta[3]", "delta[3]"),
    "W not transposed (forward)": Bug(
        "network.py", "a[l - 1] @ self.W[l].T", "a[l - 1] @ self.W[l]", "loss", "dW[4]"),
    "dW transposed (BP4)": Bug(
        "network.py", "dW[l] = delta.T @ self.a[l - 1]", "dW[l] = self.a[l - 1].T @ delta", "dW[4]", "dW[4]"),
    "a from the wrong layer (BP4)": Bug(
        "network.py", "dW[l] = delta.T @ self.a[l - 1]", "dW[l] = delta.T @ self.a[l]", "dW[4]", "dW[4]"),
    "δ from the wrong layer (BP2 restarts from δ^[L])": Bug(
        "network.py", "(delta @ self.W[l])", "(delta_L @ self.W[l])", "delta[2]", "delta[2]"),
    "δ kept under the wrong layer": Bug(
        "network.py", "self.delta[l - 1] = delta", "self.delta[l] = delta", "delta[4]", "delta[4]"),
    "bias gradient from the first sample only (BP3)": Bug(
        "network.py", "db[l] = delta.sum(axis=0)", "db[l] = delta[0]", "db[4]", "db[4]"),
    "bias gradient averaged, a second 1/m (BP3)": Bug(
        "network.py", "db[l] = delta.sum(axis=0)", "db[l] = delta.mean(axis=0)", "db[4]", "db[4]"),
}


def fresh_module(name, source):
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def load_engine(bug=None):
    """A fresh Network class from the engine's source files, with `bug` planted when given."""
    sources = {name: (ENGINE / name).read_text(encoding="utf-8") for name in ("losses.py", "network.py")}
    if bug is not None:
        count = sources[bug.file].count(bug.old)
        assert count == 1, (f"planted bug not applied: {bug.old!r} occurs {count} times in scratchnet/{bug.file}; "
                            "the engine changed, so update this bug's strings in tests/test_suite_catches_bugs.py")
        sources[bug.file] = sources[bug.file].replace(bug.old, bug.new)
    losses = fresh_module("planted_losses", sources["losses.py"])
    network = fresh_module("planted_network", sources["network.py"])
    for name in ("cross_entropy", "quadratic"):  # Network.cost calls these names of its module
        assert hasattr(network, name), f"network.py no longer imports {name}: update load_engine"
        setattr(network, name, getattr(losses, name))
    return network.Network


def case(Network, loss):
    """Square 4-4-4-4, sigmoid then tanh, float64, a batch of 3."""
    net = Network([4, 4, 4, 4], activation=["sigmoid", "tanh"], loss=loss, dtype="float64", seed=5)
    rng = np.random.default_rng(5)
    return net, rng.uniform(-1, 1, (3, 4)), np.array([0, 3, 1])


def reported(name):
    """The failure message of assert_close names the quantity on a line of its own."""
    return rf"\n{re.escape(name)}\n"


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
def test_the_unmodified_engine_passes_both_checkers(loss):
    net, x, y = case(load_engine(), loss)
    assert_gradients_close(net, x, y, torch_gradients(net, x, y), **TOLERANCE["float64"])
    assert_matches_central_differences(net, x, y)


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_torch_comparison_reports_the_bug(bug):
    net, x, y = case(load_engine(bug), bug.loss)
    ref = torch_gradients(net, x, y)
    with pytest.raises(AssertionError, match=reported(bug.torch_names)):
        assert_gradients_close(net, x, y, ref, **TOLERANCE["float64"])


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_central_differences_report_the_bug(bug):
    net, x, y = case(load_engine(bug), bug.loss)
    with pytest.raises(AssertionError, match=reported(bug.fd_names)):
        assert_matches_central_differences(net, x, y)


def test_a_stale_bug_string_fails_loudly():
    stale = Bug("network.py", "this line is not in the engine", "", "", "")
    with pytest.raises(AssertionError, match="planted bug not applied"):
        load_engine(stale)
