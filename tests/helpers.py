"""The comparison helper every test uses: it names the quantity and the layer when it fails."""

import copy
import subprocess
import sys

import numpy as np

from scratchnet.backend import to_numpy
from scratchnet.checking.agreement import TOLERANCE as AGREEMENT
from scratchnet.checking.central_differences import (
    Direction,
    central_difference_along,
    cost_at,
    float64_copy,
    rounding_floor,
)
from scratchnet.checking.oracle import engine_gradients
from scratchnet.checking.roundoff import error_to_bound, float32_gradient_bounds

# scratchnet against torch autograd, per dtype: {"rtol", "atol"} from the one table (scratchnet.checking.agreement,
# which says why float32's hold only for |x| ≤ 1); assert_within_float32_bound uses the bound of rounding instead.
TOLERANCE = AGREEMENT["autograd"]
KINK = 1e-3  # no hidden ReLU z^[l] closer than this to 0: ±h moves z by at most h·|x| ≤ 1e-5 (h = 1e-6, |x| ≤ 10)


def assert_close(actual, expected, name, rtol, atol=0.0):
    """assert_allclose on NumPy copies, with `name` (e.g. "dW[3]") in the failure message."""
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=rtol, atol=atol, err_msg=name)


def assert_gradients_close(net, x, y, expected, rtol, atol=0.0, r=None):
    """Run net on (x, y) and compare, in backprop order, C, then δ^[l], dW[l], db[l] for l = L..2, then ∂C/∂x.

    `expected` is an oracle's answer (scratchnet.checking.oracle.Gradients), torch_ref.autograd.torch_gradients' say.
    The first quantity that differs is named in the failure ("delta[3]"). `r`: the dropout masks {l: r^[l]}
    of the forward pass (None: no dropout).
    """
    net.forward(x, r)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    assert_close(C, expected.C, "loss", rtol, atol)
    for l in range(net.L, 1, -1):
        assert_close(net.delta[l], expected.delta[l], f"delta[{l}]", rtol, atol)
        assert_close(dW[l], expected.dW[l], f"dW[{l}]", rtol, atol)
        assert_close(db[l], expected.db[l], f"db[{l}]", rtol, atol)
    assert_close(net.input_gradient(), expected.input_gradient, "input gradient", rtol, atol)


def assert_within_float32_bound(net, x, y, expected):
    """Run the float32 net on (x, y) and compare C, δ^[l], dW[l], db[l] (l = L..2), ∂C/∂x with the exact values.

    `expected` (an oracle's scratchnet.checking.oracle.Gradients) holds the exact values: those of net's float32
    parameters and batch in float64. Each entry must lie within scratchnet.checking.roundoff's float32 rounding bound;
    the failure names the first quantity that does not, and how many times its bound it is off.
    """
    float32 = engine_gradients(net, x, y).rows()
    net64, y = float64_copy(net), to_numpy(y)
    engine_gradients(net64, to_numpy(x).astype(np.float64), y)  # the bound reads the exact z, a and δ from net64
    bounds = float32_gradient_bounds(net64, y)
    exact = expected.rows()
    for name in bounds:  # backprop order: C, then δ^[l], dW[l], db[l] for l = L..2, then ∂C/∂x
        ratio = error_to_bound(float32[name], exact[name], bounds[name])
        assert ratio <= 1, f"{name}: float32 lies {ratio:.3g} times its rounding bound from the exact value"


def assert_matches_central_differences(net, x, y, rel=1e-7, h=1e-6, r=None):
    """Every δ^[l], dW[l], db[l] (l = L..2) and ∂C/∂x of a small float64 net against central differences.

    Entry by entry, in backprop order; passes when max |analytic − numeric| ≤ rel · max |numeric| + the
    rounding floor 10 ε max(1, |C|) / h (scratchnet.checking.central_differences.rounding_floor), below which no central
    difference resolves anything. The first quantity that differs is named in the failure. `r`: dropout masks
    {l: r^[l]}, the same on every side (None: no dropout).
    """
    net.forward(x, r)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    probe = copy.deepcopy(net)  # the central differences run forward on a copy: net keeps this batch's cache
    floor = rounding_floor(cost_at(probe, x, y, r), h)

    def check(g, quantity, l, name):
        g = to_numpy(g)
        numeric = np.zeros(g.shape)
        for i in np.ndindex(g.shape):
            e = np.zeros(g.shape)
            e[i] = 1.0
            numeric[i], _ = central_difference_along(probe, x, y, Direction(quantity, l, e), h, r)
        assert_close(g, numeric, name, rtol=0, atol=rel * np.abs(numeric).max(initial=0) + floor)

    for l in range(net.L, 1, -1):
        check(net.delta[l], "z", l, f"delta[{l}]")
        check(dW[l], "W", l, f"dW[{l}]")
        check(db[l], "b", l, f"db[{l}]")
    check(net.input_gradient(), "x", 1, "input gradient")


