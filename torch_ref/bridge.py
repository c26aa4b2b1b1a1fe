"""The only place that knows both layouts: scratchnet's W[l], b[l] ⇄ the Linear layers of a torch module.

    net = from_torch(model)                 # the tutorial's own NeuralNetwork, an nn.Sequential, torch_ref's model
    load_into_scratchnet(model, net)        # in place, both ways: load_into_torch(net, model)
    torch.save(to_state_dict(net), "model.pth")           # what the tutorial's model.load_state_dict reads
    net = from_state_dict(torch.load("model.pth"))        # and back

A module fits when its nn.Linear layers, in the order print(model) lists them, are the network's layers
2..L: an optional nn.Flatten first; between two Linear layers one σ that scratchnet has (nn.ReLU, nn.Sigmoid,
nn.Tanh), optionally followed by nn.Dropout(p), one p throughout; after the last Linear nothing (the logits:
the cross-entropy cost) or nn.Sigmoid (the quadratic cost). Anything else is refused by name, in one line.
Activations that forward() applies as functions (F.relu) are invisible in the module tree: use modules.
Both store W^[l] as (n_l, n_{l−1}), so every copy is exact, bit for bit, with no transpose.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scratchnet import Network
from scratchnet.backend import get_xp, to_numpy
from scratchnet.errors import UsageError
from torch_ref.model import TORCH_ACTIVATIONS, NeuralNetwork

TORCH_DTYPES = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}
SIGMA_NAMES = {cls: name for name, cls in TORCH_ACTIVATIONS.items()}  # nn.ReLU → "relu", …
KNOWN = "nn.Linear, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Dropout and a leading nn.Flatten"


@dataclass
class Architecture:
    """What a torch module computes, in scratchnet's terms."""

    linears: list      # the nn.Linear modules in order: linears[l - 2] holds W^[l], b^[l]
    names: list        # their labels, "(linear_relu_stack.0) Linear" as print(model) shows it, for messages
    activation: list   # σ of the hidden layers 2..L−1, by scratchnet's names
    loss: str          # "cross-entropy" (nothing after the last Linear) or "quadratic" (an nn.Sigmoid)
    dropout: float     # p of its nn.Dropout modules, 0.0 without


def architecture(model):
    """The Architecture of model, or a UsageError naming the first module scratchnet cannot compute."""
    if not any(type(module) is nn.Linear for module in model.modules()):
        raise UsageError(f"torch model {type(model).__name__} has no nn.Linear layer")
    leaves = [(label(name, module), module) for name, module in model.named_modules(remove_duplicate=False)
              if not list(module.children()) and type(module) is not nn.Identity]
    linears, names, between, gaps = [], [], [], []  # gaps[i]: the modules after linears[i], before the next
    for name, module in leaves:
        if type(module) is nn.Linear:
            if linears:
                gaps.append(between)
            elif between:
                check_leading(between)
            check_linear(name, module, linears, names)
            linears.append(module)
            names.append(name)
            between = []
        elif type(module) in (*SIGMA_NAMES, nn.Dropout, nn.Flatten):
            between.append((name, module))
        else:
            raise UsageError(f"torch model: {name} is not a layer scratchnet has; it computes {KNOWN}")
    check_only_linear_parameters(model, linears)
    activation, dropouts = [], set()
    for i, gap in enumerate(gaps):
        sigma, p = hidden_layer(gap, names[i], names[i + 1])
        activation.append(sigma)
        dropouts.add(p)
    if len(dropouts) > 1:
        raise UsageError(f"torch model: its hidden layers drop with different p {sorted(dropouts)} (0.0 where no "
                         "nn.Dropout follows the σ); scratchnet has one p for every hidden layer")
    p = dropouts.pop() if dropouts else 0.0
    return Architecture(linears, names, activation, output_loss(between, names[-1]), p)


def label(name, module):
    """A module as print(model) shows it, "(linear_relu_stack.1) ReLU", for messages."""
    return f"({name}) {type(module).__name__}" if name else type(module).__name__


