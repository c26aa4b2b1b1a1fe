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

MNIST is fetched into --data-dir on the first run. This file is the command line, and `main`, which puts a
run together: the network and optimizer (build.py), the data (data.py), the step (step.py), then the loop
(loop.py) under run control (run.py: Ctrl-C, resume, checkpoints). The mathematics is all in the engine.
"""

import sys

from scratchnet.backend import xp_for_device
from scratchnet.fast.blas import blas_line
from scratchnet.fast.choose import make_step, wants_fused
from scratchnet.fast.threads import BlasThreads
from scratchnet.mnist.load import load_data
from scratchnet.run.build import build, build_schedule
from scratchnet.run.checkpoint import resumed_config
from scratchnet.run.config import TrainConfig, build_parser, check_batch_size, config_from_argv, given_flags
from scratchnet.run.control import PROG, check_request, run, start_or_resume
from scratchnet.run.metrics import run_metrics
from scratchnet.run.plot import plot_curves, plot_predictions, plot_samples, predictions_path
from scratchnet.sampling import batches_per_epoch
from scratchnet.shell.console import run_cli


def main(cfg: TrainConfig):
    """Train as cfg says, print the tutorial's output, and return {"config": …, "epochs": [metrics …]}."""
    check_request(cfg)
    xp = xp_for_device(cfg.device)
    net, opt = build(cfg, xp)
    fused = wants_fused(cfg, net, opt, xp)
    splits = (x_train, y_train), (x_test, y_test) = load_data(cfg, xp)
    check_batch_size(cfg, len(x_train))
    if cfg.plot_samples:
        plot_samples(x_train, y_train, cfg.plot_samples, seed=cfg.seed)
    schedule = build_schedule(cfg, batches_per_epoch(len(x_train), cfg.batch_size))
    state = start_or_resume(cfg, net, opt)
    with BlasThreads(cfg.threads):
        run(cfg, make_step(cfg, net, opt, schedule, fused), splits, state)
    metrics = run_metrics(cfg, "scratchnet", state.metrics)
    if cfg.plot:
        plot_curves({"scratchnet": metrics["epochs"]}, cfg.plot)
    if cfg.plot_samples:
        plot_predictions(x_test, y_test, net.predict, predictions_path(cfg.plot_samples))
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
