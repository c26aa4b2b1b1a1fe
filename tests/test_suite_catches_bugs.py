"""The suite can fail: the classic backprop bugs, planted one at a time in the engine, are each caught by the
suite's own gradient tests, which name the quantity the bug makes wrong.

Each bug is one string replacement in scratchnet/network.py or losses.py, aimed at an equation-tagged line,
applied exactly once (an edit of the engine makes this fail loudly, never pass vacuously: then update the
strings here). The named test is the suite's own function (tests/test_gradients_torch.py's property test
against autograd, tests/test_float32_accuracy.py's confident outputs), called here under the `planted`
hypothesis profile (25 examples, derandomized, so that each catch is reproducible). First the control: every
named test passes on the unmodified engine. Then per bug it must fail, and its failure must name the
quantity: hypothesis shrinks the bug to the smallest network that shows it (L = 3 where a hidden layer is
needed), and the first quantity that differs is named for that network: "delta[2]" is δ^[L−1] of a 1-1-1
network, "dW[3]" is ∂C/∂W^[L] of a 1-1-2 one; a transpose or a δ from the wrong layer fails on the first
non-square layer as a shape error at the planted line.

In-process, not in a copy run by a fresh pytest (as tests/test_suite_catches_loop_bugs.py does): the named tests
only call the engine, so tests/planting.planted_in_process runs the edited source as a fresh module and swaps
its functions and Network's methods into the live modules for the duration of one call, which every holder of
a reference (scratchnet.Network, conftest's cases, the oracles' float64 copies) then runs. The same tests, on
the same code with one edit, cost a fraction of a second each instead of a pytest start (seconds) each.

    python -m pytest tests/test_suite_catches_bugs.py
"""

import re
import traceback
from dataclasses import dataclass

import numpy as np
import pytest
import test_float32_accuracy
import test_gradients_torch
from hypothesis import settings

from conftest import PROFILE
from planting import Plant, planted_in_process, quantity


@dataclass
class Named:
    """One of the suite's tests, as pytest names it, and how to call its function here."""

    node: str
    function: object
    arguments: dict


TORCH = Named("tests/test_gradients_torch.py::test_gradients_match_torch_float64[numpy]",
              test_gradients_torch.test_gradients_match_torch_float64, {"xp": np})
CONFIDENT = {loss: Named(f"tests/test_float32_accuracy.py::test_confident_outputs_keep_relative_precision_in_float32"
                         f"[{loss}]", test_float32_accuracy.test_confident_outputs_keep_relative_precision_in_float32,
                         {"loss": loss})
             for loss in ("cross-entropy", "quadratic")}
NETWORK, LOSSES = "scratchnet/network.py", "scratchnet/losses.py"
CATALOGUE = "tests/test_suite_catches_bugs.py"


def gradients(file, old, new, shows):
    """A bug in the gradients, caught by the comparison with autograd naming `shows` (a quantity, or a regex)."""
    return Plant(file, old, new, (TORCH,), shows if shows.startswith("(?") else quantity(shows))


def shape_error_at(line):
    """A shape error raised at the planted line, as the traceback shows it."""
    return rf"(?s){re.escape(line)}.*ValueError: matmul: Input operand"


