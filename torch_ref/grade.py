"""python -m torch_ref.grade: scratchnet.grade with torch autograd as a second oracle beside the engine.

    python -m torch_ref.grade hw/backprop_rows.py        # the flags: those of python -m scratchnet.grade

scratchnet never imports torch; this command passes torch_ref.autograd's oracle (scratchnet.checking.oracle) to
scratchnet.grade's main, which checks that both oracles agree on every case before it judges a student.
"""

import sys

from scratchnet.grade.__main__ import main as grade_main
from scratchnet.shell.console import run_cli
from torch_ref.autograd import torch_gradients


def main(argv=None):
    """scratchnet.grade's main with torch autograd as the second oracle."""
    return grade_main(argv, oracle=torch_gradients, prog="python -m torch_ref.grade")


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
