"""A fully connected network, its forward recurrence and the δ recursion of backpropagation.

The tutorial's notation, one to one (docs/backprop.md):
layers l = 1..L with n_l units; a^[1] = x; for l = 2..L
    z^[l] = W^[l] a^[l-1] + b^[l],      a^[l] = σ(z^[l]).

The tutorial writes one sample as a column vector. Here a batch of m samples is stacked as rows, so
every a^[l], z^[l], δ^[l] is (m, n_l) and each equation is transposed once:
    W^[l] a^[l-1] + b^[l]   →   a[l-1] @ W[l].T + b[l]
    δ^[l] (a^[l-1])ᵀ        →   delta.T @ a[l-1]            (summed over the batch by the product)
    (W^[l+1])ᵀ δ^[l+1]      →   delta @ W[l+1]
W^[l] keeps the tutorial's (n_l, n_{l-1}) layout, which is also PyTorch's `nn.Linear.weight`.

Dropout (docs/backprop.md, section 9), while training only: each hidden a^[l] is multiplied by a mask
r^[l] ~ Bernoulli(1 − p) and divided by 1 − p (D1), and the δ recursion passes through the same mask (D2).
"""

import math

import numpy as np

from scratchnet.activations import ACTIVATIONS
from scratchnet.backend import get_xp
from scratchnet.checks import (
    check_activations,
    check_backward_done,
    check_delta_fits,
    check_dropout,
    check_dtype,
    check_input,
    check_labels_fit,
    check_loss,
    check_parameters,
    check_seed,
    check_sizes,
)
from scratchnet.losses import cross_entropy, quadratic