def check_leading(modules):
    """Before the first Linear: only the tutorial's nn.Flatten() (start_dim 1), which leaves rows of x as they are."""
    for name, module in modules:
        if not (type(module) is nn.Flatten and (module.start_dim, module.end_dim) == (1, -1)):
            raise UsageError(f"torch model: {name} comes before the first Linear; scratchnet takes the input rows "
                             "as they are (an nn.Flatten() is fine)")


def check_linear(name, linear, linears, names):
    """One nn.Linear: its own module, a bias, a float32/float64 weight, in_features the previous out_features."""
    if any(linear is seen for seen in linears):
        first = names[next(i for i, seen in enumerate(linears) if seen is linear)]
        raise UsageError(f"torch model: {name} is the same Linear as {first} (shared weights); each scratchnet layer "
                         "has its own W^[l], b^[l]")
    if linear.bias is None:
        raise UsageError(f"torch model: {name} has no bias (bias=False); every scratchnet layer has its b^[l]")
    if linear.weight.dtype not in TORCH_DTYPES.values():
        raise UsageError(f"torch model: {name} holds {str(linear.weight.dtype).removeprefix('torch.')}; scratchnet "
                         "computes in float32 or float64 (model.float() or model.double() first)")
    if linears and linear.in_features != linears[-1].out_features:
        raise UsageError(f"torch model: {name} takes {linear.in_features} inputs but {names[-1]} before it gives "
                         f"{linears[-1].out_features}: list the Linear layers in the order forward() runs them")


def check_only_linear_parameters(model, linears):
    """Every parameter of model belongs to one of its Linear layers (no hand-made nn.Parameter on the side)."""
    own = {id(p) for linear in linears for p in linear.parameters()}
    extra = [name for name, p in model.named_parameters() if id(p) not in own]
    if extra:
        raise UsageError(f"torch model: parameter {extra[0]} belongs to no nn.Linear; scratchnet has only W^[l], b^[l]")


def hidden_layer(gap, before, after):
    """σ and dropout p of the modules between two Linear layers: exactly one σ, then at most one nn.Dropout."""
    kinds = [type(module) for _, module in gap]
    where = f"between {before} and {after}"
    if not kinds or kinds[0] not in SIGMA_NAMES:
        found = ", ".join(name for name, _ in gap) or "no activation module"
        raise UsageError(f"torch model: {found} {where}; scratchnet needs one nn.ReLU, nn.Sigmoid or nn.Tanh there "
                         "(an activation applied as a function in forward() cannot be seen: use the module)")
    if kinds[1:] not in ([], [nn.Dropout]):
        found = ", ".join(name for name, _ in gap)
        raise UsageError(f"torch model: {found} {where}; scratchnet has one σ there, then at most one nn.Dropout")
    return SIGMA_NAMES[kinds[0]], gap[1][1].p if len(gap) == 2 else 0.0


def output_loss(after_last, last_name):
    """The cost the output layer implies: logits (nothing after the last Linear) or σ(z^[L]) with the sigmoid."""
    kinds = [type(module) for _, module in after_last]
    if kinds == []:
        return "cross-entropy"
    if kinds == [nn.Sigmoid]:
        return "quadratic"
    found = ", ".join(name for name, _ in after_last)
    raise UsageError(f"torch model: {found} after the last Linear, {last_name}; scratchnet's output layer gives the "
                     "logits (nothing after it: cross-entropy) or their nn.Sigmoid (the quadratic cost)")


def to_torch(net, device="cpu"):
    """A torch_ref NeuralNetwork with net's architecture, dropout p, dtype and exactly its parameters."""
    hidden = [net.activation[l] for l in range(2, net.L)]
    model = NeuralNetwork(net.sizes, activation=hidden, loss=net.loss, dtype=TORCH_DTYPES[net.dtype],
                          dropout=net.dropout)
    load_into_torch(net, model)
    return model.to(device)


