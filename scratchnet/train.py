"""Train the tutorial's MLP on MNIST with the hand-written engine, printing what the tutorial prints.

    python -m scratchnet.train                          # 784-512-512-10, ReLU, SGD lr 1e-3, batch 64, 5 epochs
    python -m scratchnet.train --lr 0.1 --batch-size 16 --epochs 1    # ~96% after one epoch
    python -m scratchnet.train --metrics-out runs/m.json --plot runs/curves.png
    python -m scratchnet.train --plot-samples runs/mnist.png   # also writes runs/mnist_predictions.png
    python -m scratchnet.train --save runs/ckpt.npz     # checkpoint every epoch; Ctrl-C saves and says how to resume
    python -m scratchnet.train --resume runs/ckpt.npz --epochs 8       # continue exactly, to 8 epochs in all
    python -m scratchnet.train --recipe best            # AdamW, dropout 0.2, one-cycle α, 20 epochs: ~98.6%
    python -m scratchnet.train --optimizer adam --lr 1e-3 --dropout 0.2 --schedule cosine --sampling shuffle
    python -m scratchnet.train --help

MNIST is fetched into --data-dir on the first run. This file is the command line, and `main`, which reads as
the run does: refuse what cannot finish (scratchnet.run.request), build the run once (scratchnet.run.build: the
network, the optimizer with its α_t, a resume, the step), load the data (scratchnet.mnist), then train under run
control (scratchnet.run.control: the loop, Ctrl-C, checkpoints) and report. The mathematics is all in the engine.
"""

import sys

from scratchnet.fast.blas import blas_line
from scratchnet.fast.threads import BlasThreads
from scratchnet.mnist.load import load_data
from scratchnet.run.build import build
from scratchnet.run.checkpoint import resumed_config
from scratchnet.run.config import TrainConfig
from scratchnet.run.control import PROG, train_under_control
from scratchnet.run.flags import build_parser, config_from_argv, given_flags
from scratchnet.run.metrics import run_metrics
from scratchnet.run.plot import plot_curves, plot_predictions, plot_samples, predictions_path
from scratchnet.run.request import check_request
from scratchnet.shell.console import info, run_cli


def main(cfg: TrainConfig):
    """Train as cfg says, print the tutorial's output, and return {"config": …, "epochs": [metrics …]}."""
    check_request(cfg)
    run = build(cfg)
    splits = load_data(cfg, run.xp)
    if run.about_step:
        info(run.about_step)
    if cfg.plot_samples:
        plot_samples(*splits[0], cfg.plot_samples, seed=cfg.seed)
    with BlasThreads(cfg.threads):
        train_under_control(run, splits)
    return report(run, splits)


def report(run, splits):
    """The run's metrics, returned (and drawn with --plot); with --plot-samples, the test predictions drawn."""
    cfg = run.cfg
    metrics = run_metrics(cfg, "scratchnet", run.state.metrics)
    if cfg.plot:
        plot_curves({"scratchnet": metrics["epochs"]}, cfg.plot)
    if cfg.plot_samples:
        plot_predictions(*splits[1], run.net.predict, predictions_path(cfg.plot_samples))
    return metrics


def cli(argv=None):
    parser = build_parser(PROG, __doc__)
    parser.epilog = f"Here: {blas_line()}; --threads auto is {BlasThreads('auto').describe()}."
    cfg = config_from_argv(parser, argv)
    if cfg.resume:
        cfg = resumed_config(cfg.resume, given_flags(parser, argv))
    return main(cfg)


if __name__ == "__main__":
    run_cli(cli, sys.argv[1:])
