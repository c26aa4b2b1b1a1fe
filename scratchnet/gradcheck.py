"""python -m scratchnet.gradcheck: every gradient of one network against central differences.

    python -m scratchnet.gradcheck                                  # the tutorial's 784-512-512-10, float64
    python -m scratchnet.gradcheck --dtype float32 --batch-size 32
    python -m scratchnet.gradcheck --sizes 20 16 16 5 --activation tanh --loss quadratic
    python -m scratchnet.gradcheck --help
    python -m torch_ref.gradcheck                                   # the same, torch autograd's columns added

The CLI prints one row per dW[l], db[l], delta[l] and the input gradient: the largest absolute and the
relative difference against central differences and (python -m torch_ref.gradcheck) torch autograd,
then pass or fail; the exit status is 1 when any row fails. Quantities with few entries are differenced
entry by entry; large ones along a random direction v: vᵀg against (C(θ + hv) − C(θ − hv)) / 2h. Where
θ ± hv would put a hidden ReLU unit on the other side of its kink, h is halved until it does not
("h/4" in the table): across a kink the quotient is not a derivative at all.

In float32 a column Δ/bound says whether float32 rounding explains each difference: the largest
|float32 − float64| (float64 from the same float32 parameters) over the bound of scratchnet.checking.roundoff. Above
1 the row fails, whatever the fixed tolerances say (σ′ by cancellation passes them and fails this); at most
1, a row outside a fixed tolerance passes as "rounding" when autograd in float64 confirms the float64
value, and a line under the table says which way each such row went.

The central differences are scratchnet.checking.central_differences (torch-free, the tests use them too). The torch
columns need torch: `python -m torch_ref.gradcheck` (the same flags) passes torch_ref.autograd's oracle to
main here (scratchnet.checking.oracle); without it this module shows the central-difference columns only.
"""

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.backend import to_numpy
from scratchnet.checking.agreement import TOLERANCE, relative_error
from scratchnet.checking.central_differences import (
    Direction,
    central_difference_along,
    cost_at,
    float64_copy,
    rounding_floor,
)
from scratchnet.checking.oracle import engine_gradients
from scratchnet.checking.roundoff import error_to_bound, float32_gradient_bounds
from scratchnet.checks import check_seed, check_sizes
from scratchnet.errors import UsageError
from scratchnet.losses import LOSSES
from scratchnet.network import Network
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import run_cli
from scratchnet.shell.memory import check_memory, memory_needed

TORCH_TOLERANCE = TOLERANCE["autograd"]  # dtype: {"rtol", "atol"}
FD_TOLERANCE = TOLERANCE["central differences"]  # relative; float32 gradients against a float64 oracle
ENTRYWISE_MAX = 100  # quantities with more entries are checked along random directions instead
H = 1e-6  # the central differences' h
HALVINGS = 12  # h is halved (down to h/4096) while ±hv crosses a ReLU kink


@dataclass
class Row:
    """One line of the table: a quantity ("dW[3]") and its differences from each oracle (None: not run)."""

    name: str
    torch_abs: float = None
    torch_rel: float = None
    torch_ok: bool = True
    fd_abs: float = None
    fd_rel: float = None
    fd_method: str = ""
    fd_ok: bool = True
    rounding: float = None   # float32: max |float32 − float64| / the float32 rounding bound (≤ 1: rounding explains it)
    float64_ok: bool = False  # float32: the float64 value agrees with autograd's in float64

    @property
    def result(self):
        """pass; FAIL; or rounding: a fixed tolerance fails, but float32 rounding explains the difference.

        In float32, a quantity farther from its float64 value than rounding explains fails even within the
        fixed tolerances; one within it whose float64 value autograd confirms passes as "rounding".
        """
        checks_pass = self.torch_ok and self.fd_ok
        if self.rounding is None:
            return "pass" if checks_pass else "FAIL"
        if self.rounding > 1:
            return "FAIL"
        if checks_pass:
            return "pass"
        return "rounding" if self.float64_ok else "FAIL"

    @property
    def passed(self):
        return self.result != "FAIL"


def torch_columns(grads, expected, rows, dtype):
    """Fill each row's torch columns: scratchnet's `grads` against the oracle's `expected` (both Gradients.rows())."""
    rtol, atol = TORCH_TOLERANCE[dtype].values()
    for row in rows:
        actual, want = grads[row.name], expected[row.name]
        row.torch_abs = float(np.abs(actual.astype(np.float64) - want).max())
        row.torch_rel = relative_error(actual, want)
        row.torch_ok = bool(np.allclose(actual, want, rtol=rtol, atol=atol))


