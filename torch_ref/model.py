"""The tutorial's `NeuralNetwork`, built from the same options as scratchnet's Network.

With the defaults, `print(NeuralNetwork())` prints what the tutorial prints:

    NeuralNetwork(
      (flatten): Flatten(start_dim=1, end_dim=-1)
      (linear_relu_stack): Sequential(
        (0): Linear(in_features=784, out_features=512, bias=True)
        (1): ReLU()
        ...

With dropout p > 0 an `nn.Dropout(p)` follows each hidden σ. `model(x)` then drops units with torch's own
random masks (in train mode); `model(x, r)` multiplies by given masks r = {l: r^[l]} instead, r^[l]/(1 − p), so that
torch_ref.compare can feed scratchnet and torch the very same masks. Autograd does every backward pass.
"""

import torch
from torch import nn

TORCH_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class NeuralNetwork(nn.Module):
    """Flatten, then Linear/σ pairs for sizes [n_1, …, n_L]; the last Linear gives the logits z^[L].

    Args:
        sizes: [n_1, …, n_L] as in scratchnet.Network (default the tutorial's 784-512-512-10).
        activation: hidden σ by name, or a list with one name per hidden layer.
        loss: "cross-entropy" (output the logits) or "quadratic" (output σ(z^[L]) with σ the sigmoid).
        dtype: torch.float32 or torch.float64.
        dropout: p, an nn.Dropout(p) after each hidden σ when p > 0.
    """

    def __init__(self, sizes=(784, 512, 512, 10), activation="relu", loss="cross-entropy", dtype=torch.float32,
                 dropout=0.0):
        super().__init__()
        hidden = [activation] * (len(sizes) - 2) if isinstance(activation, str) else list(activation)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(n_in, n_out, dtype=dtype))
            if i < len(hidden):
                layers.append(TORCH_ACTIVATIONS[hidden[i]]())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        if loss == "quadratic":
            layers.append(nn.Sigmoid())
        self.dropout = dropout
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(*layers)

    def forward(self, x, r=None, z=None):
        """The logits (or σ(z^[L])) for x.

        r: {l: r^[l]}, tensors of 0 and 1 of shape (m, n_l), one per hidden layer l = 2..L−1: each nn.Dropout
            then multiplies by r^[l]/(1 − p) instead of drawing its own mask ({} : no dropout, as in evaluation).
        z: a dict to fill with each z^[l], the Linear outputs, kept for autograd (retain_grad), so that after
            backward z[l].grad is δ^[l]: what torch_ref.autograd compares with scratchnet.
        """
        x = self.flatten(x)
        if r is None and z is None:
            return self.linear_relu_stack(x)
        l = 1  # x is the output of layer l
        for module in self.linear_relu_stack:
            if isinstance(module, nn.Dropout):
                x = x * r[l] / (1 - self.dropout) if r else x  # the given mask in place of nn.Dropout's own
            else:
                x = module(x)
            if isinstance(module, nn.Linear):
                l += 1
                if z is not None:
                    x.retain_grad()  # z^[l] is not a leaf: keep its .grad, which is δ^[l]
                    z[l] = x
        return x

    def linears(self):
        """The Linear modules in order: linears()[l - 2] holds W^[l], b^[l]."""
        return [m for m in self.linear_relu_stack if isinstance(m, nn.Linear)]


def quadratic_cost(pred, y):
    """C = (1/m) Σᵢ ½‖onehot(yᵢ) − a^[L]ᵢ‖², the tutorial's quadratic cost; pred = a^[L] = σ(z^[L]).

    Shapes: pred (m, n_L), y (m,) integer labels → C a 0-d tensor.
    """
    onehot = nn.functional.one_hot(y, pred.shape[1]).to(pred.dtype)
    return 0.5 * ((pred - onehot) ** 2).sum(1).mean()


def loss_function(name):
    """The tutorial's `nn.CrossEntropyLoss()` on the logits, or the quadratic cost on σ(z^[L])."""
    if name == "cross-entropy":
        return nn.CrossEntropyLoss()
    return quadratic_cost
