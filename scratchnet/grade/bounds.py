"""How far rounding in a case's dtype alone can take each answer: the grader's tolerances, quantity by quantity.

float32: scratchnet.checking.roundoff's bounds for C, δ^[l], ∂C/∂W^[l] and ∂C/∂b^[l]; its rules (R1) and (R2)
for z^[l] and a^[l] (the forward pass from x, W, b in float32); (R0) for the update θ − α g, whose g is the
engine's gradient rounded to float32 (u relative), α rounded too, then one product and one difference, and
γ_2m more for a g given as the sum of the samples' gradients (the per-sample layout).

float64: the same bounds at u = 2^-53. Every term of them is first order in u or grows faster with it (E_A E_B,
e^{kE} − 1, γ_n), so the float32 bound times 2^-53 / 2^-24 = 2^-29 is at least float64's; twice that, since the
engine's own float64 answer may be as far from the exact one as the student's. A float64 answer beyond it is
not rounding: finite differences (accurate to ~1e-9) or a wrong formula.

Shapes: every bound has the shape of its quantity, in the rows layout (scratchnet/grade/layouts.py reshapes).
"""

import numpy as np

from scratchnet.checking import roundoff
from scratchnet.checking.roundoff import TINY, U, activation_errors, exact, gamma, product_error

FLOAT64_PER_FLOAT32 = 2.0 ** -29   # u64 / u32
BOTH_ROUNDED = 2.0                 # the engine's float64 answer and the student's are each off by up to the bound


def rounding_bounds(net, y, dW, db, lr, dtype):
    """{"loss", "z[l]", "a[l]", "delta[l]", "dW[l]", "db[l]", "W[l]", "b[l]", …: the bound} for the case's dtype.

    net: the case's float64 Network after forward, cost and backward on (x, y), whose gradients are dW, db;
    lr: α of the update.
    """
    bounds = roundoff.float32_gradient_bounds(net, y)
    bounds.update(_forward_bounds(net))
    m = len(net.a[1])
    for l in range(2, net.L + 1):
        for name, theta, g in (("W", net.W[l], dW[l]), ("b", net.b[l], db[l])):
            step = np.abs(lr * g)  # (R0) four times: g and α rounded, α g, θ − α g; γ_2m: g as a sum of samples'
            bounds[f"{name}[{l}]"] = (4 * U + gamma(2 * m)) * (np.abs(theta - lr * g) + step) + TINY
    if np.dtype(dtype) == np.float32:
        return bounds
    return {key: BOTH_ROUNDED * FLOAT64_PER_FLOAT32 * np.asarray(bound) for key, bound in bounds.items()}


def _forward_bounds(net):
    """(R1), (R2) for z^[l] = W^[l] a^[l-1] + b^[l] and a^[l] = σ(z^[l]), from an exact x (roundoff's forward)."""
    z, a = net.z, net.a
    E_a, bounds = np.zeros_like(a[1]), {}
    for l in range(2, net.L + 1):
        n = net.sizes[l - 2] + 1
        E_z = product_error(a[l - 1], E_a, net.W[l].T, exact(net.W[l].T), n) + gamma(n) * np.abs(net.b[l])
        E_a, _ = activation_errors(net.activation[l], z[l], E_z, a[l], net.sigma_prime[l](z[l]))
        bounds[f"z[{l}]"], bounds[f"a[{l}]"] = E_z, E_a
    return bounds