BUGS = {
    "σ′ dropped (BP2)": gradients(NETWORK, "self.sigma_prime[l - 1](self.z[l - 1]) * (delta", "(delta", "delta[2]"),
    "σ′ dropped at the output (BP1, quadratic)": gradients(
        LOSSES, "sigma_prime(z_L) * error / m", "error / m", "delta[l]"),
    "σ′ taken at a^[l] instead of z^[l] (BP2)": gradients(
        NETWORK, "self.sigma_prime[l - 1](self.z[l - 1])", "self.sigma_prime[l - 1](self.a[l - 1])", "delta[2]"),
    "missing 1/m (BP1, cross-entropy)": gradients(LOSSES, "delta_L = p / m", "delta_L = p", "delta[2]"),
    "missing 1/m (BP1, quadratic)": gradients(LOSSES, "* error / m", "* error", "delta[2]"),
    "sign of onehot flipped (BP1)": gradients(  # p + onehot(y): δ_y = p_y + 1 = 2 − Σ_{k≠y} p_k
        LOSSES, "p[rows, y] = -p.sum(axis=1)", "p[rows, y] = 2 - p.sum(axis=1)", "delta[2]"),
    "W not transposed (BP2)": gradients(NETWORK, "(delta @ self.W[l])", "(delta @ self.W[l].T)",
                                        shape_error_at("(delta @ self.W[l].T)")),
    "W not transposed (forward)": gradients(NETWORK, "a[l - 1] @ self.W[l].T", "a[l - 1] @ self.W[l]",
                                            shape_error_at("a[l - 1] @ self.W[l] + self.b[l]")),
    "dW transposed (BP4)": gradients(
        NETWORK, "dW[l] = delta.T @ self.a[l - 1]", "dW[l] = self.a[l - 1].T @ delta", "dW[l]"),
    "a from the wrong layer (BP4)": gradients(
        NETWORK, "dW[l] = delta.T @ self.a[l - 1]", "dW[l] = delta.T @ self.a[l]", "dW[l]"),
    "δ from the wrong layer (BP2 restarts from δ^[L])": gradients(
        NETWORK, "(delta @ self.W[l])", "(delta_L @ self.W[l])", shape_error_at("(delta_L @ self.W[l])")),
    "δ kept under the wrong layer": gradients(
        NETWORK, "self.delta[l - 1] = delta", "self.delta[l] = delta", "delta[l]"),
    "bias gradient from the first sample only (BP3)": gradients(
        NETWORK, "db[l] = delta.sum(axis=0)", "db[l] = delta[0]", "db[2]"),
    "bias gradient averaged, a second 1/m (BP3)": gradients(
        NETWORK, "db[l] = delta.sum(axis=0)", "db[l] = delta.mean(axis=0)", "db[2]"),
    "δ_y by cancellation, the naive p_y − 1 (BP1, cross-entropy)": Plant(
        LOSSES, "p[rows, y] = -p.sum(axis=1)", "p[rows, y] = (e / Z)[rows, y] - 1", (CONFIDENT["cross-entropy"],),
        r"margin \d+: delta\[3\] lies [\d.e+]+ times its float32 bound off"),
    "a^[L] − 1 by cancellation (BP1, quadratic)": Plant(
        LOSSES, "where(target, -sigmoid(-z_L), a_L)", "where(target, a_L - 1, a_L)", (CONFIDENT["quadratic"],),
        r"margin \d+: delta\[3\] lies [\d.e+]+ times its float32 bound off"),
}


def failure(named):
    """Run the named test here under the `planted` profile: its failure's text with traceback, or None if it passed."""
    settings.load_profile("planted")
    try:
        named.function(**named.arguments)
    except Exception as e:  # an AssertionError, a shape error, or hypothesis' group of distinct failures
        return "".join(traceback.format_exception(e))
    finally:
        settings.load_profile(PROFILE)
    return None


@pytest.fixture(scope="module")
def control():
    """The named tests pass on the unmodified engine: without that, no catch means anything."""
    for named in {id(t): t for bug in BUGS.values() for t in bug.tests}.values():
        text = failure(named)
        assert text is None, f"the control run of {named.node} fails on the unmodified engine:\n{text[-3000:]}"


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_the_named_test_catches_the_bug(bug, control):
    named = bug.tests[0]
    with planted_in_process(bug, CATALOGUE):
        text = failure(named)
    assert text is not None, f"{named.node} passes with the bug planted"
    assert re.search(bug.shows, text), (f"{named.node} fails, but its failure does not name the bug's quantity "
                                        f"{bug.shows!r}:\n{text[-3000:]}")


def test_a_stale_bug_string_fails_loudly():
    stale = Plant(NETWORK, "this line is not in the engine", "", (TORCH,), "")
    with pytest.raises(AssertionError, match="planted bug not applied"), planted_in_process(stale, CATALOGUE):
        pass


def test_the_engine_is_restored_after_a_plant():
    from scratchnet import Network

    propagate = Network._propagate
    with planted_in_process(BUGS["W not transposed (forward)"], CATALOGUE):
        assert Network._propagate is not propagate
    assert Network._propagate is propagate
