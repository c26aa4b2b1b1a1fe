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

MNIST is fetched into --data-dir on the first run. This file holds the loop and its output; all the
mathematics is in the engine (network.py, losses.py, optim.py, schedules.py).
"""

import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict

import numpy as np

from scratchnet.backend import get_xp, xp_for_device
from scratchnet.checkpoint import (
    RunState,
    check_architecture,
    check_schedule,
    load_checkpoint,
    restore,
    resumed_config,
    save_checkpoint,
)
from scratchnet.config import TrainConfig, build_parser, check_batch_size, config_from_argv, given_flags, validate
from scratchnet.console import Progress, info, run_cli
from scratchnet.data import load_mnist
from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.fileio import atomic_write, check_writable
from scratchnet.fused import FusedStep, fused_problem
from scratchnet.network import Network
from scratchnet.optim import SGD, Adam, AdamW
from scratchnet.sampling import batches_per_epoch, minibatches
from scratchnet.schedules import Cosine, OneCycle, StepDecay

LOG_EVERY = 100  # batches between loss lines, as in the tutorial
PROG = "python -m scratchnet.train"
INTERRUPTED_PATH = os.path.join("runs", "interrupted.npz")  # where Ctrl-C saves when there is no --save


class DivergenceError(ScratchnetError):
    """The loss became NaN or infinite: training stops at once, before the update (exit status 1)."""


class InterruptError(ScratchnetError):
    """Ctrl-C: the run saved its state and says how to resume (exit status 130)."""

    exit_code = 130
    prefix = ""


class InterruptFlag:
    """While active, the first Ctrl-C only raises a flag (the step in progress finishes); a second one stops."""

    def __enter__(self):
        self.requested = False
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


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
                  dtype=cfg.dtype, seed=cfg.seed, xp=xp, dropout=cfg.dropout)
    if cfg.optimizer == "sgd":
        opt = SGD(net, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    elif cfg.optimizer == "adam":
        opt = Adam(net, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    else:
        opt = AdamW(net, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    return net, opt


def build_schedule(cfg, steps_per_epoch):
    """α_t for the run cfg describes (its T = epochs × steps_per_epoch steps, α = cfg.lr), or None: α stays cfg.lr."""
    T = cfg.epochs * steps_per_epoch
    if cfg.schedule == "step":
        return StepDecay(cfg.lr, step_size=cfg.lr_step_epochs * steps_per_epoch, gamma=cfg.lr_gamma)
    if cfg.schedule == "cosine":
        return Cosine(cfg.lr, T)
    if cfg.schedule == "onecycle":
        return OneCycle(cfg.lr, T)
    return None


def train_step(net, opt, x, y):
    """One gradient step on the batch (x, y): dropout masks, forward, cost and δ^[L], backward, update. Returns C.

    A NaN or infinite C raises DivergenceError before the update, so the parameters stay the last good ones.
    """
    net.forward(x, net.draw_masks(len(x)))
    C, delta_L = net.cost(y)
    if not math.isfinite(C):
        where = net.first_non_finite() or "C itself"
        raise DivergenceError(f"the loss became {float(C)}, first non-finite value in {where}")
    dW, db = net.backward(delta_L)
    opt.step(dW, db)
    return C


def wants_fused(cfg, net, opt, xp):
    """Whether to train with the fused step (scratchnet.fused): --step fused, or --step auto on a GPU where the
    model allows it. --step fused for a model it cannot compute is refused here, before any work."""
    problem = fused_problem(net, opt)
    if cfg.step == "fused" and problem:
        raise UsageError(f"--step fused: {problem}; use --step reference")
    return cfg.step == "fused" or (cfg.step == "auto" and xp is not np and problem is None)


def make_fused_step(cfg, net, opt, xp):
    """The FusedStep for net and opt; on a GPU, captured as a CUDA graph that every full batch replays."""
    fused = FusedStep(net, opt, cfg.batch_size)
    how = ""
    if xp is not np:
        try:
            fused.capture()
            how = ", in a CUDA graph"
        except Exception as e:  # a driver that refuses the capture still runs the kernels one by one
            how = f", kernel by kernel (the CUDA graph capture failed: {str(e).splitlines()[0]})"
    info(f"training step: fused (scratchnet.fused){how}")
    return fused


def on_device(batches, xp):
    """The epoch's batches, with every index array copied to the device in one transfer (slices stay slices)."""
    batches = list(batches)
    if xp is np or all(isinstance(idx, slice) for idx in batches):
        return batches
    flat, start, moved = xp.asarray(np.concatenate(batches)), 0, []
    for idx in batches:
        moved.append(flat[start:start + len(idx)])
        start += len(idx)
    return moved


