"""python -m torch_ref.gradcheck: scratchnet.gradcheck's table with torch autograd's columns beside central differences.

    python -m torch_ref.gradcheck                                   # the tutorial's 784-512-512-10, float64
    python -m torch_ref.gradcheck --dtype float32 --batch-size 32
    python -m torch_ref.gradcheck --help                            # the flags: those of scratchnet.gradcheck

scratchnet never imports torch, so its table alone has no torch columns; this command passes
torch_ref.autograd's oracle (scratchnet.checking.oracle) to scratchnet.gradcheck.main. Exit status 1 when a row fails.
"""

import sys

from scratchnet import gradcheck
from scratchnet.shell.console import run_cli
from torch_ref.autograd import torch_gradients


def main(argv=None):
    """scratchnet.gradcheck.main with torch autograd as the oracle; returns the exit status."""
    return gradcheck.main(argv, oracle=torch_gradients, prog="python -m torch_ref.gradcheck")


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
