"""How far float32 can put each gradient from its exact value: bounds from the unit roundoff u = 2^-24.

float32 keeps 24 significant bits: every operation returns its exact result times (1 + ε), |ε| ≤ u ≈ 6.0e-8.
float32_gradient_bounds follows the engine's equations, forward then backward, and bounds entry by entry
how far the float32 z^[l], a^[l], then δ^[l], ∂C/∂W^[l], ∂C/∂b^[l] and ∂C/∂x can lie from their exact
values (those of the same float32 parameters and batch, in exact arithmetic; float64 stands in for it).
A float32 difference within the bound is rounding; one beyond it is a bug, or a formula that loses
accuracy, such as σ′ by cancellation (docs/backprop.md, section 7). Each error E is carried by four rules:

(R0) One rounded operation with exact result r, whose inputs carry the error P:  E = P + u(|r| + P).
(R1) A product A B that sums n terms, A off by E_A, B off by E_B (entrywise product: n = 1):
         E = E_A|B| + |A|E_B + E_A E_B + γ_n (|A| + E_A)(|B| + E_B) + nη,    γ_n = nu/(1 − nu),
     the classical bound for a sum in any order (Higham, Accuracy and Stability, §3.1); η = 2^-126, the
     least normal float32, covers results that underflow. z^[l] = a Wᵀ + b is one such product, n = n_{l−1} + 1.
(R2) σ and σ′ at z off by E. float32 evaluates them as σ(z(1 + ε₁))(1 + ε₂), |εᵢ| ≤ cu with c = ULPS = 8
     (NumPy's float32 exp, log1p and tanh are within 4 ulp), so the argument is off by E′ = E + cu(|z| + E).
     sigmoid and tanh: |σ″| ≤ k σ′ (k = 1, 2), hence σ′(z + t) ≤ σ′(z) e^{k|t|}, and
         E[σ] = σ′(z)(e^{kE′} − 1)/k + cu(|σ(z)| + σ′(z)(e^{kE′} − 1)/k) + η,
         E[σ′] = σ′(z)((1 + cu) e^{kE′} − 1) + η,
     never more than the range of σ (1, 2) or σ′ (1/4, 1). ReLU is exact and 1-Lipschitz: E[σ] = E where
     z > −E, else 0; E[σ′] = 1 where |z| ≤ E (the unit may sit on the other side of the kink), else 0.
(R3) softmax p at z^[L] off by E, computed as e^ŝ / Σ e^ŝ with ŝ = z − max z: with Dⱼ = Eⱼ + u(|sⱼ| + Eⱼ +
     max E) the argument error (shift invariance makes the max's own error cancel), pₖ moves at most by the
     factor e^{Dₖ} / Σⱼ pⱼ e^{−Dⱼ} up and e^{−Dₖ} / Σⱼ pⱼ e^{Dⱼ} down, and exp, the sum and the division
     add γ_{c+n} relative.

The bound is rigorous given the ULPS model of the elementwise functions; in practice most errors stay 10
to 100 times below it (a sum's errors cancel, √n rather than n), and the worst reach about half of it
(tests/test_float32_accuracy.py shows it tight). It takes the equations as the engine writes them, and
every one of them keeps relative precision: σ and σ′ are single functions (R2), and (BP1)'s differences
are no subtractions: at the true class p_y − 1 = −Σ_{k≠y} p_k, a sum of n positive terms (R1), and at the
quadratic cost's target a^[L] − 1 = −σ(−z^[L]), one more σ (R2). An implementation that cancels, as the
textbook σ(z)(1 − σ(z)) or the naive p_y − 1 does, fails the bound where units saturate or outputs are
confident.

Shapes: every bound has the shape of its quantity: δ^[l] (m, n_l), dW[l] (n_l, n_{l-1}), db[l] (n_l,),
the input gradient (m, n_1).
"""

import numpy as np

from scratchnet.activations import sigmoid
from scratchnet.errors import UsageError

U = 2.0 ** -24                                # float32's unit roundoff, half the gap from 1 to the next float
ULPS = 8                                      # c: the ulps an elementwise function may be off, as (R2) models it
TINY = float(np.finfo(np.float32).tiny)       # η = 2^-126: what an underflowing result can lose
SLOPE_GROWTH = {"sigmoid": 1, "tanh": 2}      # k: |σ″(z)| ≤ k σ′(z)
RANGE = {"sigmoid": (1.0, 0.25), "tanh": (2.0, 1.0)}  # the widest |σ(z) − σ(z′)| and |σ′(z) − σ′(z′)|


def gamma(n):
    """γ_n = nu / (1 − nu): a sum of n products in float32 is off by at most γ_n times the sum of |terms|."""
    return n * U / (1 - n * U)


