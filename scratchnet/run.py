"""Run control: what happens around the training loop (scratchnet.loop) so that no work is ever lost.

Before any work, `check_request` refuses a run that could not finish. `start_or_resume` loads a --resume
checkpoint. While the loop runs, `RunControl` draws the progress bar, saves --save-every checkpoints, and
turns Ctrl-C into a checkpoint and the command that resumes it; after each epoch it records the metrics and
saves. `run` puts these around the loop, and turns a divergence into one line that says where and what to do.
"""

import os
import signal
import time
from dataclasses import asdict

import numpy as np

from scratchnet.checkpoint import (
    RunState,
    check_architecture,
    check_schedule,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from scratchnet.config import validate
from scratchnet.console import Progress
from scratchnet.errors import DivergenceError, ScratchnetError, UsageError
from scratchnet.fileio import check_writable
from scratchnet.loop import train
from scratchnet.metrics import epoch_record, write_metrics
from scratchnet.plot import predictions_path, require_matplotlib
from scratchnet.sampling import batches_per_epoch

PROG = "python -m scratchnet.train"
INTERRUPTED_PATH = os.path.join("runs", "interrupted.npz")  # where Ctrl-C saves when there is no --save


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


def check_request(cfg):
    """Refuse, before any work, a run that could not finish: bad values, unwritable outputs, no matplotlib."""
    validate(cfg)
    outputs = [(cfg.metrics_out, "--metrics-out"), (cfg.plot, "--plot"), (cfg.plot_samples, "--plot-samples"),
               (cfg.save, "--save")]
    for path, flag in outputs:
        if path:
            check_writable(path, flag)
    if cfg.plot or cfg.plot_samples:
        require_matplotlib("--plot" if cfg.plot else "--plot-samples")
        if cfg.plot_samples:
            check_writable(predictions_path(cfg.plot_samples), "--plot-samples")


def start_or_resume(cfg, net, opt):
    """A fresh RunState (the batch sampler seeded from cfg.seed), or the one of cfg.resume with its parameters
    and optimizer state loaded into net and opt."""
    if not cfg.resume:
        return RunState(sampler_state=np.random.default_rng(cfg.seed).bit_generator.state)
    arrays, meta = load_checkpoint(cfg.resume)
    check_architecture(meta, cfg, cfg.resume)
    check_schedule(meta, cfg, cfg.resume)
    state = restore(net, opt, arrays, meta)
    if state.epoch >= cfg.epochs:
        raise UsageError(f"--epochs {cfg.epochs}: the checkpoint {cfg.resume} has already trained {state.epoch} "
                         "epochs; --epochs counts the total, so ask for more")
    return state


def metrics_of(cfg, state):
    """What main returns and --metrics-out holds: {"config": …, "engine": "scratchnet", "epochs": [metrics …]}."""
    return {"config": asdict(cfg), "engine": "scratchnet", "epochs": state.metrics}


class RunControl:
    """The loop's `control`: the progress bar, --save-every checkpoints and Ctrl-C during an epoch; the
    metrics, the checkpoint and --metrics-out after it."""

    def __init__(self, cfg, step, N, state, interrupt):
        self.cfg, self.step, self.N, self.state, self.interrupt = cfg, step, N, state, interrupt

    def start_epoch(self, t):
        self.progress = Progress(batches_per_epoch(self.N, self.cfg.batch_size), f"epoch {t}/{self.cfg.epochs}")
        self.start = time.perf_counter()

    def print(self, line):
        self.progress.print(line)

    def after_step(self, step):
        cfg, state = self.cfg, self.state
        self.progress.update(state.step)
        if cfg.save_every and state.step % cfg.save_every == 0:
            step.check()
            save_checkpoint(cfg.save, step.net, step.opt, cfg, state)
        if self.interrupt.requested:
            step.check()
            self.save_and_stop()

    def end_batches(self):
        self.seconds = time.perf_counter() - self.start
        self.progress.close()

    def end_epoch(self, t, train_loss, test_loss, accuracy):
        cfg = self.cfg
        self.state.metrics.append(epoch_record(t, train_loss, test_loss, accuracy, self.seconds, self.N))
        if cfg.save:
            save_checkpoint(cfg.save, self.step.net, self.step.opt, cfg, self.state)
        if cfg.metrics_out:
            write_metrics(metrics_of(cfg, self.state), cfg.metrics_out)

    def save_and_stop(self):
        """Save where Ctrl-C stopped the run, then stop with the command that resumes it."""
        path, state = self.cfg.save or INTERRUPTED_PATH, self.state
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        save_checkpoint(path, self.step.net, self.step.opt, self.cfg, state)
        raise InterruptError(f"interrupted in epoch {state.epoch + 1} after step {state.step}: saved {path}; "
                             f"resume with: {PROG} --resume {path}")


def run(cfg, step, splits, state):
    """scratchnet.loop.train under run control, from `state` on; a divergence becomes one line saying where."""
    N = len(splits[0][0])
    # NumPy's overflow warnings would only repeat, in many lines, what the divergence check says in one.
    with InterruptFlag() as interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            train(step, step.net, splits, cfg, state, RunControl(cfg, step, N, state, interrupt))
        except DivergenceError as e:
            batch = e.t - state.epoch * batches_per_epoch(N, cfg.batch_size)  # opt.t = epochs × ⌈N/m⌉ + step
            saved = cfg.save if cfg.save and os.path.exists(cfg.save) else "none yet"
            raise ScratchnetError(f"epoch {state.epoch + 1}, step {batch}: {e.what}; the learning rate may be too "
                                  f"high (--lr {cfg.lr:g}); last good checkpoint: {saved}") from None