def from_torch(model):
    """A scratchnet Network with model's layer sizes, activations, cost, dropout p, dtype and exactly its parameters."""
    arch = architecture(model)
    return Network.from_parameters([linear.weight.detach().cpu().numpy() for linear in arch.linears],
                                   [linear.bias.detach().cpu().numpy() for linear in arch.linears],
                                   activation=arch.activation, loss=arch.loss, dropout=arch.dropout)


def load_into_torch(net, model):
    """Copy every W^[l], b^[l] of net into model's Linear layers, in place (same architecture, or a UsageError)."""
    linears = matching_linears(net, model)
    with torch.no_grad():
        for l in range(2, net.L + 1):
            linears[l - 2].weight.copy_(torch.from_numpy(to_numpy(net.W[l])))
            linears[l - 2].bias.copy_(torch.from_numpy(to_numpy(net.b[l])))


def load_into_scratchnet(model, net):
    """Copy every Linear of model into net's W^[l], b^[l], in place, keeping net's array module and dtype."""
    linears = matching_linears(net, model)
    xp = get_xp(net.W[2])
    for l in range(2, net.L + 1):
        net.W[l][...] = xp.asarray(linears[l - 2].weight.detach().cpu().numpy())
        net.b[l][...] = xp.asarray(linears[l - 2].bias.detach().cpu().numpy())


def matching_linears(net, model):
    """model's Linear layers, after checking that they, their σ and their cost are net's, shape and dtype too."""
    arch = architecture(model)
    if len(arch.linears) != net.L - 1:
        raise UsageError(f"torch model has {len(arch.linears)} Linear layers, the network {net.L - 1}")
    for l in range(2, net.L + 1):
        weight = arch.linears[l - 2].weight
        shape, dtype = tuple(weight.shape), str(weight.dtype).removeprefix("torch.")
        if shape != net.W[l].shape or dtype != str(net.dtype):
            raise UsageError(f"layer {l}: torch has {dtype} {shape}, the network {net.dtype} {net.W[l].shape}")
    hidden = [net.activation[l] for l in range(2, net.L)]
    if arch.activation != hidden or arch.loss != net.loss:
        raise UsageError(f"torch model computes σ = {arch.activation} with the {arch.loss} cost, the network "
                         f"σ = {hidden} with the {net.loss} cost")
    return arch.linears


def to_state_dict(net):
    """net's parameters as the state_dict of the tutorial's NeuralNetwork ("linear_relu_stack.0.weight", …)."""
    return to_torch(net).state_dict()


def from_state_dict(state_dict, activation="relu", loss="cross-entropy", dropout=0.0):
    """A Network from a state_dict of Linear layers ("….weight", "….bias" pairs, in order); a state_dict holds no
    σ, cost or p, so they are given as for Network (the defaults are the tutorial's)."""
    W, b = [], []
    prefixes = list(dict.fromkeys(key.rpartition(".")[0] for key in state_dict))
    if not prefixes:
        raise UsageError("state_dict is empty: it holds no Linear layer")
    for prefix in prefixes:
        keys = [key for key in state_dict if key.rpartition(".")[0] == prefix]
        names = [key.rpartition(".")[2] for key in keys]
        if names != ["weight", "bias"]:
            raise UsageError(f"state_dict: {prefix or 'the top level'} holds {', '.join(keys)}; scratchnet reads "
                             "nn.Linear layers only, each a .weight then a .bias")
        for key, into in zip(keys, (W, b), strict=True):
            tensor = state_dict[key]
            if not isinstance(tensor, torch.Tensor):
                raise UsageError(f"state_dict: {key} is a {type(tensor).__name__}, not a tensor")
            if tensor.dtype not in TORCH_DTYPES.values():
                raise UsageError(f"state_dict: {key} holds {str(tensor.dtype).removeprefix('torch.')}; scratchnet "
                                 "computes in float32 or float64")
            into.append(tensor.detach().cpu().numpy())
    return Network.from_parameters(W, b, activation=activation, loss=loss, dropout=dropout)