def rounded(r, P):
    """(R0) E = P + u(|r| + P): one rounded operation whose exact result is r and whose inputs carry P."""
    return P + U * (np.abs(r) + P)


def product_error(A, E_A, B, E_B, n, times=np.matmul):
    """(R1) E[A B] for A off by E_A and B by E_B, n terms summed; times=np.multiply for an entrywise product."""
    A, B = np.abs(A), np.abs(B)
    return (times(E_A, B) + times(A, E_B) + times(E_A, E_B)
            + gamma(n) * times(A + E_A, B + E_B) + n * TINY)


def exact(A):
    """The error of an exact operand (a float32 parameter, the ones of a batch sum): zeros of A's shape."""
    return np.zeros(np.shape(A))


def activation_errors(name, z, E_z, sigma_z, sigma_prime_z):
    """(R2) (E[σ(z)], E[σ′(z)]) for the float32 σ and σ′ of an argument z off by E_z (exact σ(z), σ′(z) given)."""
    if name == "identity":
        return E_z, np.zeros_like(z)
    if name == "relu":
        return np.where(z > -E_z, E_z, 0.0), np.where(np.abs(z) <= E_z, 1.0, 0.0)
    k, c = SLOPE_GROWTH[name], ULPS * U
    value_range, slope_range = RANGE[name]
    with np.errstate(over="ignore", invalid="ignore"):  # e^{kE′} = ∞, times σ′ = 0: the range caps it (fmin)
        grow = np.expm1(k * (E_z + c * (np.abs(z) + E_z)))            # e^{kE′} − 1
        moved = sigma_prime_z * grow / k                               # |σ(z + E′) − σ(z)| at most
        E_sigma = np.fmin(moved + c * (np.abs(sigma_z) + moved) + TINY, value_range)
        E_sigma_prime = np.fmin(sigma_prime_z * (grow + c * (1 + grow)) + TINY, slope_range)
    return E_sigma, E_sigma_prime


def softmax_error(p, z, E_z):
    """(R3) E[softmax(z)] for z^[L] off by E_z, p = softmax(z) exact.  (m, n_L) → (m, n_L)."""
    s = z - z.max(axis=1, keepdims=True)                               # the shifted logits, ≤ 0
    D = E_z + U * (np.abs(s) + E_z + E_z.max(axis=1, keepdims=True))    # Dⱼ, the error of each exponent
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        up = np.exp(D) / (p * np.exp(-D)).sum(axis=1, keepdims=True)      # the most pₖ can grow, as a factor
        down = np.exp(-D) / np.exp(np.log(p) + D).sum(axis=1, keepdims=True)  # the most it can shrink
        moved = p * np.maximum(up - 1, 1 - down)
        return np.fmin(moved + gamma(ULPS + p.shape[1]) * p * up + TINY, 1.0)


def softmax_minus_onehot_error(z, target, E_z):
    """E[p − onehot(y)] for z^[L] off by E_z, computed as the engine does: pₖ for k ≠ y, and at the true class
    p_y − 1 = −Σ_{k≠y} pₖ, a sum of n terms (R1), never the subtraction.  (m, n_L) → (m, n_L)."""
    s = z - z.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)              # softmax(z^[L]), exact
    E_p = softmax_error(p, z, E_z)
    others, E_others = np.where(target, 0.0, p), np.where(target, 0.0, E_p)
    E_sum = E_others.sum(axis=1) + gamma(z.shape[1]) * (others + E_others).sum(axis=1)
    return np.where(target, E_sum[:, None], E_p)


def cross_entropy_error(z, y, E_z):
    """E[C] of the cross-entropy C = (1/m) Σᵢ (log Σⱼ e^{sᵢⱼ} − s_{i,yᵢ}), s = z − max z, for z^[L] off by E_z.

    log-sum-exp is 1-Lipschitz in the largest |Δⱼ|, so the exponents' errors Dⱼ (as in R3) move each term by
    at most max D + D_y; exp and the sum put Σ e^s off by γ_{c+n} relative, log adds cu |log Σ e^s|, the
    difference u, the mean over m samples γ_{m+1} relative.
    """
    m, n = z.shape
    rows = np.arange(m)
    s = z - z.max(axis=1, keepdims=True)
    D = E_z + U * (np.abs(s) + E_z + E_z.max(axis=1, keepdims=True))
    log_Z = np.log(np.exp(s).sum(axis=1))                              # ≥ 0: the largest e^s is 1
    C_i = log_Z - s[rows, y]                                           # −log p_{i,yᵢ} ≥ 0
    E_i = D.max(axis=1) + D[rows, y] + gamma(ULPS + n + 1) + ULPS * U * log_Z + U * C_i
    return E_i.mean() + gamma(m + 1) * C_i.mean()


