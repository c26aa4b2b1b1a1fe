"""Gradients by central differences, the torch-free oracle: (C(θ + h) − C(θ − h)) / 2h.

Used by the test suite. The error of the central difference is O(h²) from truncation plus
O(ε·C/h) from rounding; in float64 with h = 1e-6 both stay far below 1e-7 relative.
"""

import numpy as np


def cost_at(net, x, y):
    """C for the batch (x, y) with the network's current parameters."""
    net.forward(x)
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
        grad[i] = (C_plus - C_minus) / (2 * h)
    return grad


def directional_derivative(net, x, y, v_W, v_b, h=1e-6):
    """(C(θ + hv) − C(θ − hv)) / 2h for a direction v over all parameters: vᵀ∇C in two evaluations.

    The check for large layers, where one difference per entry would be too slow.
    """
    costs = []
    for sign in (+1, -1):
        for l in v_W:
            net.W[l] += sign * h * v_W[l]
            net.b[l] += sign * h * v_b[l]
        costs.append(cost_at(net, x, y))
        for l in v_W:
            net.W[l] -= sign * h * v_W[l]
            net.b[l] -= sign * h * v_b[l]
    return (costs[0] - costs[1]) / (2 * h)
