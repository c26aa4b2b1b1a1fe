"""The hand-out's text in each layout: the solution, and the stub made from it (the same docstrings, TODO bodies).

One template serves the three layouts students use; each field below is what differs between them:

    rows        batch-first: a^[l] (m, n_l), b^[l] (n_l,), labels y (m,) integers: scratchnet's and PyTorch's
    columns     the tutorial's and Andrew Ng's: a^[l] (n_l, m), b^[l] (n_l, 1), y one-hot (n_L, m)
    per-sample  Nielsen's: one sample at a time, a^[l] (n_l, 1), y one-hot (n_L, 1), the update averages the sums

The solution is the hand-out with its bodies filled in; the stub keeps every docstring and replaces each
body by its equations as TODO comments and `raise NotImplementedError`. The grader's mutants
(scratchnet/grade/mistakes.py) are one-string edits of the same solution text. Nothing here can drift
from the engine unseen: the rows solution writes the equation-tagged lines of scratchnet/network.py and
losses.py themselves (up to `self.` and δ^[l] kept in a dict; tests/test_exercise.py checks it line by
line), and a test grades all three solutions against the reference engine.
"""

import ast
from string import Template

from scratchnet.errors import UsageError
from scratchnet.grade.policy import handout_text, parse

LAYOUTS = ("rows", "columns", "per-sample")

TEMPLATE = Template('''\
"""Backpropagation by hand, in the $layout layout: fill in the bodies marked TODO.

Check your work with `python -m scratchnet.grade THIS_FILE`: it runs your functions on many small random
networks and compares every quantity with scratchnet's reference in backward order, naming the first wrong
equation, its layer and shape, and the classic mistake it looks like.

Notation (docs/backprop.md): layers l = 1..L with n_l units; a^[1] = x; for l = 2..L
    z^[l] = W^[l] a^[l-1] + b^[l],   a^[l] = σ(z^[l])
    (BP1) δ^[L] = ∂C/∂z^[L]
    (BP2) δ^[l] = σ′(z^[l]) ⊙ (W^[l+1])ᵀ δ^[l+1]
    (BP3) ∂C/∂b^[l] = δ^[l]
    (BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ
W, b, a, z, delta, dW, db, sigma, sigma_prime are dicts keyed by the layer number l.

Layout "$layout": $description
Shapes: W[l] (n_l, n_{l-1}) in every layout;
    $shapes

Return new arrays: do not modify the arrays you are given (sgd_update alone changes W and b), and compute
in the dtype you are given or wider (some cases are float32, with outputs confident enough that e^z overflows).
$policy
"""

import numpy as np

LAYOUT = "$layout"  # the grader reads this line: keep it


def forward(W, b, x, sigma):
    """a^[1] = x, then z^[l] = W^[l] a^[l-1] + b^[l] and a^[l] = σ(z^[l]) for l = 2..L.

    Args:
        W, b: the parameters, dicts keyed by l = 2..L.  x: $x.
        sigma: sigma[l] is layer l's activation σ, a function applied entrywise.
    Returns:
        (a, z): dicts, a[l] for l = 1..L and z[l] for l = 2..L, each $activation.
    """
    L = max(W)
    a, z = {1: x}, {}
    for l in range(2, L + 1):
        $forward_z
        a[l] = sigma[l](z[l])                         # a^[l] = σ(z^[l])
    return a, z


def cross_entropy(z_L, y):
    """(BP1) for the cross-entropy on the logits z^[L] (here a^[L] = z^[L]): C = $ce_cost.

    Args:
        z_L: z^[L], $output.  y: $y.
    Returns:
        (C, delta_L): C a number; δ^[L] = ∂C/∂z^[L] = $ce_delta,
        shaped like z_L.
    """
$ce_body
    return C, delta_L


def quadratic(a_L, z_L, y, sigma_prime):
    """(BP1) for the quadratic cost, a^[L] = σ(z^[L]): C = $quadratic_cost.

    Args:
        a_L, z_L: a^[L] and z^[L], $output.  y: $y.
        sigma_prime: σ′ of the output layer, a function applied entrywise.
    Returns:
        (C, delta_L): C a number; δ^[L] = ∂C/∂z^[L] = $quadratic_delta,
        shaped like z_L.
    """
$quadratic_body
    return C, delta_L


def backward(W, a, z, delta_L, sigma_prime):
    """δ^[l], ∂C/∂W^[l] and ∂C/∂b^[l] for l = L..2, from δ^[L] = ∂C/∂z^[L]: (BP2), (BP4), (BP3).

    Args:
        W: the weights.  a, z: what forward returned.  delta_L: δ^[L].
        sigma_prime: sigma_prime[l] is σ′ of layer l, a function applied entrywise.
    Returns:
        (delta, dW, db): dicts keyed by l = L..2; delta[L] is delta_L itself; delta[l] $activation,
        dW[l] shaped like W[l], db[l] shaped like b[l].$gradient_note
    """
    L = max(W)
    delta, dW, db = {L: delta_L}, {}, {}
    for l in range(L, 1, -1):
        $bp4
        $bp3
        if l > 2:                                     # (BP2) δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ δ^[l]
            $bp2
    return delta, dW, db


def sgd_update($update_args):
    """$update_equation for every layer l = 2..L.

    Args:
        W, b: the parameters, changed in place (returning new dicts (W, b) is accepted too).
        dW, db: $update_gradients.
        lr: the learning rate α.$update_m
    """
    for l in W:
$update_body
''')