def away_from_kink(net, x, r=None):
    """Whether every hidden ReLU z^[l] of net on the batch x (with dropout masks `r`) is farther than KINK from 0.

    Central differences step ±h; across the kink C is not differentiable there and the quotient is no derivative.
    """
    net.forward(x, r)
    return all(np.abs(to_numpy(net.z[l])).min() > KINK for l in range(2, net.L) if net.activation[l] == "relu")


def relu_sides_agree(net, ref):
    """Every hidden ReLU unit is on (z > 0) both in net's last forward pass and in the oracle's `ref`, or off in both.

    A z^[l] within rounding of 0 can land on either side of the kink in the two engines; σ′ is then 1 in one
    and 0 in the other: a tie at a point where the gradient does not exist, not an error. Rare (none in
    6,000 examples), but nothing rules it out, so such examples are discarded, never passed.
    """
    return all(np.array_equal(to_numpy(net.z[l]) > 0, ref.z[l] > 0)
               for l in range(2, net.L) if net.activation[l] == "relu")


def blocking(module):
    """Python source that, run first in a fresh interpreter, makes every `import module…` fail as if absent."""
    return f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r} or name.startswith({module!r} + "."):
            raise ModuleNotFoundError(f"{{name}} is blocked in this test", name=name)
sys.meta_path.insert(0, Block())
"""


def run_train(*args, prelude=""):
    """`python -m scratchnet.train ARGS` in a fresh interpreter from the repository root; with `prelude`,
    that Python code runs first (to block an import, or to patch a step) and the CLI after it."""
    from conftest import REPO

    if prelude:
        cli = ("from scratchnet.shell.console import run_cli\nfrom scratchnet.train import cli\n"
               "run_cli(cli, sys.argv[1:])\n")
        command = [sys.executable, "-c", "import sys\n" + prelude + "\n" + cli, *args]
    else:
        command = [sys.executable, "-m", "scratchnet.train", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def assert_same_networks(net, ref, when, rtol, atol):
    """Every W^[l], b^[l] of the scratchnet network net against those of ref, named with `when` on failure."""
    for l in ref.W:
        assert_close(net.W[l], ref.W[l], f"W[{l}] {when}", rtol=rtol, atol=atol)
        assert_close(net.b[l], ref.b[l], f"b[{l}] {when}", rtol=rtol, atol=atol)


def assert_same_parameters(net, model, when, rtol=1e-12, atol=1e-14):
    """Every W^[l], b^[l] of net against the torch model's Linear layers, named with `when` on failure.

    rtol = atol = 0 asks for the very same values (a bridge copy); the default allows two updates' rounding.
    """
    for l, linear in zip(range(2, net.L + 1), model.linears(), strict=True):
        assert_close(net.W[l], linear.weight.detach().cpu().numpy(), f"W[{l}] {when}", rtol=rtol, atol=atol)
        assert_close(net.b[l], linear.bias.detach().cpu().numpy(), f"b[{l}] {when}", rtol=rtol, atol=atol)


def step_both(opt, torch_opt, net, model, dW, db, xp=np):
    """One step of scratchnet's optimizer and of torch's on the same gradients (NumPy dicts keyed by l)."""
    import torch

    opt.step({l: xp.asarray(g) for l, g in dW.items()}, {l: xp.asarray(g) for l, g in db.items()})
    for l, linear in zip(range(2, net.L + 1), model.linears(), strict=True):
        linear.weight.grad = torch.from_numpy(dW[l])
        linear.bias.grad = torch.from_numpy(db[l])
    torch_opt.step()