def train_epoch(net, opt, fused, schedule, x, y, cfg, rng, state, progress, interrupt):
    """Minibatch SGD over (x, y) from step state.step of the epoch on; prints the loss every 100 batches.

    Under a schedule, the learning rate is set to α_t before each step, t = opt.t the steps taken so far.
    `state` (a RunState) advances with every step, so that a checkpoint can be written after any of them.
    With the fused step, the device records a divergence and the host reads it only where it must wait for
    the device anyway: at each printed loss, checkpoint and interruption, and at the end of the epoch.
    """
    N = len(x)
    first_batch, steps_before = state.step, fused.steps if fused else 0

    def diverged(batch, what):
        saved = cfg.save if cfg.save and os.path.exists(cfg.save) else "none yet"
        return DivergenceError(f"epoch {state.epoch + 1}, step {batch}: {what}; the learning rate may be too "
                               f"high (--lr {cfg.lr:g}); last good checkpoint: {saved}")

    def check_fused():
        bad = fused.first_bad_step() if fused else None
        if bad:
            raise diverged(first_batch + bad - steps_before, "the loss became NaN or infinite; the fused step "
                                                             "kept the parameters of the step before")

    batches = on_device(minibatches(N, cfg.batch_size, cfg.sampling, rng), get_xp(x))
    for batch, idx in enumerate(batches):
        if batch < state.step:
            continue  # done before the checkpoint this run resumed from; the sampler still draws it
        if schedule is not None:
            opt.lr = schedule.lr_at(opt.t)
        try:
            C = fused.step(x[idx], y[idx]) if fused else train_step(net, opt, x[idx], y[idx])
        except DivergenceError as e:
            raise diverged(batch + 1, str(e)) from None
        state.loss_sum = state.loss_sum + C
        state.step = batch + 1
        if batch % LOG_EVERY == 0:
            check_fused()
            progress.print(f"loss: {float(C):>7f}  [{batch * cfg.batch_size:>5d}/{N:>5d}]")
        progress.update(batch + 1)
        if cfg.save_every and state.step % cfg.save_every == 0:
            check_fused()
            save_checkpoint(cfg.save, net, opt, cfg, state)
        if interrupt.requested:
            check_fused()
            raise_interrupted(net, opt, cfg, state)
    check_fused()
    return float(state.loss_sum) / state.step


def raise_interrupted(net, opt, cfg, state):
    """Save where Ctrl-C stopped the run, then stop with the command that resumes it."""
    path = cfg.save or INTERRUPTED_PATH
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_checkpoint(path, net, opt, cfg, state)
    raise InterruptError(f"interrupted in epoch {state.epoch + 1} after step {state.step}: saved {path}; "
                         f"resume with: {PROG} --resume {path}")


def evaluate(net, x, y, batch_size):
    """Test accuracy and the mean over batches of the batch-mean loss (the tutorial's "Avg loss")."""
    loss, correct, n_batches = 0.0, 0, 0
    for start in range(0, len(x), batch_size):
        C, a_L = net.evaluate(x[start:start + batch_size], y[start:start + batch_size])  # keeps no training cache
        loss = loss + C
        correct = correct + (a_L.argmax(axis=1) == y[start:start + batch_size]).sum()
        n_batches += 1
    return int(correct) / len(x), float(loss) / n_batches


