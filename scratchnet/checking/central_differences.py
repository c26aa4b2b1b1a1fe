"""Gradients by central differences, the torch-free oracle: (C(θ + hv) − C(θ − hv)) / 2h ≈ vᵀ ∂C/∂θ.

One quotient, `central_difference`, under every check: entry by entry (`numerical_gradients`, v a unit
vector), along one direction over all parameters (`directional_derivative`), and along a direction in one
quantity, W^[l], b^[l], z^[l] or x (`central_difference_along` a `Direction`, which also says whether ±hv
crossed a ReLU kink). The error of the quotient is O(h²) from truncation plus O(ε·C/h) from rounding
(`rounding_floor`); in float64 with h = 1e-6 both stay far below 1e-7 relative. python -m scratchnet.gradcheck
prints the table.
"""

from typing import NamedTuple

import numpy as np

from scratchnet.backend import to_numpy
from scratchnet.network import Network


class Direction(NamedTuple):
    """v, a direction in one quantity θ: W^[l] ("W"), b^[l] ("b"), z^[l] ("z") or x ("x", l = 1); v is shaped like θ."""

    quantity: str
    l: int
    v: object


def central_difference(C_plus, C_minus, h):
    """(C(θ + hv) − C(θ − hv)) / 2h, the quotient every check here takes."""
    return (C_plus - C_minus) / (2 * h)


def cost_at(net, x, y, r=None):
    """C for the batch (x, y) with the network's current parameters (and the dropout masks r = {l: r^[l]}, if given)."""
    net.forward(x, r)
    C, _ = net.cost(y)
    return float(C)


def numerical_gradients(net, x, y, h=1e-6):
    """∂C/∂W^[l] and ∂C/∂b^[l] for every l, one central difference per entry (small networks only)."""
    dW, db = {}, {}
    for l in range(2, net.L + 1):
        dW[l] = _numerical_gradient(net, net.W[l], x, y, h)
        db[l] = _numerical_gradient(net, net.b[l], x, y, h)
    return dW, db


def _numerical_gradient(net, theta, x, y, h):
    grad = np.zeros(theta.shape, dtype=np.float64)
    for i in np.ndindex(theta.shape):
        old = theta[i]
        theta[i] = old + h
        C_plus = cost_at(net, x, y)
        theta[i] = old - h
        C_minus = cost_at(net, x, y)
        theta[i] = old
        grad[i] = central_difference(C_plus, C_minus, h)
    return grad


def directional_derivative(net, x, y, direction_W, direction_b, h=1e-6):
    """(C(θ + hv) − C(θ − hv)) / 2h for a direction v over all parameters: vᵀ∇C in two evaluations.

    v is given per layer as direction_W[l] (like W^[l]) and direction_b[l] (like b^[l]).

    The check for large layers, where one difference per entry would be too slow.
    """
    W, b = {l: net.W[l].copy() for l in net.W}, {l: net.b[l].copy() for l in net.b}  # put back exactly after
    costs = []
    for sign in (+1, -1):
        for l in W:  # in place: the Network keeps its own arrays (a FusedStep or a test may hold them)
            net.W[l][...] = W[l] + sign * h * direction_W[l]
            net.b[l][...] = b[l] + sign * h * direction_b[l]
        costs.append(cost_at(net, x, y))
    for l in W:
        net.W[l][...], net.b[l][...] = W[l], b[l]
    return central_difference(costs[0], costs[1], h)


def relu_pattern(net, z):
    """Which hidden ReLU units are on (z^[l] > 0), for l = 2..L−1: the cost is smooth while this holds."""
    return {l: z[l] > 0 for l in range(2, net.L) if net.activation[l] == "relu" and l in z}


def cost_from_layer(net, x, y, l, step, r=None):
    """C with z^[l] replaced by z^[l] + step (m, n_l), by the engine's own forward and cost; and every z^[k].

    z^[l] + step = W^[l] a^[l-1] + (b^[l] + step): the step rides on the bias, one row per sample (broadcast
    as b^[l] is), and net.b[l] is put back after. The derivative of this C with respect to step is
    δ^[l] = ∂C/∂z^[l], what (BP1)–(BP2) compute.
    """
    b_l = net.b[l]
    net.b[l] = b_l + step
    try:
        C = cost_at(net, x, y, r)
    finally:
        net.b[l] = b_l
    return C, dict(net.z)


def _cost_with_step(net, x, y, direction, sign, r):
    """C and every z^[k] after θ += sign · v (the Direction's), θ being W^[l], b^[l], z^[l] or x; parameters are
    restored exactly."""
    quantity, l, step = direction.quantity, direction.l, sign * direction.v
    if quantity == "z":
        return cost_from_layer(net, x, y, l, step, r)
    if quantity == "x":
        C = cost_at(net, x + step, y, r)
        return C, dict(net.z)
    theta = net.W[l] if quantity == "W" else net.b[l]
    old = theta.copy()
    theta += step
    C = cost_at(net, x, y, r)
    theta[...] = old
    return C, dict(net.z)


def central_difference_along(net, x, y, direction, h=1e-6, r=None):
    """(C(θ + hv) − C(θ − hv)) / 2h ≈ vᵀ ∂C/∂θ, for the Direction v in θ = W^[l], b^[l], z^[l] or x.

    r: the dropout masks {l: r^[l]} to hold fixed on both sides (None: no dropout).

    Returns the quotient and whether it can be trusted: False when a hidden ReLU unit is on at one end
    and off at the other (the segment crosses a kink, where C is not differentiable).
    """
    C_plus, z_plus = _cost_with_step(net, x, y, direction, h, r)
    C_minus, z_minus = _cost_with_step(net, x, y, direction, -h, r)
    on_plus, on_minus = relu_pattern(net, z_plus), relu_pattern(net, z_minus)
    smooth = all(bool((on_plus[k] == on_minus[k]).all()) for k in on_plus)
    return central_difference(C_plus, C_minus, h), smooth


def float64_copy(net):
    """net in float64 on NumPy, parameters cast exactly: finite differences need double precision."""
    hidden = [net.activation[l] for l in range(2, net.L)]
    copy = Network(net.sizes, activation=hidden, loss=net.loss, dtype="float64")
    for l in net.W:
        copy.W[l] = to_numpy(net.W[l]).astype(np.float64)
        copy.b[l] = to_numpy(net.b[l]).astype(np.float64)
    return copy


def rounding_floor(C, h):
    """10 ε max(1, |C|) / h: below this a central difference cannot tell two derivatives apart.

    Each C(θ ± hv) carries a rounding error of a few ε|C|; divided by 2h it becomes ≈ ε|C|/h.
    """
    return 10 * np.finfo(np.float64).eps * max(1.0, abs(C)) / h