class Network:
    """An MLP with layer sizes [n_1, …, n_L]: W[l], b[l] for l = 2..L, dicts keyed by the layer number.

    Args:
        sizes: [n_1, …, n_L], input width first, at least two layers.
        activation: σ of the hidden layers 2..L−1: "relu", "sigmoid" or "tanh", or a list with one
            name per hidden layer.
        loss: "cross-entropy" (the output layer returns the logits z^[L]) or "quadratic" (the output
            layer returns σ(z^[L]) with σ the sigmoid, the tutorial's choice, so a^[L] lies in (0, 1)).
        dtype: "float32" (default) or "float64".
        seed: seeds the numpy Generator that draws the initial W and b.
        xp: the array module that holds the parameters (numpy, or cupy from scratchnet.backend).
        dropout: p in [0, 1), the probability of dropping a hidden unit while training (0: no dropout).
        rng: the numpy Generator that draws the dropout masks (default: one seeded from (seed, 1), a stream
            apart from the initial weights' and the batch sampler's).

    Shapes:
        x = a^[1]: (m, n_1);  W[l]: (n_l, n_{l-1});  b[l]: (n_l,);  z[l], a[l], delta[l], mask[l]: (m, n_l).

    Training is forward(x) → cost(y) → backward(δ^[L]) (→ input_gradient()) on one batch: forward keeps every
    a^[l], z^[l] (the training cache) and the later steps read them, refusing to run without it or on another batch's.
    Evaluation, infer(x), evaluate(x, y) and predict(x), keeps nothing. Network.from_parameters(W, b) builds a
    network from given W^[l], b^[l] instead of drawing them.
    """

    def __init__(self, sizes, activation="relu", loss="cross-entropy", dtype="float32", seed=0, xp=np,
                 dropout=0.0, rng=None):
        self.sizes = check_sizes(sizes)                                   # [n_1, …, n_L]
        self.L = len(self.sizes)
        check_loss(loss)
        check_dropout(dropout)
        check_seed(seed, rng)
        self.loss = loss
        self.dtype = check_dtype(dtype)
        self.activation = self._activation_names(activation)
        self.sigma = {l: ACTIVATIONS[name][0] for l, name in self.activation.items()}
        self.sigma_prime = {l: ACTIVATIONS[name][1] for l, name in self.activation.items()}
        self.W, self.b = self._init_parameters(seed, xp)
        self.a, self.z, self.delta = {}, {}, {}
        self.dropout = dropout                                            # p
        self.rng = rng if rng is not None else np.random.default_rng([seed, 1])
        self.mask = {}  # r^[l] of the last forward pass, keyed by hidden layer l; {} when it dropped nothing

    @classmethod
    def from_parameters(cls, W, b, activation="relu", loss="cross-entropy", dropout=0.0, rng=None):
        """A Network holding copies of the given W^[l], b^[l]; its sizes, dtype and array module are theirs.

        Args:
            W, b: dicts keyed by the layer number l = 2..L, or lists [W^[2], …, W^[L]] and [b^[2], …, b^[L]]:
                float32 or float64 arrays (numpy, or cupy for a GPU), W^[l] (n_l, n_{l-1}), b^[l] (n_l,).
            activation, loss, dropout, rng: as for Network.

        Every shape, dtype and value is checked first; a UsageError names the layer. The network trains its own
        copies: the arrays passed in never change. torch_ref.bridge builds on this for torch modules and state_dicts.
        """
        W, b = check_parameters(W, b)
        sizes = [W[2].shape[1]] + [W[l].shape[0] for l in range(2, len(W) + 2)]   # n_1, then n_l = rows of W^[l]
        net = cls(sizes, activation, loss, dtype=W[2].dtype, xp=get_xp(W[2]), dropout=dropout, rng=rng)
        net.W = {l: W[l].copy() for l in W}   # in place of the W^[l], b^[l] that the constructor drew
        net.b = {l: b[l].copy() for l in b}
        return net

    def _activation_names(self, activation):
        """σ for each layer l = 2..L: the hidden choice, then the one the loss needs at the output."""
        hidden = check_activations(activation, self.L - 2)
        output = "identity" if self.loss == "cross-entropy" else "sigmoid"
        return dict(zip(range(2, self.L + 1), [*hidden, output], strict=False))

    def _init_parameters(self, seed, xp):
        """W^[l], b^[l] ~ U(−1/√n_{l−1}, 1/√n_{l−1}), what `nn.Linear.reset_parameters` draws."""
        rng = np.random.default_rng(seed)
        W, b = {}, {}
        for l in range(2, self.L + 1):
            bound = 1 / math.sqrt(self.sizes[l - 2])
            n_l, n_prev = self.sizes[l - 1], self.sizes[l - 2]
            W[l] = xp.asarray(rng.uniform(-bound, bound, (n_l, n_prev)).astype(self.dtype))
            b[l] = xp.asarray(rng.uniform(-bound, bound, n_l).astype(self.dtype))
        return W, b

    def draw_masks(self, m):
        """Dropout masks for a training batch of m samples: r^[l] ~ Bernoulli(1 − p) entrywise, l = 2..L−1.

        Returns {l: r^[l]} with entries 0 or 1 in the network's dtype, each (m, n_l); {} when p = 0.
        """
        if not self.dropout:
            return {}
        xp = get_xp(self.W[2])
        return {l: xp.asarray(self.rng.random((m, self.sizes[l - 1]), dtype=np.float32) >= self.dropout,
                              dtype=self.dtype)
                for l in range(2, self.L)}

    def forward(self, x, mask=None):
        """a^[L] for the batch x = a^[1], keeping every z^[l] and a^[l] for cost and backward.  (m, n_1) → (m, n_L).

        mask: {l: r^[l]} from draw_masks while training, kept as self.mask for backward; None drops nothing.
        """
        self.a, self.z = self._propagate(x, mask or {})
        self.mask = mask or {}
        self.delta = {}  # the δ^[l] of the batch before are not this batch's
        return self.a[self.L]

    def _propagate(self, x, mask):
        """The forward recurrence: every a^[l] and z^[l] of the batch x, in new dicts keyed by l."""
        check_input(x, self.sizes[0])
        a, z = {1: x}, {}
        for l in range(2, self.L + 1):
            z[l] = a[l - 1] @ self.W[l].T + self.b[l]  # z^[l] = W^[l] a^[l-1] + b^[l]   (m, n_l)
            a[l] = self.sigma[l](z[l])                 # a^[l] = σ(z^[l])                 (m, n_l)
            if l in mask:
                a[l] = a[l] * mask[l] / (1 - self.dropout)  # (D1) a^[l] ⊙ r^[l]/(1 − p), dropout
        return a, z

    def cost(self, y):
        """C for the labels y of the last forward batch, and δ^[L] = ∂C/∂z^[L] (BP1)."""
        check_labels_fit(self.a, y)
        return self._cost(self.a[self.L], self.z[self.L], y)

    def _cost(self, a_L, z_L, y):
        """C and δ^[L] from the output layer's a^[L], z^[L]: the cross-entropy of the logits, or the quadratic cost."""
        if self.loss == "cross-entropy":
            return cross_entropy(z_L, y)
        return quadratic(a_L, z_L, y, self.sigma_prime[self.L])

    def backward(self, delta_L):
        """Given δ^[L] = ∂C/∂z^[L], return ∂C/∂W^[l] and ∂C/∂b^[l] for l = L..2 (dicts keyed by l).

        Every δ^[l] is kept in self.delta. Nothing passed in is modified. Under dropout, δ^[l] of a hidden
        layer also carries the factor r^[l]/(1 − p) of the mask that the forward pass applied (D2).
        """
        check_delta_fits(self.a, self.z, delta_L)
        dW, db = {}, {}
        self.delta = {self.L: delta_L}
        delta = delta_L
        for l in range(self.L, 1, -1):
            dW[l] = delta.T @ self.a[l - 1]      # (BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ    (n_l, n_{l-1})
            db[l] = delta.sum(axis=0)            # (BP3) ∂C/∂b^[l] = δ^[l], summed over the batch
            if l > 2:                            # (BP2) δ^[l-1] = σ′(z^[l-1]) ⊙ (W^[l])ᵀ δ^[l]
                delta = self.sigma_prime[l - 1](self.z[l - 1]) * (delta @ self.W[l])
                if l - 1 in self.mask:
                    delta = delta * self.mask[l - 1] / (1 - self.dropout)  # (D2) δ^[l-1] ⊙ r^[l-1]/(1 − p)
                self.delta[l - 1] = delta
        return dW, db

    def input_gradient(self):
        """∂C/∂a^[1] = (W^[2])ᵀ δ^[2] for the last backward pass, the gradient with respect to x.  (m, n_1)."""
        check_backward_done(self.delta)
        return self.delta[2] @ self.W[2]

    def infer(self, x):
        """a^[L] for the batch x, dropping nothing and keeping nothing: the training cache stays as it was.

        (m, n_1) → (m, n_L): the logits z^[L] under cross-entropy, σ(z^[L]) under the quadratic cost.
        """
        a, _ = self._propagate(x, {})
        return a[self.L]

    def evaluate(self, x, y):
        """C and a^[L] for a labelled batch, dropping nothing and keeping nothing (a test set's loss)."""
        a, z = self._propagate(x, {})
        C, _ = self._cost(a[self.L], z[self.L], y)
        return C, a[self.L]

    def predict(self, x):
        """The predicted class of each row of x: argmax of a^[L], keeping nothing.  (m, n_1) → (m,)."""
        return get_xp(x).argmax(self.infer(x), axis=1)

    def first_non_finite(self):
        """Name the first of W^[l], b^[l], z^[l], a^[l] (l = 2..L, in forward order) holding NaN or ±∞, or None."""
        xp = get_xp(self.W[2])
        for l in range(2, self.L + 1):
            for name, array in (("W", self.W[l]), ("b", self.b[l]), ("z", self.z.get(l)), ("a", self.a.get(l))):
                if array is not None and not xp.isfinite(array).all():
                    return f"{name}^[{l}] (layer {l})"
        return None