UPDATE_IN_PLACE = '''\
        W[l] -= lr * dW[l]                            # W^[l] ← W^[l] − α ∂C/∂W^[l]
        b[l] -= lr * db[l]                            # b^[l] ← b^[l] − α ∂C/∂b^[l]'''

BATCH = {
    "ce_cost": "−(1/m) Σᵢ log softmax(z^[L]ᵢ)[yᵢ]",
    "ce_delta": "(softmax(z^[L]) − y)/m, the 1/m of the mean over the batch",
    "quadratic_cost": "(1/m) Σᵢ ½‖a^[L]ᵢ − yᵢ‖²",
    "quadratic_delta": "σ′(z^[L]) ⊙ (a^[L] − y)/m",
    "gradient_note": "\n        The gradients are those of the mean cost C: the 1/m is already in δ^[L].",
    "update_args": "W, b, dW, db, lr",
    "update_equation": "θ ← θ − α ∂C/∂θ",
    "update_gradients": "∂C/∂W^[l], ∂C/∂b^[l] of the mean cost",
    "update_m": "",
    "update_body": UPDATE_IN_PLACE,
}

FIELDS = {
    "rows": {
        **BATCH,
        "description": "batch-first: a batch of m samples stacked as rows (scratchnet's and PyTorch's).",
        "shapes": "b[l] (n_l,); x = a[1] (m, n_1); a[l], z[l], delta[l] (m, n_l); labels y (m,) integers.",
        "x": "the batch, (m, n_1)",
        "activation": "(m, n_l)",
        "output": "(m, n_L)",
        "y": "the labels, integers 0..n_L−1, (m,)",
        "forward_z": "z[l] = a[l - 1] @ W[l].T + b[l]                 # z^[l] = W^[l] a^[l-1] + b^[l]",
        "ce_body": '''\
    m = z_L.shape[0]
    rows = np.arange(m)
    shifted = z_L - z_L.max(axis=1, keepdims=True)    # softmax(z) = softmax(z − max z): e^z would overflow
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log softmax(z^[L])
    C = -log_p[rows, y].mean()
    p = np.exp(log_p)                                 # p = softmax(z^[L])
    p[rows, y] = 0                                    # p_k for k ≠ y: their sum is 1 − p_y, with no cancellation
    p[rows, y] = -p.sum(axis=1)                       # p − onehot(y): p_y − 1 = −Σ_{k≠y} p_k (naive p_y − 1 cancels)
    delta_L = p / m                                   # (BP1) δ^[L] = (p − onehot(y))/m''',
        "quadratic_body": '''\
    m = a_L.shape[0]
    target = np.eye(a_L.shape[1])[y] == 1             # where the one-hot y is 1
    error = np.where(target, -np.exp(-np.logaddexp(0, z_L)), a_L)  # a^[L] − y: a − 1 = −σ(−z) (naive a − 1 cancels)
    C = 0.5 * (error * error).sum() / m
    delta_L = sigma_prime(z_L) * error / m            # (BP1) δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)/m''',
        "bp4": "dW[l] = delta[l].T @ a[l - 1]                # (BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ, summed over "
               "the batch",
        "bp3": "db[l] = delta[l].sum(axis=0)                 # (BP3) ∂C/∂b^[l] = δ^[l], summed over the batch",
        "bp2": "delta[l - 1] = sigma_prime[l - 1](z[l - 1]) * (delta[l] @ W[l])",
    },
    "columns": {
        **BATCH,
        "description": "column vectors, the tutorial's and Andrew Ng's: sample i is column i of every a^[l].",
        "shapes": "b[l] (n_l, 1); x = a[1] (n_1, m); a[l], z[l], delta[l] (n_l, m); y one-hot (n_L, m).",
        "x": "the batch, one sample per column, (n_1, m)",
        "activation": "(n_l, m)",
        "output": "(n_L, m)",
        "y": "the targets, one-hot columns, (n_L, m)",
        "forward_z": "z[l] = W[l] @ a[l - 1] + b[l]                   # z^[l] = W^[l] a^[l-1] + b^[l]",
        "ce_body": '''\
    m = z_L.shape[1]
    shifted = z_L - z_L.max(axis=0, keepdims=True)    # softmax(z) = softmax(z − max z): e^z would overflow
    log_p = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))  # log softmax(z^[L])
    C = -(y * log_p).sum() / m
    p = np.exp(log_p)                                 # p = softmax(z^[L])
    p_minus_y = np.where(y == 1, -(p * (1 - y)).sum(axis=0, keepdims=True), p)  # p − y: p_y − 1 = −Σ_{k≠y} p_k
    delta_L = p_minus_y / m                           # (BP1) δ^[L] = (p − y)/m''',
        "quadratic_body": '''\
    m = a_L.shape[1]
    error = np.where(y == 1, -np.exp(-np.logaddexp(0, z_L)), a_L)  # a^[L] − y: a − 1 = −σ(−z) (naive a − 1 cancels)
    C = 0.5 * (error * error).sum() / m
    delta_L = sigma_prime(z_L) * error / m            # (BP1) δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)/m''',
        "bp4": "dW[l] = delta[l] @ a[l - 1].T                # (BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ, summed over "
               "the batch",
        "bp3": "db[l] = delta[l].sum(axis=1, keepdims=True)  # (BP3) ∂C/∂b^[l] = δ^[l], summed over the batch",
        "bp2": "delta[l - 1] = sigma_prime[l - 1](z[l - 1]) * (W[l].T @ delta[l])",
    },
    "per-sample": {
        "description": ("Nielsen's: one sample x at a time, as columns. The grader sums your backward's\n"
                        "gradients over the mini-batch; sgd_update divides the sums by m (the mean cost's gradient)."),
        "shapes": "b[l] (n_l, 1); x = a[1] (n_1, 1); a[l], z[l], delta[l] (n_l, 1); y one-hot (n_L, 1).",
        "x": "one sample, (n_1, 1)",
        "activation": "(n_l, 1)",
        "output": "(n_L, 1)",
        "y": "the target, one-hot, (n_L, 1)",
        "forward_z": "z[l] = W[l] @ a[l - 1] + b[l]                   # z^[l] = W^[l] a^[l-1] + b^[l]",
        "ce_cost": "−log softmax(z^[L])[k] (k: the class)",
        "ce_delta": "softmax(z^[L]) − y (one sample: no 1/m)",
        "ce_body": '''\
    shifted = z_L - z_L.max()                         # softmax(z) = softmax(z − max z): e^z would overflow
    log_p = shifted - np.log(np.exp(shifted).sum())   # log softmax(z^[L])
    C = -(y * log_p).sum()
    p = np.exp(log_p)                                 # p = softmax(z^[L])
    p_minus_y = np.where(y == 1, -(p * (1 - y)).sum(), p)  # p − y: p_y − 1 = −Σ_{k≠y} p_k (naive p_y − 1 cancels)
    delta_L = p_minus_y                               # (BP1) δ^[L] = p − y''',
        "quadratic_cost": "½‖a^[L] − y‖² for the one sample",
        "quadratic_delta": "σ′(z^[L]) ⊙ (a^[L] − y) (one sample: no 1/m)",
        "quadratic_body": '''\
    error = np.where(y == 1, -np.exp(-np.logaddexp(0, z_L)), a_L)  # a^[L] − y: a − 1 = −σ(−z) (naive a − 1 cancels)
    C = 0.5 * (error * error).sum()
    delta_L = sigma_prime(z_L) * error                # (BP1) δ^[L] = σ′(z^[L]) ⊙ (a^[L] − y)''',
        "gradient_note": "\n        The gradients are those of this one sample's cost C_x.",
        "bp4": "dW[l] = delta[l] @ a[l - 1].T                # (BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ",
        "bp3": "db[l] = delta[l]                             # (BP3) ∂C/∂b^[l] = δ^[l]",
        "bp2": "delta[l - 1] = sigma_prime[l - 1](z[l - 1]) * (W[l].T @ delta[l])",
        "update_args": "W, b, dW, db, lr, m",
        "update_equation": "θ ← θ − (α/m) Σₓ ∂C_x/∂θ, the step along the mini-batch's mean gradient,",
        "update_gradients": "Σₓ ∂C_x/∂W^[l], Σₓ ∂C_x/∂b^[l]: your backward's gradients summed over the m samples",
        "update_m": "\n        m: the number of samples in the mini-batch.",
        "update_body": '''\
        W[l] -= (lr / m) * dW[l]                      # W^[l] ← W^[l] − (α/m) Σₓ ∂C_x/∂W^[l]
        b[l] -= (lr / m) * db[l]                      # b^[l] ← b^[l] − (α/m) Σₓ ∂C_x/∂b^[l]''',
    },
}

