"""Run control: what happens around the training loop (scratchnet.loop) so that no work is ever lost.

What comes before is elsewhere: scratchnet.run.request refuses a run that could not finish, and
scratchnet.run.build builds it (a --resume checkpoint loaded). While the loop runs, `RunControl` draws the
progress bar, saves --save-every checkpoints, and turns a signal (Ctrl-C, SIGTERM, SIGHUP:
scratchnet.shell.signals) into a checkpoint and the command that resumes it; after each epoch it records the
metrics and saves. A checkpoint that the disk refuses is saved in the temporary folder instead, or the message
says it could not be. `train_under_control` puts these around the loop, and turns a divergence into one line
that says where and why.
"""

import contextlib
import os
import shlex
import tempfile
import time

import numpy as np

from scratchnet.errors import DivergenceError, ScratchnetError
from scratchnet.loop import train
from scratchnet.run.checkpoint import save_checkpoint
from scratchnet.run.config import batches_per_epoch_of
from scratchnet.run.metrics import epoch_record, run_metrics, write_metrics
from scratchnet.shell.console import Progress
from scratchnet.shell.fileio import WriteError
from scratchnet.shell.signals import InterruptError, InterruptFlag, Stopped, stopped_by

PROG = "python -m scratchnet.train"
INTERRUPTED_PATH = os.path.join("runs", "interrupted.npz")  # where a signal saves when there is no --save


def resume_command(path):
    """The command that continues the run saved at `path`, quoted for a shell (spaces, quotes and all)."""
    return f"{PROG} --resume {shlex.quote(path)}"


def unused_path(path):
    """`path`, or path-2, path-3, … the first that names no file: never over an earlier run's checkpoint."""
    stem, ext = os.path.splitext(path)
    n = 1
    while os.path.lexists(path):
        n += 1
        path = f"{stem}-{n}{ext}"
    return path


class RunControl:
    """The loop's `control`: the progress bar, --save-every checkpoints and Ctrl-C during an epoch; the
    metrics, the checkpoint and --metrics-out after it."""

    def __init__(self, run, N, interrupt):
        self.run, self.cfg, self.step, self.state = run, run.cfg, run.step, run.state
        self.N, self.interrupt = N, interrupt
        self.saved = None  # (path, epoch, step) of the last checkpoint written

    def start_epoch(self, epoch):
        self.progress = Progress(batches_per_epoch_of(self.cfg), f"epoch {epoch}/{self.cfg.epochs}")
        self.start = time.perf_counter()

    def print(self, line):
        self.progress.print(line)

    def after_step(self):
        cfg, state = self.cfg, self.state
        self.progress.update(state.batch)
        if cfg.save_every and state.batch % cfg.save_every == 0:
            self.step.sync()
            self.save(cfg.save)
        if self.interrupt.requested:
            self.step.sync()
            self.save_and_stop(f"in epoch {state.epoch + 1} after step {state.batch}")

    def end_batches(self):
        self.seconds = time.perf_counter() - self.start
        self.progress.close()

    def end_epoch(self, epoch, train_loss, test_loss, accuracy):
        cfg = self.cfg
        self.state.metrics.append(epoch_record(epoch, train_loss, test_loss, accuracy, self.seconds, self.N))
        if cfg.save:
            self.save(cfg.save)
        if cfg.metrics_out:
            write_metrics(run_metrics(cfg, "scratchnet", self.state.metrics), cfg.metrics_out)
        if self.interrupt.requested:  # it came during the test, or while saving: honoured here
            self.save_and_stop(f"after epoch {epoch}")

    def save(self, path):
        """Write the checkpoint, whole, to `path`; a signal waits for it. When the disk refuses, write it in the
        temporary folder instead and stop, saying where it is (or that it could not be saved at all)."""
        with self.interrupt.writing():
            try:
                save_checkpoint(path, self.run.net, self.run.opt, self.cfg, self.state)
            except WriteError as e:
                raise ScratchnetError(f"{e}; {self.rescue()}") from None
        self.saved = (path, self.state.epoch, self.state.batch)

    def rescue(self):
        """Save the run in a new file of the temporary folder; say where and how to resume, or why it failed."""
        try:
            fd, spare = tempfile.mkstemp(prefix="scratchnet-rescue-", suffix=".npz")
            os.close(fd)
        except OSError as e:
            return f"the run's state could not be saved elsewhere either ({e.strerror})"
        try:
            save_checkpoint(spare, self.run.net, self.run.opt, self.cfg, self.state)
        except WriteError as e:
            with contextlib.suppress(OSError):
                os.unlink(spare)
            return f"the run's state could not be saved elsewhere either ({e.reason})"
        return f"the run's state is saved in {spare} instead: resume with: {resume_command(spare)}"

    def save_and_stop(self, where):
        """Save where the signal stopped the run (unless that very state is saved already), then stop with the
        command that resumes it."""
        state = self.state
        path = self.cfg.save or unused_path(INTERRUPTED_PATH)
        if self.saved != (path, state.epoch, state.batch):
            self.save(path)
        signum = self.interrupt.signum
        raise InterruptError(f"{stopped_by(signum)} {where}: saved {path}; resume with: {resume_command(path)}",
                             signum)


def divergence_cause(cfg):
    """What most likely made the loss blow up, read from the settings."""
    decay = cfg.lr * cfg.weight_decay
    if cfg.optimizer != "adam" and decay >= 2:  # SGD and AdamW scale θ by (1 − αλ) every step
        return (f"--lr {cfg.lr:g} × --weight-decay {cfg.weight_decay:g} = {decay:g} ≥ 2, so the decay θ ← (1 − αλ)θ "
                "flips θ's sign and grows it at every step; lower either")
    if cfg.optimizer == "sgd" and cfg.momentum:
        return (f"the learning rate may be too high (--lr {cfg.lr:g}; with --momentum {cfg.momentum:g} a step "
                f"moves up to α/(1 − μ) = {cfg.lr / (1 - cfg.momentum):g} times the gradient)")
    return f"the learning rate may be too high (--lr {cfg.lr:g})"


def train_under_control(run, splits):
    """scratchnet.loop.train of `run` (scratchnet.run.build's Run) under run control, from run.state on; a
    divergence becomes one line saying where and why, a second signal one line saying what the last checkpoint is."""
    cfg, state = run.cfg, run.state
    # NumPy's overflow warnings would only repeat, in many lines, what the divergence check says in one.
    with InterruptFlag() as interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        control = RunControl(run, len(splits[0][0]), interrupt)
        try:
            train(run.step, run.net, splits, cfg, state, control)
        except DivergenceError as e:
            batch = e.t - state.epoch * batches_per_epoch_of(cfg)  # opt.t = epochs × ⌈N/m⌉ + step
            raise ScratchnetError(f"epoch {state.epoch + 1}, step {batch}: {e.what}; {divergence_cause(cfg)}; "
                                  f"last good checkpoint: {last_checkpoint(control)}") from None
        except Stopped as e:
            raise InterruptError(f"{stopped_by(e.signum)} again before the step finished: stopped without saving; "
                                 f"last checkpoint: {last_checkpoint(control)}", e.signum) from None


def last_checkpoint(control):
    """The last checkpoint this run wrote, or the one it resumed from, or 'none yet'."""
    if control.saved:
        return control.saved[0]
    return control.cfg.resume or "none yet"
