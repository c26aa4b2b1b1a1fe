"""MNIST: the IDX format and what each official file must be, fetching (mirrors, then the package index),
loading the checked files as the x, y arrays a run trains on.

May import: scratchnet.errors and shell/. Never the engine's training parts, fast/, run/, teaching/, grade/.
"""

from scratchnet.mnist.load import load_mnist

__all__ = ["load_mnist"]