def rounding_column(net, x, y, grads, rows, oracle):
    """float32: fill each row's rounding column, max |float32 − float64| / scratchnet.checking.roundoff's bound.

    The float64 values are scratchnet's, from the same float32 parameters and batch: the same computation
    without float32's rounding, so a difference within the bound is rounding. Whether they are right is
    another question, asked of the oracle (autograd) in float64 when one is given (float64_ok).
    """
    net64, x64, y = float64_copy(net), to_numpy(x).astype(np.float64), to_numpy(y)
    exact = engine_gradients(net64, x64, y).rows()
    bounds = float32_gradient_bounds(net64, y)
    confirmed = {}
    if oracle is not None:
        autograd = oracle(net64, x64, y).rows()
        rtol, atol = TORCH_TOLERANCE["float64"].values()
        confirmed = {name: bool(np.allclose(exact[name], autograd[name], rtol=rtol, atol=atol)) for name in exact}
    for row in rows:
        row.rounding = error_to_bound(grads[row.name], exact[row.name], bounds[row.name])
        row.float64_ok = confirmed.get(row.name, False)


def rounding_notes(rows):
    """A line for each float32 row that fails or passes by rounding: within what rounding explains, or beyond."""
    notes = []
    for row in rows:
        if row.rounding is None or row.result == "pass":
            continue
        if row.rounding > 1:
            notes.append(f"{row.name}: {row.rounding:.3g} times what float32 rounding explains: beyond rounding, "
                         "float32 lost precision that a careful formula keeps, or only float32 goes wrong")
        elif row.result == "rounding":
            notes.append(f"{row.name}: outside the fixed tolerance, but within float32 rounding of the float64 "
                         f"value ({row.rounding:.2g} of the bound), and autograd confirms that: float32 can do "
                         "no better")
        else:
            notes.append(f"{row.name}: within float32 rounding of the float64 value ({row.rounding:.2g} of the "
                         "bound), so float32 is not the cause: check the gradient itself with --dtype float64")
    return notes


def _target(name):
    """("W", l), ("b", l), ("z", l) or ("x", 1) for a row name."""
    if name == "input gradient":
        return "x", 1
    kind, l = name.rstrip("]").split("[")
    return {"dW": "W", "db": "b", "delta": "z"}[kind], int(l)


def smooth_difference(net, x, y, direction, h):
    """central_difference_along with h halved until ±hv crosses no ReLU kink; returns (quotient, h, smooth).

    The nearer a kink, the smaller the step that avoids it; rounding grows as h shrinks, which the caller's
    floor rounding_floor(C, h) follows.
    """
    for _ in range(HALVINGS + 1):
        numeric, smooth = central_difference_along(net, x, y, direction, h)
        if smooth:
            break
        h /= 2
    return numeric, h, smooth


def fd_columns(net, x, y, grads, rows, rng):
    """Fill each row's central-difference columns, taken on a float64 copy of net, with h = H (halved near kinks)."""
    h = H
    net64, x64 = float64_copy(net), to_numpy(x).astype(np.float64)
    y = to_numpy(y)
    C = cost_at(net64, x64, y)
    for row in rows:
        if row.name == "loss":
            continue
        g = grads[row.name].astype(np.float64)
        quantity, l = _target(row.name)
        if g.size <= ENTRYWISE_MAX:
            analytic, numeric, h_min, smooth = g.ravel(), np.empty(g.size), h, True
            for i in range(g.size):
                e = np.zeros(g.size)
                e[i] = 1.0
                numeric[i], h_used, ok = smooth_difference(net64, x64, y, Direction(quantity, l, e.reshape(g.shape)), h)
                h_min, smooth = min(h_min, h_used), smooth and ok
            row.fd_method = "entrywise"
        else:
            v = rng.normal(size=g.shape)
            numeric, h_min, smooth = smooth_difference(net64, x64, y, Direction(quantity, l, v), h)
            analytic, numeric = np.array([(v * g).sum()]), np.array([numeric])
            row.fd_method = "direction"
        if h_min < h:
            row.fd_method += f" h/{round(h / h_min)}"
        row.fd_abs = float(np.abs(analytic - numeric).max())
        row.fd_rel = relative_error(analytic, numeric)
        floor = rounding_floor(C, h_min)
        row.fd_ok = smooth and (row.fd_rel <= FD_TOLERANCE[str(net.dtype)] or row.fd_abs <= floor)
        if not smooth:
            row.fd_method += " kink"


def check(net, x, y, oracle=None, seed=0):
    """Every row of the table for the batch (x, y); the torch columns from `oracle` (scratchnet.checking.oracle),
    if given."""
    grads = engine_gradients(net, x, y).rows()
    rows = [Row(name) for name in grads]
    if oracle is not None:
        torch_columns(grads, oracle(net, x, y).rows(), rows, str(net.dtype))
    fd_columns(net, x, y, grads, rows, np.random.default_rng([seed, 2]))
    if net.dtype == np.float32:
        rounding_column(net, x, y, grads, rows, oracle)
    return rows


