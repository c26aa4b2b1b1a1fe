"""Train the tutorial's MLP on MNIST with the hand-written engine, printing what the tutorial prints.

    python -m scratchnet.train                          # 784-512-512-10, ReLU, SGD lr 1e-3, batch 64, 5 epochs
    python -m scratchnet.train --lr 0.1 --epochs 1      # one epoch at a higher rate: ~97% test accuracy
    python -m scratchnet.train --metrics-out runs/m.json --plot runs/curves.png
    python -m scratchnet.train --plot-samples runs/mnist.png   # also writes runs/mnist_predictions.png
    python -m scratchnet.train --help

MNIST is fetched into --data-dir on the first run. This file holds the loop and its output; all the
mathematics is in the engine (network.py, losses.py, optim.py).
"""

import json
import sys
import time
from dataclasses import asdict

import numpy as np

from scratchnet.backend import xp_for_device
from scratchnet.config import TrainConfig, build_parser, config_from_args, validate
from scratchnet.console import Progress, run_cli
from scratchnet.data import load_mnist
from scratchnet.errors import UsageError
from scratchnet.fileio import atomic_write, check_writable
from scratchnet.network import Network
from scratchnet.optim import SGD
from scratchnet.sampling import batches_per_epoch, minibatches

LOG_EVERY = 100  # batches between loss lines, as in the tutorial


def load_data(cfg, xp):
    """x (N, 784) with pixels/255 in cfg.dtype (the tutorial's ToTensor) and integer labels y (N,), twice."""
    splits = []
    for train, size in ((True, cfg.train_size), (False, cfg.test_size)):
        images, labels = load_mnist(cfg.data_dir, train=train)
        if size:
            images, labels = images[:size], labels[:size]
        x = images.reshape(len(images), -1).astype(cfg.dtype) / 255
        splits.append((xp.asarray(x), xp.asarray(labels.astype(np.int64))))
    return splits


def build(cfg, xp):
    """The network and optimizer that cfg describes: sizes [784, *hidden, 10]."""
    net = Network([784, *cfg.hidden, 10], activation=cfg.activation, loss=cfg.loss,
                  dtype=cfg.dtype, seed=cfg.seed, xp=xp)
    opt = SGD(net, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return net, opt


def train_step(net, opt, x, y):
    """One gradient step on the batch (x, y): forward, cost and δ^[L], backward, update. Returns C."""
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    opt.step(dW, db)
    return C


def train_epoch(net, opt, x, y, cfg, rng, progress):
    """One pass of minibatch SGD over (x, y); prints the loss every 100 batches; returns the mean loss."""
    N = len(x)
    total = 0.0
    for batch, idx in enumerate(minibatches(N, cfg.batch_size, cfg.sampling, rng)):
        C = train_step(net, opt, x[idx], y[idx])
        total = total + C
        if batch % LOG_EVERY == 0:
            progress.print(f"loss: {float(C):>7f}  [{batch * cfg.batch_size:>5d}/{N:>5d}]")
        progress.update(batch + 1)
    return float(total) / (batch + 1)


def evaluate(net, x, y, batch_size):
    """Test accuracy and the mean over batches of the batch-mean loss (the tutorial's "Avg loss")."""
    loss, correct, n_batches = 0.0, 0, 0
    for start in range(0, len(x), batch_size):
        a_L = net.forward(x[start:start + batch_size])
        C, _ = net.cost(y[start:start + batch_size])
        loss = loss + C
        correct = correct + (a_L.argmax(axis=1) == y[start:start + batch_size]).sum()
        n_batches += 1
    return int(correct) / len(x), float(loss) / n_batches


def main(cfg: TrainConfig):
    """Train as cfg says, print the tutorial's output, and return {"config": …, "epochs": [metrics …]}."""
    validate(cfg)
    for path, flag in ((cfg.metrics_out, "--metrics-out"), (cfg.plot, "--plot"), (cfg.plot_samples, "--plot-samples")):
        if path:
            check_writable(path, flag)
    if cfg.plot or cfg.plot_samples:
        from scratchnet.plot import predictions_path, require_matplotlib

        require_matplotlib("--plot" if cfg.plot else "--plot-samples")
        if cfg.plot_samples:
            check_writable(predictions_path(cfg.plot_samples), "--plot-samples")
    xp = xp_for_device(cfg.device)
    (x_train, y_train), (x_test, y_test) = load_data(cfg, xp)
    if cfg.batch_size > len(x_train):
        raise UsageError(f"--batch-size {cfg.batch_size} is larger than the {len(x_train)} training samples")
    if cfg.plot_samples:
        from scratchnet.plot import plot_samples

        plot_samples(x_train, y_train, cfg.plot_samples, seed=cfg.seed)
    net, opt = build(cfg, xp)
    rng = np.random.default_rng(cfg.seed)  # the batch sampler's own stream
    metrics = {"config": asdict(cfg), "engine": "scratchnet", "epochs": []}
    for t in range(1, cfg.epochs + 1):
        print(f"Epoch {t}\n-------------------------------")
        progress = Progress(batches_per_epoch(len(x_train), cfg.batch_size), f"epoch {t}/{cfg.epochs}")
        start = time.perf_counter()
        train_loss = train_epoch(net, opt, x_train, y_train, cfg, rng, progress)
        seconds = time.perf_counter() - start
        progress.close()
        accuracy, test_loss = evaluate(net, x_test, y_test, cfg.batch_size)
        print(f"Test Error: \n Accuracy: {(100 * accuracy):>0.1f}%, Avg loss: {test_loss:>8f} \n")
        metrics["epochs"].append({"epoch": t, "train_loss": train_loss, "test_loss": test_loss,
                                  "test_accuracy": accuracy, "seconds": seconds,
                                  "samples_per_second": len(x_train) / seconds})
        if cfg.metrics_out:
            write_metrics(metrics, cfg.metrics_out)
    print("Done!")
    if cfg.plot:
        from scratchnet.plot import plot_curves

        plot_curves({"scratchnet": metrics["epochs"]}, cfg.plot)
    if cfg.plot_samples:
        from scratchnet.plot import plot_predictions, predictions_path

        plot_predictions(x_test, y_test, net.predict, predictions_path(cfg.plot_samples))
    return metrics


def write_metrics(metrics, path):
    with atomic_write(path, "w") as f:
        json.dump(metrics, f, indent=2)


def cli(argv=None):
    parser = build_parser("python -m scratchnet.train", __doc__)
    return main(config_from_args(parser.parse_args(argv)))


if __name__ == "__main__":
    run_cli(cli, sys.argv[1:])
