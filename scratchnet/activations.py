"""Activations σ and their derivatives σ′, elementwise.

Each pair is (σ, σ′). Derivatives are taken at z^[l] (not at a^[l]): the backward pass calls
σ′(z^[l]) in (BP2), and for the quadratic cost in (BP1).

Shapes: any; the output has the shape and dtype of z.
"""

from scratchnet.backend import get_xp


def relu(z):
    """σ(z) = max(z, 0)."""
    return get_xp(z).maximum(z, 0)


def relu_prime(z):
    """σ′(z) = 1 where z > 0, else 0. At the kink z = 0 we take 0, as PyTorch does."""
    return (z > 0).astype(z.dtype)


def sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z)), computed as e^(−log(1 + e^(−z))): the naive form overflows e^(−z) for z ≪ 0.

    logaddexp(0, −z) = log(1 + e^(−z)) never overflows, and unlike ½(1 + tanh(z/2)) this keeps full
    relative precision in both tails (σ(−80) = 1.8e-35, not 0).
    """
    xp = get_xp(z)
    return xp.exp(-xp.logaddexp(0, -z))


def sigmoid_prime(z):
    """σ′(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    """σ(z) = tanh z."""
    return get_xp(z).tanh(z)


def tanh_prime(z):
    """σ′(z) = 1 − tanh² z."""
    t = get_xp(z).tanh(z)
    return 1 - t * t


def identity(z):
    """σ(z) = z: the output layer under cross-entropy returns the logits z^[L] themselves."""
    return z


def identity_prime(z):
    """σ′(z) = 1."""
    return get_xp(z).ones_like(z)


ACTIVATIONS = {
    "relu": (relu, relu_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "identity": (identity, identity_prime),
}
HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh")
