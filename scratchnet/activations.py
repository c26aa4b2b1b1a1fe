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
    """σ′(z) = σ(z) σ(−z), both factors from the stable sigmoid: no cancellation, full precision in both tails.

    The textbook form σ(z)(1 − σ(z)) is the same number (1 − σ(z) = σ(−z)), but it subtracts two nearly
    equal numbers where the unit saturates: for z ≫ 0, σ(z) rounds to 1, and 1 − σ(z) keeps one bit or none.
    float32 gives σ′(17) 44% too large and σ′(z) = 0 from z = 17.4 on (float64 from 37), where the true
    value is e^(−z) to full precision. σ(−z) computes that small factor directly.
    """
    return sigmoid(z) * sigmoid(-z)


def tanh(z):
    """σ(z) = tanh z."""
    return get_xp(z).tanh(z)


def tanh_prime(z):
    """σ′(z) = sech² z = 4 σ(2z) σ(−2z), by the stable sigmoid_prime: tanh z = 2σ(2z) − 1, so tanh′(z) = 4σ′(2z).

    The textbook form 1 − tanh² z cancels where the unit saturates: tanh z rounds to ±1 for |z| ≳ 9 in
    float32 (19 in float64) and 1 − tanh² z becomes 0 where sech² z is 4e^(−2|z|). 1/cosh² z has no
    cancellation but overflows: cosh² z is ∞ in float32 from |z| ≈ 44.
    """
    return 4 * sigmoid_prime(2 * z)


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
