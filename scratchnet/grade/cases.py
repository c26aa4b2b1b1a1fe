"""The grader's cases and the oracle's answers: small networks, each run through scratchnet's reference engine.

Every case is a network (depth 2–5, mixed σ, both costs) and a batch. The default cases are chosen so that
each classic mistake shows: square layers (a missing transpose raises no shape error and must show in the
values), layers with n_l ≠ n_{l-1} (the same mistake must not hide behind a square matrix), sigmoid and tanh
(σ′(a) ≠ σ′(z), unlike ReLU), L = 2 (no hidden layer), L = 5, m = 1 and m > 1 (the 1/m and the sum over the
batch). Beyond the eight, `cases(n)` draws random ones.

The answers are the engine's own: Network.forward, cost, backward (scratchnet/network.py, losses.py) and
SGD.step (optim.py), in float64, in the rows layout; scratchnet/grade/layouts.py turns them into the others.
"""

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.checking.roundoff import float32_gradient_bounds
from scratchnet.losses import LOSSES
from scratchnet.network import Network
from scratchnet.optim import SGD

LR = 0.1  # α of the update the grader checks


@dataclass(frozen=True)
class Case:
    """A network and a batch, by a few numbers: sizes [n_1, …, n_L], the hidden σ of each layer, the cost, m."""

    sizes: tuple
    activation: tuple
    loss: str
    m: int
    seed: int

    def describe(self):
        sigma = ", ".join(self.activation) if self.activation else "no hidden layer"
        return f"{'-'.join(map(str, self.sizes))} ({sigma}; {self.loss}; m = {self.m})"


DEFAULT_CASES = (
    Case((4, 4, 4, 4), ("sigmoid", "tanh"), "cross-entropy", 3, 1),   # square: a missing transpose runs
    Case((5, 3, 4, 2), ("tanh", "sigmoid"), "quadratic", 4, 2),
    Case((3, 6, 5, 4, 2), ("relu", "sigmoid", "tanh"), "cross-entropy", 1, 3),  # L = 5, m = 1
    Case((4, 3), (), "quadratic", 2, 4),                               # L = 2: no (BP2) at all
    Case((6, 4, 3), ("sigmoid",), "cross-entropy", 5, 5),
    Case((3, 3, 3, 3), ("tanh", "sigmoid"), "quadratic", 3, 6),       # square, quadratic
    Case((2, 5, 3), ("relu",), "quadratic", 1, 7),
    Case((5, 4, 4, 3, 3), ("sigmoid", "tanh", "sigmoid"), "cross-entropy", 2, 8),
)


N_CASES = len(DEFAULT_CASES)


def cases(n=N_CASES, seed=0):
    """The first n default cases (new weights for seed ≠ 0), then random ones: L 2–5, widths 1–6, m 1–5."""
    chosen = [Case(c.sizes, c.activation, c.loss, c.m, c.seed + 1000 * seed) for c in DEFAULT_CASES[:n]]
    rng = np.random.default_rng([seed, 3])
    while len(chosen) < n:
        L = int(rng.integers(2, 6))
        sizes = tuple(int(s) for s in rng.integers(1, 7, L))
        activation = tuple(str(s) for s in rng.choice(HIDDEN_ACTIVATIONS, L - 2))
        loss = str(rng.choice(LOSSES))
        chosen.append(Case(sizes, activation, loss, int(rng.integers(1, 6)), int(rng.integers(1 << 30))))
    return chosen


@dataclass
class Reference:
    """The engine's answers for one batch, rows layout, float64; dicts keyed by the layer number l.

    W, b: the parameters before the update; a, z: the forward pass; C, delta (δ^[l], l = L..2), dW, db: the
    cost and backward; W_after, b_after: after one SGD step of α = lr.
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
    bounds: dict = field(default_factory=dict)   # float32_gradient_bounds: "loss", "delta[l]", "dW[l]", "db[l]"
    samples: list = field(default_factory=list)  # the same network on each sample alone (per-sample layout)

    @property
    def L(self):
        return self.net.L


def reference(case, lr=LR):
    """Build the case's network and batch, run the engine on the whole batch and on every sample alone.

    W, b and x are float32 numbers held in float64, so that a student who computes in float32 starts from
    exactly the same inputs, and float32_gradient_bounds can say how far float32 rounding alone takes them.
    """
    drawn = Network(list(case.sizes), activation=list(case.activation), loss=case.loss, dtype="float64",
                    seed=case.seed)
    net = Network.from_parameters(float32_exact(drawn.W), float32_exact(drawn.b), activation=list(case.activation),
                                  loss=case.loss)
    rng = np.random.default_rng([case.seed, 2])
    x = float32_exact(rng.uniform(-2, 2, (case.m, case.sizes[0])))  # wide: σ′(a) and σ′(z) differ clearly
    y = rng.integers(0, case.sizes[-1], case.m)
    ref = engine_pass(case, net, x, y, lr)
    ref.samples = [engine_pass(case, net, x[i:i + 1], y[i:i + 1], lr) for i in range(case.m)]
    return ref


def engine_pass(case, net, x, y, lr):
    """Forward, cost, backward and one SGD step of the engine on (x, y); net's parameters are left as they were."""
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    bounds = float32_gradient_bounds(net, y)
    after = SimpleNamespace(W=copies(net.W), b=copies(net.b))
    SGD(after, lr=lr).step(dW, db)  # θ ← θ − α g, on copies
    return Reference(case, net, x, y, copies(net.W), copies(net.b), dict(net.a), dict(net.z), float(C),
                     dict(net.delta), dW, db, after.W, after.b, lr, bounds=bounds)


def copies(arrays):
    return {l: v.copy() for l, v in arrays.items()}


def float32_exact(arrays):
    """The nearest float32 numbers, held in float64: an array, or a dict of them keyed by l."""
    if isinstance(arrays, dict):
        return {l: float32_exact(v) for l, v in arrays.items()}
    return arrays.astype(np.float32).astype(np.float64)
