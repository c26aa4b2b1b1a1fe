"""The oracle interface: every gradient of one batch, in one shape, whoever computes it.

    oracle(net, x, y, r=None) -> Gradients

An oracle takes a scratchnet Network, a batch x = a^[1] (m, n_1) with integer labels y (m,) and, under dropout,
the masks {l: r^[l]} the forward pass used, and returns the loss C, every ∂C/∂W^[l], ∂C/∂b^[l], δ^[l] = ∂C/∂z^[l]
and z^[l], and ∂C/∂x, as NumPy arrays, without changing net's parameters. Two implement it:

    engine_gradients(net, x, y)                  # scratchnet's own answer, the one under test (this module)
    torch_ref.autograd.torch_gradients(net, x, y)  # PyTorch's autograd, the reference

scratchnet never imports the second: gradcheck.main(argv, oracle) and explain.main(argv, oracle) take it as an
argument, and `python -m torch_ref.gradcheck` / `python -m torch_ref.explain` pass it in. The tests compare an
engine with an oracle through tests/helpers.assert_gradients_close. Central differences
(scratchnet.checking.central_differences) answer one direction at a time instead: they differentiate C itself.
"""

from dataclasses import dataclass

from scratchnet.backend import to_numpy


@dataclass
class Gradients:
    """One batch's cost C and gradients, as NumPy arrays; dicts keyed by the layer number l = 2..L.

    Shapes: C 0-d; dW[l] (n_l, n_{l-1}); db[l] (n_l,); delta[l] = ∂C/∂z^[l] and z[l] (m, n_l);
    input_gradient = ∂C/∂x (m, n_1).
    """

    C: object
    dW: dict  # noqa: N815 (the notation: ∂C/∂W^[l])
    db: dict
    delta: dict
    input_gradient: object
    z: dict

    def rows(self):
        """{"loss", "dW[l]", "db[l]", "delta[l]" (l = 2..L), "input gradient": array}: gradcheck's rows, its order."""
        layers = sorted(self.dW)
        named = {"loss": self.C}
        named |= {f"dW[{l}]": self.dW[l] for l in layers}
        named |= {f"db[{l}]": self.db[l] for l in layers}
        named |= {f"delta[{l}]": self.delta[l] for l in layers}
        named["input gradient"] = self.input_gradient
        return named


def engine_gradients(net, x, y, r=None):
    """scratchnet's answer: forward(x, r), cost(y), backward(δ^[L]), input_gradient(), copied to NumPy."""
    net.forward(x, r)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    layers = range(2, net.L + 1)
    return Gradients(
        C=to_numpy(C),
        dW={l: to_numpy(dW[l]) for l in layers},
        db={l: to_numpy(db[l]) for l in layers},
        delta={l: to_numpy(net.delta[l]) for l in layers},
        input_gradient=to_numpy(net.input_gradient()),
        z={l: to_numpy(net.z[l]) for l in layers},
    )
