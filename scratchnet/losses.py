"""Costs C, each returned with δ^[L] = ∂C/∂z^[L], equation (BP1).

Both costs are means over the batch of m samples, like PyTorch's default `reduction="mean"`, so the
single factor 1/m of every gradient enters here, in δ^[L], and nowhere else.

Shapes: z^[L], a^[L] (m, n_L); labels y (m,) integers in 0..n_L−1 → C a 0-d array, δ^[L] (m, n_L).
"""

from scratchnet.activations import sigmoid
from scratchnet.backend import get_xp
from scratchnet.errors import UsageError


def check_labels(y, n_classes, m):
    """Refuse labels that would index the wrong class silently (negative labels wrap around in NumPy)."""
    if m == 0:
        raise UsageError("the batch is empty: pass at least one sample")
    if y.shape != (m,):
        raise UsageError(f"labels have shape {tuple(y.shape)} but the batch has {m} samples: pass one label per row")
    if y.dtype.kind not in "iu":
        raise UsageError(f"labels must be integers 0..{n_classes - 1}, got dtype {y.dtype}")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise UsageError(f"label {bad} is outside 0..{n_classes - 1}: the output layer has {n_classes} units")


def one_hot(y, n_classes, dtype):
    """Row i is e_{yᵢ}, the tutorial's target vector y^{i} for class yᵢ.  Shape (m,) → (m, n_classes)."""
    xp = get_xp(y)
    return xp.eye(n_classes, dtype=dtype)[y]


def cross_entropy(z_L, y):
    """C = −(1/m) Σᵢ log pᵢ[yᵢ] with p = softmax(z^[L]): PyTorch's `nn.CrossEntropyLoss` on logits.

    δ^[L] = (p − onehot(y)) / m. Why so simple: log p_k = z_k − log Σⱼ e^{zⱼ}, so
    ∂(−log p_y)/∂z_k = p_k − [k = y]; the softmax Jacobian cancels against the log, and the output
    layer needs no σ′ (its σ is the identity, a^[L] = z^[L]).

    The true class's entry p_y − 1 is computed as −Σ_{k≠y} p_k, the same number: the naive p_y − 1
    subtracts two nearly equal numbers when the output is confident (p_y ≈ 1) and keeps few bits or none
    (float32: δ_y = 0 from a logit margin of 17), where −Σ_{k≠y} p_k keeps full relative precision.
    """
    m, n_L = z_L.shape
    check_labels(y, n_L, m)
    xp = get_xp(z_L)
    rows = xp.arange(m)
    shifted = z_L - z_L.max(axis=1, keepdims=True)  # naive e^z overflows; softmax(z) = softmax(z − max z)
    e = xp.exp(shifted)
    Z = e.sum(axis=1, keepdims=True)                # (m, 1), ≥ 1 after the shift
    log_p = shifted - xp.log(Z)                     # log softmax, finite even for |z| ≫ 1
    C = -log_p[rows, y].mean()
    p = e / Z                                       # softmax(z^[L])
    p[rows, y] = 0                                  # p_k for k ≠ y, so that the sum below is Σ_{k≠y} p_k
    p[rows, y] = -p.sum(axis=1)                     # p − onehot(y): p_y − 1 = −Σ_{k≠y} p_k; naive p_y − 1 cancels
    delta_L = p / m                                 # (BP1) δ^[L] = (p − onehot(y))/m, the 1/m of the mean
    return C, delta_L


def quadratic(a_L, z_L, y, sigma_prime):
    """C = (1/m) Σᵢ ½‖y^{i} − a^[L]ᵢ‖², the tutorial's quadratic cost, y^{i} the one-hot target of label yᵢ.

    δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)/m: the chain rule through a^[L] = σ(z^[L]), σ the sigmoid.

    At the target unit a^[L] − 1 is computed as −σ(−z^[L]), the same number: the naive a^[L] − 1
    cancels where the unit saturates (a^[L] ≈ 1; float32: 0 from z = 17), −σ(−z) keeps full relative precision.
    """
    m, n_L = a_L.shape
    check_labels(y, n_L, m)
    target = one_hot(y, n_L, a_L.dtype) == 1        # where y^{i} is 1
    error = get_xp(a_L).where(target, -sigmoid(-z_L), a_L)  # a^[L] − y, a − 1 as −σ(−z): naive a − 1 cancels
    C = 0.5 * (error * error).sum() / m
    delta_L = sigma_prime(z_L) * error / m          # (BP1) δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)/m
    return C, delta_L


LOSSES = ("cross-entropy", "quadratic")
