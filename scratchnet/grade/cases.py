"""The grader's cases and the oracle's answers: small networks, each run through scratchnet's reference engine.

Every case is a network (depth 2–5, mixed σ, both costs), a batch, a learning rate α and a dtype. The default
cases are chosen so that each classic mistake shows: square layers (a missing transpose raises no shape error
and must show in the values), layers with n_l ≠ n_{l-1} (the same mistake must not hide behind a square
matrix), sigmoid and tanh (σ′(a) ≠ σ′(z), unlike ReLU), L = 2 (no hidden layer), L = 5, m = 1 and m > 1 (the
1/m and the sum over the batch); α differs from case to case and from 0.1, 1 and 0.01 (an update that ignores
`lr` fails); two cases have confident outputs, |z^[L]| in the hundreds, one in float32 (e^z overflows past
z ≈ 88.7, and softmax underflows to 0 so that log(softmax) is −∞) and one in float64 past z ≈ 709.8, where only
the shifted softmax and log-softmax are exact. Beyond the nine, `cases(n)` draws random ones.

The answers are the engine's own: Network.forward, cost, backward (scratchnet/network.py, losses.py) and
SGD.step (optim.py), in float64, in the rows layout; scratchnet/grade/layouts.py turns them into the others.
Each answer comes with its bound (scratchnet/grade/bounds.py): how far rounding in the case's dtype alone can
take it, so that a float64 answer is held to float64's precision, not to a fixed 1e-7.
"""

from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.grade.bounds import rounding_bounds
from scratchnet.losses import LOSSES
from scratchnet.network import Network
from scratchnet.optim import SGD

LR = 0.37  # α of a random case; the default cases each have their own (never 0.1, 1 or 0.01)
RANDOM_LR = (0.37, 0.043, 2.9, 0.61, 0.0077)


@dataclass(frozen=True)
class Case:
    """A network and a batch, by a few numbers: sizes [n_1, …, n_L], the hidden σ of each layer, the cost, m, α,
    the dtype of every array the student is given, and a factor on W^[L], b^[L] (confident outputs)."""

    sizes: tuple
    activation: tuple
    loss: str
    m: int
    seed: int
    lr: float = LR
    dtype: str = "float64"
    confidence: float = 1.0

    def describe(self):
        sigma = ", ".join(self.activation) if self.activation else "no hidden layer"
        extra = "" if self.dtype == "float64" else f"; {self.dtype}"
        extra += "" if self.confidence == 1 else f"; confident outputs, W^[L] × {self.confidence:g}"
        return f"{'-'.join(map(str, self.sizes))} ({sigma}; {self.loss}; m = {self.m}; α = {self.lr:g}{extra})"


DEFAULT_CASES = (
    Case((4, 4, 4, 4), ("sigmoid", "tanh"), "cross-entropy", 3, 1, lr=0.37),   # square: a missing transpose runs
    Case((5, 3, 4, 2), ("tanh", "sigmoid"), "quadratic", 4, 2, lr=0.053),
    Case((3, 6, 5, 4, 2), ("relu", "sigmoid", "tanh"), "cross-entropy", 1, 3, lr=2.9),  # L = 5, m = 1
    Case((4, 3), (), "quadratic", 2, 4, lr=0.23),                                # L = 2: no (BP2) at all
    Case((6, 4, 3), ("sigmoid",), "cross-entropy", 5, 5, lr=0.61),
    Case((3, 3, 3, 3), ("tanh", "sigmoid"), "quadratic", 3, 6, lr=0.0077),      # square, quadratic
    Case((2, 5, 3), ("relu",), "quadratic", 1, 7, lr=1.7),
    Case((5, 4, 4, 3, 3), ("sigmoid", "tanh", "sigmoid"), "cross-entropy", 2, 30, lr=0.45,
         confidence=1600.0),                                  # float64: max z^[L] 852, a sample wrong by 811
    Case((4, 5, 3), ("tanh",), "cross-entropy", 4, 9, lr=0.13, dtype="float32",
         confidence=300.0),                                   # float32: |z^[L]| up to 360, samples wrong by 121–322
)


N_CASES = len(DEFAULT_CASES)
MAX_CASES = 1000  # --cases beyond it: a thousand networks already outlast a submission's time budget


