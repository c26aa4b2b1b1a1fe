"""The only place that knows both layouts: scratchnet's W[l], b[l] ⇄ the l−1-th `nn.Linear` of torch.

Both store W^[l] as (n_l, n_{l−1}), so every copy is exact, bit for bit, with no transpose.
"""

import numpy as np
import torch

from scratchnet import Network
from scratchnet.backend import to_numpy
from torch_ref.model import TORCH_ACTIVATIONS, NeuralNetwork

TORCH_DTYPES = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}


def to_torch(net, device="cpu"):
    """A torch NeuralNetwork with net's architecture, dropout p, dtype and exactly its parameters."""
    hidden = [net.activation[l] for l in range(2, net.L)]
    model = NeuralNetwork(net.sizes, activation=hidden, loss=net.loss, dtype=TORCH_DTYPES[net.dtype],
                          dropout=net.dropout)
    load_into_torch(net, model)
    return model.to(device)


def load_into_torch(net, model):
    """Copy every W^[l], b^[l] of net into model, in place (same shapes and dtype, or a ValueError)."""
    linears = _matching_linears(net, model)
    with torch.no_grad():
        for l in range(2, net.L + 1):
            linears[l - 2].weight.copy_(torch.from_numpy(to_numpy(net.W[l])))
            linears[l - 2].bias.copy_(torch.from_numpy(to_numpy(net.b[l])))


def load_into_scratchnet(model, net):
    """Copy every Linear of model into net's W^[l], b^[l], in place, keeping net's array module and dtype."""
    linears = _matching_linears(net, model)
    for l in range(2, net.L + 1):
        net.W[l][...] = linears[l - 2].weight.detach().cpu().numpy()
        net.b[l][...] = linears[l - 2].bias.detach().cpu().numpy()


def _matching_linears(net, model):
    """model's Linear modules, after checking that each has the shape and dtype of net's W^[l]."""
    linears = model.linears()
    if len(linears) != net.L - 1:
        raise ValueError(f"torch model has {len(linears)} Linear layers, the network {net.L - 1}")
    for l in range(2, net.L + 1):
        weight = linears[l - 2].weight
        shape, dtype = tuple(weight.shape), str(weight.dtype).removeprefix("torch.")
        if shape != net.W[l].shape or dtype != str(net.dtype):
            raise ValueError(f"layer {l}: torch has {dtype} {shape}, the network {net.dtype} {net.W[l].shape}")
    return linears


def from_torch(model):
    """A scratchnet Network with model's layer sizes, activations, cost, dropout p, dtype and exactly its parameters."""
    linears = model.linears()
    sizes = [linears[0].in_features] + [linear.out_features for linear in linears]
    names = {cls: name for name, cls in TORCH_ACTIVATIONS.items()}
    sigmas = [names[type(m)] for m in model.linear_relu_stack if type(m) in names]
    loss = "quadratic" if len(sigmas) == len(linears) else "cross-entropy"  # a σ after the last Linear
    dtype = str(linears[0].weight.dtype).removeprefix("torch.")
    net = Network(sizes, activation=sigmas[:len(linears) - 1], loss=loss, dtype=dtype, dropout=model.dropout)
    load_into_scratchnet(model, net)
    return net