def format_table(rows, with_torch):
    """The per-row table as text: max |Δ| and relative difference per oracle, then pass or FAIL."""
    def num(value):
        return "—" if value is None else f"{value:.1e}"

    head = f"{'quantity':<16}"
    if with_torch:
        head += f"{'torch max|Δ|':>14}{'torch rel':>11}"
    head += f"{'fd max|Δ|':>12}{'fd rel':>9}  {'fd method':<18}"
    with_rounding = any(row.rounding is not None for row in rows)
    if with_rounding:
        head += f"{'Δ/bound':>8}  "
    lines = [head + "result"]
    for row in rows:
        line = f"{row.name:<16}"
        if with_torch:
            line += f"{num(row.torch_abs):>14}{num(row.torch_rel):>11}"
        line += f"{num(row.fd_abs):>12}{num(row.fd_rel):>9}  {row.fd_method or '—':<18}"
        if with_rounding:
            line += f"{row.rounding:>8.2g}  "
        lines.append(line + row.result)
    return "\n".join(lines)


def build_parser(prog="python -m scratchnet.gradcheck"):
    p = OneLineParser(prog=prog, description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 512, 512, 10], metavar="N",
                   help="layer widths n_1 … n_L (default 784 512 512 10: the tutorial's model)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu",
                   help="σ of the hidden layers (default relu)")
    p.add_argument("--loss", choices=LOSSES, default="cross-entropy",
                   help="cost C (default cross-entropy)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of the network under test; the finite differences always run in float64 "
                        "(default float64)")
    p.add_argument("--batch-size", type=int, default=8, help="samples m in the random batch (default 8)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the batch (x uniform in [0, 1), labels uniform) and the directions: an "
                        "integer in [0, 2**63 − 1] (default 0)")
    return p


def main(argv=None, oracle=None, prog="python -m scratchnet.gradcheck"):
    """Check every gradient of one network on one random batch, print the table; return the exit status.

    oracle: torch_ref.autograd.torch_gradients (what python -m torch_ref.gradcheck passes), or None for the
    central-difference columns only.
    """
    args = build_parser(prog).parse_args(argv)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    check_seed(args.seed, name="--seed")
    sizes = check_sizes(args.sizes)
    check_memory(memory_needed(sizes, "float64", args.batch_size, state_copies=2),  # float64 copies for the fd
                 f"--sizes {' '.join(map(str, sizes))} with --batch-size {args.batch_size}: the model "
                 f"{'-'.join(map(str, sizes))} in float64", "choose smaller --sizes or a smaller --batch-size")
    net = Network(args.sizes, activation=args.activation, loss=args.loss, dtype=args.dtype, seed=args.seed)
    rng = np.random.default_rng([args.seed, 1])
    x = rng.uniform(0, 1, (args.batch_size, net.sizes[0])).astype(net.dtype)
    y = rng.integers(0, net.sizes[-1], args.batch_size)
    rows = check(net, x, y, oracle, seed=args.seed)
    print_legend(args, net, oracle)
    print(format_table(rows, with_torch=oracle is not None))
    failed = [row.name for row in rows if not row.passed]
    notes = rounding_notes(rows)
    if notes:
        print()
        print("\n".join(notes))
    print()
    print(f"FAILED: {', '.join(failed)}" if failed else f"all {len(rows)} rows pass")
    return 1 if failed else 0


def print_legend(args, net, oracle):
    """What the table checks, against what, and when a row passes."""
    print(f"gradient check: sizes {'-'.join(map(str, net.sizes))}, {args.activation}, {args.loss}, "
          f"{args.dtype}, batch {args.batch_size}, seed {args.seed}")
    if oracle is None:
        print("torch autograd's columns: python -m torch_ref.gradcheck (the same flags, needs torch); "
              "showing the finite-difference columns only")
    else:
        rtol, atol = TORCH_TOLERANCE[args.dtype].values()
        print(f"torch: autograd in {args.dtype}, pass when every entry is within rtol {rtol:g} + atol {atol:g}")
    print(f"fd: central differences in float64, h 1e-06, entrywise up to {ENTRYWISE_MAX} entries, else along "
          "a random direction;")
    fd_rtol = FD_TOLERANCE[args.dtype]
    print(f"    pass when fd rel ≤ {fd_rtol:g} or fd max|Δ| ≤ 10 ε max(1, |C|) / h, the rounding floor")
    if args.dtype == "float32":
        print("Δ/bound: max |float32 − float64| / what float32 rounding allows (scratchnet.checking.roundoff), "
              "float64 from")
        print("    the same float32 parameters; above 1 fails, at most 1 passes a tolerance failure as rounding when")
        print("    autograd in float64 confirms the float64 value")
    print()


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
