"""MNIST: the IDX format and what each official file must be (idx), fetching from mirrors and then the package
index (fetch), loading the checked files as the x, y arrays a run trains on (load).

May import: scratchnet.errors, shell. Never the engine, checking/, fast/, run/, teaching/, grade/.
"""

from scratchnet.mnist.load import load_mnist

__all__ = ["load_mnist"]