def quadratic_error(error, E_error):
    """E[C] of the quadratic C = ½ Σ (a^[L] − y)² / m, for a^[L] − y off by E_error: (R1) for the squares, a
    sum of mn of them, ½ (exact), /m (R0)."""
    m = len(error)
    E_squares = product_error(error, E_error, error, E_error, 1, np.multiply)
    E_sum = E_squares.sum() + gamma(error.size) * (error * error + E_squares).sum()
    return rounded(0.5 * (error * error).sum() / m, 0.5 * E_sum / m)


def float32_gradient_bounds(net, y):
    """E[q] for C and every δ^[l], ∂C/∂W^[l], ∂C/∂b^[l] and ∂C/∂x: how far float32 may put q from its exact value.

    Args:
        net: a float64 NumPy Network that holds float32 parameters (cast exactly) and has run forward(x),
            cost(y) and backward on the batch: its z, a, delta stand for the exact values.
        y: that batch's labels (m,).

    Returns:
        {"loss", "delta[l]", "dW[l]", "db[l]" for l = L..2, "input gradient": the bound, an array of the quantity's
        shape}: the names of scratchnet.checking.oracle.Gradients.rows(). Compare a float32 result with error_to_bound.
    """
    if net.dtype != np.float64 or not isinstance(net.W[2], np.ndarray) or len(net.delta) != net.L - 1:
        raise UsageError("float32_gradient_bounds needs a float64 NumPy Network after forward, cost and backward")
    L, m, z, a, W, b = net.L, len(net.a[1]), net.z, net.a, net.W, net.b
    sigma_prime = {l: net.sigma_prime[l](z[l]) for l in range(2, L + 1)}
    E_a, E_z, E_sigma_prime = {1: np.zeros_like(a[1])}, {}, {}        # a^[1] = x is exact, and so are W, b
    for l in range(2, L + 1):                                          # z^[l] = W^[l] a^[l-1] + b^[l], a^[l] = σ(z^[l])
        n = net.sizes[l - 2] + 1
        E_z[l] = product_error(a[l - 1], E_a[l - 1], W[l].T, exact(W[l].T), n) + gamma(n) * np.abs(b[l])
        E_a[l], E_sigma_prime[l] = activation_errors(net.activation[l], z[l], E_z[l], a[l], sigma_prime[l])
    target = np.eye(net.sizes[-1])[y] == 1                             # onehot(y)
    if net.loss == "cross-entropy":                                    # BP1: δ^[L] = (p − onehot(y))/m
        E_delta = rounded(net.delta[L], softmax_minus_onehot_error(z[L], target, E_z[L]) / m)
        E_C = cross_entropy_error(z[L], y, E_z[L])
    else:                                                              # BP1: δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)/m
        complement = sigmoid(-z[L])                                    # 1 − a^[L] = σ(−z^[L]), exactly
        E_complement, _ = activation_errors("sigmoid", -z[L], E_z[L], complement, sigma_prime[L])
        error = np.where(target, -complement, a[L])                    # a^[L] − y, as the engine computes it
        E_error = np.where(target, E_complement, E_a[L])
        E_product = product_error(sigma_prime[L], E_sigma_prime[L], error, E_error, 1, np.multiply)
        E_delta = rounded(net.delta[L], E_product / m)
        E_C = quadratic_error(error, E_error)
    bounds, ones = {"loss": np.asarray(E_C)}, np.ones(m)
    for l in range(L, 1, -1):
        delta = net.delta[l]
        bounds[f"delta[{l}]"] = E_delta
        bounds[f"dW[{l}]"] = product_error(delta.T, E_delta.T, a[l - 1], E_a[l - 1], m)   # BP4: δ^[l] (a^[l-1])ᵀ
        bounds[f"db[{l}]"] = product_error(ones, exact(ones), delta, E_delta, m)         # BP3: Σ_batch δ^[l]
        E_back = product_error(delta, E_delta, W[l], exact(W[l]), net.sizes[l - 1])      # (W^[l])ᵀ δ^[l]
        if l > 2:                                                      # BP2: δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ δ^[l]
            E_delta = product_error(sigma_prime[l - 1], E_sigma_prime[l - 1], delta @ W[l], E_back, 1, np.multiply)
    bounds["input gradient"] = E_back                                  # ∂C/∂a^[1] = (W^[2])ᵀ δ^[2]
    return bounds


def error_to_bound(actual, expected, bound):
    """max |actual − expected| / bound over the entries: ≤ 1 when float32 rounding explains the difference."""
    diff = np.abs(np.asarray(actual, dtype=np.float64) - expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / bound)
    return float(ratio.max(initial=0.0))
