"""scratchnet: a neural network whose every gradient is written out by hand, beside its equation.

Read in this order: docs/backprop.md, activations.py, losses.py, network.py, optim.py, step.py, loop.py.
"""

from scratchnet.data import load_mnist
from scratchnet.network import Network
from scratchnet.optim import SGD, Adam, AdamW

__all__ = ["Network", "SGD", "Adam", "AdamW", "load_mnist"]
__version__ = "0.1.0"