def cases(n=N_CASES, seed=0):
    """The first n default cases (new weights for seed ≠ 0), then random ones: L 2–5, widths 1–6, m 1–5."""
    chosen = [replace(c, seed=c.seed + 1000 * seed) for c in DEFAULT_CASES[:n]]
    rng = np.random.default_rng([seed, 3])
    while len(chosen) < n:
        L = int(rng.integers(2, 6))
        sizes = tuple(int(s) for s in rng.integers(1, 7, L))
        activation = tuple(str(s) for s in rng.choice(HIDDEN_ACTIVATIONS, L - 2))
        loss = str(rng.choice(LOSSES))
        chosen.append(Case(sizes, activation, loss, int(rng.integers(1, 6)), int(rng.integers(1 << 30)),
                           lr=float(rng.choice(RANDOM_LR))))
    return chosen


@dataclass
class Reference:
    """The engine's answers for one batch, rows layout, float64; dicts keyed by the layer number l.

    W, b: the parameters before the update; a, z: the forward pass; C, delta (δ^[l], l = L..2), dW, db: the
    cost and backward; W_after, b_after: after one SGD step of α = lr; bounds: how far rounding in the case's
    dtype can take each of them (scratchnet/grade/bounds.py).
    """

    case: Case
    net: Network
    x: np.ndarray
    y: np.ndarray
    W: dict
    b: dict
    a: dict
    z: dict
    C: float
    delta: dict
    dW: dict
    db: dict
    W_after: dict
    b_after: dict
    lr: float = LR
    bounds: dict = field(default_factory=dict)   # "loss", "z[l]", "a[l]", "delta[l]", "dW[l]", "db[l]", "W[l]", "b[l]"
    samples: list = field(default_factory=list)  # the same network on each sample alone (per-sample layout)

    @property
    def L(self):
        return self.net.L


def reference(case):
    """Build the case's network and batch, run the engine on the whole batch and on every sample alone.

    W, b and x are float32 numbers held in float64, so that a float32 case gives the student exactly the same
    inputs, and the bounds can say how far rounding alone takes each answer. confidence multiplies W^[L] and
    b^[L] (rounded to float32 again): confident outputs, |z^[L]| in the hundreds.
    """
    drawn = Network(list(case.sizes), activation=list(case.activation), loss=case.loss, dtype="float64",
                    seed=case.seed)
    L = len(case.sizes)
    W, b = float32_exact(drawn.W), float32_exact(drawn.b)
    W[L], b[L] = float32_exact(W[L] * case.confidence), float32_exact(b[L] * case.confidence)
    net = Network.from_parameters(W, b, activation=list(case.activation), loss=case.loss)
    rng = np.random.default_rng([case.seed, 2])
    x = float32_exact(rng.uniform(-2, 2, (case.m, case.sizes[0])))  # wide: σ′(a) and σ′(z) differ clearly
    y = rng.integers(0, case.sizes[-1], case.m)
    ref = engine_pass(case, net, x, y, case.lr)
    ref.samples = [engine_pass(case, net, x[i:i + 1], y[i:i + 1], case.lr) for i in range(case.m)]
    return ref


def engine_pass(case, net, x, y, lr):
    """Forward, cost, backward and one SGD step of the engine on (x, y); net's parameters are left as they were."""
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    after = SimpleNamespace(W=copies(net.W), b=copies(net.b))
    SGD(after, lr=lr).step(dW, db)  # θ ← θ − α g, on copies
    bounds = rounding_bounds(net, y, dW, db, lr, case.dtype)
    return Reference(case, net, x, y, copies(net.W), copies(net.b), dict(net.a), dict(net.z), float(C),
                     dict(net.delta), dW, db, after.W, after.b, lr, bounds=bounds)


def in_dtype(args, dtype):
    """The arguments of a call with every float array (in dicts and tuples too) in the case's dtype."""
    if isinstance(args, np.ndarray) and args.dtype.kind == "f":
        return args.astype(dtype)
    if isinstance(args, dict):
        return {k: in_dtype(v, dtype) for k, v in args.items()}
    if isinstance(args, tuple):
        return tuple(in_dtype(v, dtype) for v in args)
    return args


def copies(arrays):
    return {l: v.copy() for l, v in arrays.items()}


def float32_exact(arrays):
    """The nearest float32 numbers, held in float64: an array, or a dict of them keyed by l."""
    if isinstance(arrays, dict):
        return {l: float32_exact(v) for l, v in arrays.items()}
    return arrays.astype(np.float32).astype(np.float64)
