"""python -m torch_ref.explain: scratchnet.explain's traced pass with torch autograd's values beside the engine's.

    python -m torch_ref.explain                                     # 4-3-3-2, ReLU, cross-entropy, m = 2
    python -m torch_ref.explain --markdown --out worked_example.md  # the handout, autograd's column included
    python -m torch_ref.explain --html runs/backprop.html           # the page, with autograd's agreement line
    python -m torch_ref.explain --help                              # the flags: those of scratchnet.explain

scratchnet never imports torch; this command passes torch_ref.autograd's oracle (scratchnet.checking.oracle) to
scratchnet.explain.main.
"""

import sys

from scratchnet import explain
from scratchnet.shell.console import run_cli
from torch_ref.autograd import torch_gradients


def main(argv=None):
    """scratchnet.explain.main with torch autograd as the oracle; returns the text."""
    return explain.main(argv, oracle=torch_gradients, prog="python -m torch_ref.explain")


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
