"""The house rule that keeps each side a clean reading: scratchnet never imports torch.

Imports every scratchnet module in a fresh interpreter where `import torch` fails, and runs a step.

    python -m pytest tests/test_layering.py
"""

import pkgutil
import subprocess
import sys

import scratchnet

from conftest import REPO
from helpers import blocking

BLOCK_TORCH = blocking("torch")


def test_scratchnet_never_imports_torch():
    modules = [m.name for m in pkgutil.iter_modules(scratchnet.__path__, "scratchnet.")]
    assert "scratchnet.network" in modules
    code = BLOCK_TORCH + "\n".join(f"import {m}" for m in modules) + """
import numpy as np
from scratchnet import Network, SGD
net = Network([4, 3, 2])
net.forward(np.ones((2, 4), dtype=np.float32))
SGD(net, lr=0.1).step(*net.backward(net.cost(np.array([0, 1]))[1]))
assert not any(name == "torch" or name.startswith("torch.") for name in sys.modules)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
