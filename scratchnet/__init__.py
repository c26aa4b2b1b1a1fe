"""scratchnet: a neural network whose every gradient is written out by hand, beside its equation.

The engine a student reads is this folder's own modules, in this order: docs/backprop.md, activations.py,
losses.py, network.py, optim.py, schedules.py, sampling.py, step.py, loop.py (with checks.py, backend.py and
errors.py beside them). They import numpy and each other, nothing from the folders below. Beside them stand the
commands (train, gradcheck, explain, exercise, grade), and one folder per other concern:

    shell/     the command-line shell: one-line errors, the progress bar, signals, files written whole, memory
    checking/  the oracle interface, central differences, float32 rounding bounds, agreement (the one
               relative_error and tolerance table)
    fast/      the fast paths: the fused step (CPU BLAS, CuPy kernels, CUDA graphs), BLAS threads, the choice
    mnist/     the MNIST files: the IDX format, fetching, loading
    run/       a training run: its configuration, flags, what it may ask, build(cfg) -> Run, control (Ctrl-C,
               resume), checkpoints, metrics, plots
    teaching/  explain --html's page and the docs' code links (doclinks --fix)
    grade/     the autograder for students' backprop

What each folder may import is said in its own docstring and enforced by tests/test_layering.py.
MNIST: `from scratchnet.mnist import load_mnist`.
"""

from scratchnet.network import Network
from scratchnet.optim import SGD, Adam, AdamW

__all__ = ["Network", "SGD", "Adam", "AdamW"]
__version__ = "0.1.0"
