"""torch_ref: the PyTorch tutorial's MNIST program, the reference that scratchnet is checked against.

model.py holds the tutorial's `NeuralNetwork`; bridge.py is the only place that knows both engines'
layouts. torch_ref uses autograd for every gradient and never writes one by hand.

Every torch_ref module needs torch (and torchvision, for MNIST): without them, `python -m torch_ref.<command>`
stops here with one line saying how to install them (exit status 1), and `import torch_ref` raises
ModuleNotFoundError with that line.
"""

import importlib.util
import sys

NEEDS_TORCH = ("error: torch_ref needs PyTorch ({}, not installed here): pip install torch torchvision, "
               "or pip install -e '.[test]'")


def _missing():
    """The first of torch, torchvision that cannot be found, or None (found, not imported: that stays cheap)."""
    for name in ("torch", "torchvision"):
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


if (_absent := _missing()) is not None:
    if sys.argv[:1] == ["-m"]:  # python -m torch_ref.<command>: runpy imports this package first
        sys.exit(NEEDS_TORCH.format(_absent))
    raise ModuleNotFoundError(NEEDS_TORCH.format(_absent).removeprefix("error: "), name=_absent)