def check_request(cfg):
    """Refuse, before any work, a run that could not finish: bad values, unwritable outputs, no matplotlib."""
    validate(cfg)
    outputs = [(cfg.metrics_out, "--metrics-out"), (cfg.plot, "--plot"), (cfg.plot_samples, "--plot-samples"),
               (cfg.save, "--save")]
    for path, flag in outputs:
        if path:
            check_writable(path, flag)
    if cfg.plot or cfg.plot_samples:
        from scratchnet.plot import predictions_path, require_matplotlib

        require_matplotlib("--plot" if cfg.plot else "--plot-samples")
        if cfg.plot_samples:
            check_writable(predictions_path(cfg.plot_samples), "--plot-samples")


def start_or_resume(cfg, net, opt, rng):
    """A fresh RunState, or the one of cfg.resume with its parameters and optimizer state loaded."""
    if not cfg.resume:
        return RunState(sampler_state=rng.bit_generator.state)
    arrays, meta = load_checkpoint(cfg.resume)
    check_architecture(meta, cfg, cfg.resume)
    check_schedule(meta, cfg, cfg.resume)
    state = restore(net, opt, arrays, meta)
    if state.epoch >= cfg.epochs:
        raise UsageError(f"--epochs {cfg.epochs}: the checkpoint {cfg.resume} has already trained {state.epoch} "
                         "epochs; --epochs counts the total, so ask for more")
    return state


def main(cfg: TrainConfig):
    """Train as cfg says, print the tutorial's output, and return {"config": …, "epochs": [metrics …]}."""
    check_request(cfg)
    xp = xp_for_device(cfg.device)
    net, opt = build(cfg, xp)
    use_fused = wants_fused(cfg, net, opt, xp)
    (x_train, y_train), (x_test, y_test) = load_data(cfg, xp)
    check_batch_size(cfg, len(x_train))
    if cfg.plot_samples:
        from scratchnet.plot import plot_samples

        plot_samples(x_train, y_train, cfg.plot_samples, seed=cfg.seed)
    schedule = build_schedule(cfg, batches_per_epoch(len(x_train), cfg.batch_size))
    rng = np.random.default_rng(cfg.seed)  # the batch sampler's own stream
    state = start_or_resume(cfg, net, opt, rng)
    fused = make_fused_step(cfg, net, opt, xp) if use_fused else None
    metrics = {"config": asdict(cfg), "engine": "scratchnet", "epochs": state.metrics}
    # NumPy's overflow warnings would only repeat, in many lines, what the divergence check says in one.
    with InterruptFlag() as interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(state.epoch + 1, cfg.epochs + 1):
            print(f"Epoch {t}\n-------------------------------")
            progress = Progress(batches_per_epoch(len(x_train), cfg.batch_size), f"epoch {t}/{cfg.epochs}")
            rng.bit_generator.state = state.sampler_state  # the epoch's batches, as first drawn
            start = time.perf_counter()
            train_loss = train_epoch(net, opt, fused, schedule, x_train, y_train, cfg, rng, state, progress, interrupt)
            seconds = time.perf_counter() - start
            progress.close()
            accuracy, test_loss = evaluate(net, x_test, y_test, cfg.batch_size)
            print(f"Test Error: \n Accuracy: {(100 * accuracy):>0.1f}%, Avg loss: {test_loss:>8f} \n")
            metrics["epochs"].append({"epoch": t, "train_loss": train_loss, "test_loss": test_loss,
                                      "test_accuracy": accuracy, "seconds": seconds,
                                      "samples_per_second": len(x_train) / seconds})
            state.epoch, state.step, state.loss_sum = t, 0, 0.0
            state.sampler_state = rng.bit_generator.state
            if cfg.save:
                save_checkpoint(cfg.save, net, opt, cfg, state)
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
    parser = build_parser(PROG, __doc__)
    cfg = config_from_argv(parser, argv)
    if cfg.resume:
        cfg = resumed_config(cfg.resume, given_flags(parser, argv))
    return main(cfg)


if __name__ == "__main__":
    run_cli(cli, sys.argv[1:])
