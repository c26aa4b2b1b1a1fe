"""The tutorial's `NeuralNetwork`, built from the same options as scratchnet's Network.

With the defaults, `print(NeuralNetwork())` prints what the tutorial prints:

    NeuralNetwork(
      (flatten): Flatten(start_dim=1, end_dim=-1)
      (linear_relu_stack): Sequential(
        (0): Linear(in_features=784, out_features=512, bias=True)
        (1): ReLU()
        ...
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
    """

    def __init__(self, sizes=(784, 512, 512, 10), activation="relu", loss="cross-entropy", dtype=torch.float32):
        super().__init__()
        hidden = [activation] * (len(sizes) - 2) if isinstance(activation, str) else list(activation)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(n_in, n_out, dtype=dtype))
            if i < len(hidden):
                layers.append(TORCH_ACTIVATIONS[hidden[i]]())
        if loss == "quadratic":
            layers.append(nn.Sigmoid())
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(*layers)

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits

    def linears(self):
        """The Linear modules in order: linears()[l - 2] holds W^[l], b^[l]."""
        return [m for m in self.linear_relu_stack if isinstance(m, nn.Linear)]