FUNCTIONS = ("forward", "cross_entropy", "quadratic", "backward", "sgd_update")
TITLES = {"forward": "the forward pass", "cross_entropy": "(BP1), cross-entropy", "quadratic": "(BP1), quadratic",
          "backward": "(BP2)–(BP4)", "sgd_update": "the SGD update"}


def solution_source(layout):
    """The filled-in hand-out for `layout`: what --solution writes, and the text every mutant edits."""
    check_layout(layout)
    return TEMPLATE.substitute(layout=layout, policy=handout_text(), **FIELDS[layout])


def stub_source(layout):
    """The hand-out for `layout`: the solution with each body replaced by its equations as TODOs."""
    source = solution_source(layout)
    lines = source.splitlines()
    for node in reversed(parse(source).body):  # from the bottom, so earlier line numbers stay valid
        if isinstance(node, ast.FunctionDef):
            first, last = node.body[1].lineno - 1, node.end_lineno
            todo = [f"    # TODO {comment}" for comment in _comments(lines[first:last])]
            todo.append(f'    raise NotImplementedError("{node.name}: {TITLES[node.name]}, not yet written")')
            lines[first:last] = todo
    return "\n".join(lines) + "\n"


def _comments(lines):
    """The equation comments of a body, in order: what each of its lines computes."""
    return [line.split("# ", 1)[1] for line in lines if "# " in line]


def check_layout(layout):
    if layout not in LAYOUTS:
        raise UsageError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")


def declared_layout(source):
    """The layout a submission states at module level, `LAYOUT = "..."` or `LAYOUT: str = "..."` (the last one,
    as Python would run it), or None when it has none; the source must compile."""
    stated = None
    for node in parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        value = getattr(node, "value", None)
        if any(isinstance(t, ast.Name) and t.id == "LAYOUT" for t in targets) and isinstance(value, ast.Constant):
            stated = str(value.value)
    return stated
