"""The house rule that keeps each side a clean reading: scratchnet never imports torch, nor torch_ref.

Imports every scratchnet module in a fresh interpreter where `import torch` fails, and runs a step; reads every
scratchnet source for a way into torch_ref (an import, importlib.import_module, __import__): torch's
oracle is passed in (scratchnet.checking.oracle), never fetched.

    python -m pytest tests/test_layering.py
"""

import pkgutil
import re
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


BACK_EDGE = re.compile(r"\bimport_module\b|\b__import__\b|\bimportlib\b"          # a module found by name
                       r"|^\s*(from|import)\s+torch_ref\b|[\"']torch_ref[.\"']",  # or imported, or named in a string
                       re.MULTILINE)


def test_scratchnet_has_no_way_into_torch_ref():
    sources = sorted((REPO / "scratchnet").rglob("*.py"))
    assert any(path.name == "gradcheck.py" for path in sources)
    found = [f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}: {match.group(0)}"
             for path in sources for text in [path.read_text()] for match in BACK_EDGE.finditer(text)]
    assert not found, "scratchnet reaches into torch_ref (pass the oracle in instead):\n" + "\n".join(found)
