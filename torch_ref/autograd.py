"""The torch oracle: every gradient scratchnet writes by hand, as PyTorch's autograd computes it
(scratchnet.checking.oracle's interface).

    from torch_ref.autograd import torch_gradients
    ref = torch_gradients(net, x, y)     # ref.C, ref.dW[l], ref.db[l], ref.delta[l], ref.input_gradient
    ref = torch_gradients(net, x, y, r)      # under dropout, with the masks r = {l: r^[l]} that scratchnet used

The scratchnet Network is copied through the bridge into the tutorial's NeuralNetwork (same weights, bit
for bit), the batch is run through its modules one at a time so that every z^[l] (a Linear's output) and
x keep their `.grad`, the same cost is taken, and `loss.backward()` does the rest. No gradient here is
written by hand. Dropout's nn.Dropout modules multiply by the given masks, r^[l]/(1 − p), or do nothing
(evaluation) when no masks are given.
"""

import torch

from scratchnet.backend import to_numpy
from scratchnet.checking.oracle import Gradients
from torch_ref.bridge import TORCH_DTYPES, to_torch
from torch_ref.model import loss_function


def torch_gradients(net, x, y, r=None):
    """Loss, ∂C/∂W^[l], ∂C/∂b^[l], δ^[l], z^[l] and ∂C/∂x for the batch (x, y), by autograd on net's torch twin.

    Args:
        net: a scratchnet Network (any array module; its parameters are copied, never changed).
        x: the batch a^[1], (m, n_1).  y: integer labels (m,).
        r: dropout masks {l: r^[l]} (m, n_l) for the hidden layers, as passed to net.forward; None: no dropout.
    """
    model = to_torch(net)
    dtype = TORCH_DTYPES[net.dtype]
    x_t = torch.tensor(to_numpy(x), dtype=dtype, requires_grad=True)
    y_t = torch.as_tensor(to_numpy(y)).long()
    r_t = {l: torch.tensor(to_numpy(r_l), dtype=dtype) for l, r_l in (r or {}).items()}
    z = {}
    out = model(x_t, r_t, z=z)  # r_t = {} without dropout: every nn.Dropout passes its input on
    C = loss_function(net.loss)(out, y_t)
    C.backward()
    linears = model.linears()
    return Gradients(
        C=C.detach().numpy(),
        dW={l: linears[l - 2].weight.grad.numpy() for l in z},
        db={l: linears[l - 2].bias.grad.numpy() for l in z},
        delta={l: z[l].grad.numpy() for l in z},
        input_gradient=x_t.grad.numpy(),
        z={l: z[l].detach().numpy() for l in z},
    )
