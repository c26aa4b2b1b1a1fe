"""What a run may ask for: `check_request` refuses, before any work, a run that could not finish.

Each `check_*` raises UsageError naming the first value out of range (or the output that cannot be written,
the model that does not fit in memory) and what to do instead.
"""

import math

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.checks import check_seed
from scratchnet.errors import UsageError
from scratchnet.fast.threads import parse_threads
from scratchnet.losses import LOSSES
from scratchnet.mnist.load import MNIST_FILES
from scratchnet.optim import check_hyperparameters
from scratchnet.run.config import DEVICES, DTYPES, OPTIMIZERS, RECIPES, STEPS, TrainConfig, samples_used
from scratchnet.run.plot import predictions_path, require_matplotlib
from scratchnet.sampling import SAMPLING
from scratchnet.schedules import SCHEDULES
from scratchnet.shell.fileio import check_outputs
from scratchnet.shell.memory import check_memory, memory_needed


def check_request(cfg):
    """Refuse, before any work, a run that could not finish: bad values, a model too big for the memory, outputs
    that cannot be written or would overwrite each other or the checkpoint resumed, no matplotlib."""
    check_values(cfg)
    check_batch_size(cfg, samples_used(cfg, "train"))
    check_model_fits(cfg)
    check_outputs([(cfg.metrics_out, "--metrics-out"), (cfg.plot, "--plot"), (cfg.plot_samples, "--plot-samples"),
                   (cfg.plot_samples and predictions_path(cfg.plot_samples), "--plot-samples (its predictions grid)"),
                   (cfg.save, "--save")],
                  inputs=[(cfg.resume, "--resume", "--save")])
    if cfg.plot or cfg.plot_samples:
        require_matplotlib("--plot" if cfg.plot else "--plot-samples")


def check_batch_size(cfg, N):
    """A batch cannot hold more samples than the N there are."""
    if cfg.batch_size > N:
        raise UsageError(f"--batch-size {cfg.batch_size} is larger than the {N} training samples")


def check_values(cfg):
    """Raise UsageError naming the first value out of range; the numbers of a run must make sense."""
    flag = {name: "--" + name.replace("_", "-") for name in TrainConfig.__dataclass_fields__}
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) < 1:
            raise UsageError(f"{flag[name]} must be at least 1, got {getattr(cfg, name)}")
    check_optimizer_settings(cfg)
    if not (math.isfinite(cfg.dropout) and 0 <= cfg.dropout < 1):
        raise UsageError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    check_schedule_settings(cfg)
    if not cfg.hidden:
        raise UsageError("--hidden needs at least one width, e.g. --hidden 512 512")
    if min(cfg.hidden) < 1:
        raise UsageError(f"--hidden widths must be at least 1, got {' '.join(map(str, cfg.hidden))}")
    if cfg.save_every < 0:
        raise UsageError(f"--save-every must be ≥ 0, got {cfg.save_every}")
    if cfg.save_every and not cfg.save:
        raise UsageError("--save-every needs --save FILE.npz to know where to write")
    check_seed(cfg.seed, name="--seed")
    for name, split in (("train_size", "train"), ("test_size", "test")):
        total = MNIST_FILES[split, "images"].count
        if not 0 <= getattr(cfg, name) <= total:  # more than MNIST holds is refused, not cut down to it
            raise UsageError(f"{flag[name]} must be in [0, {total}] (0 means all {total}), got {getattr(cfg, name)}")
    for name, choices in (("activation", HIDDEN_ACTIVATIONS), ("loss", LOSSES), ("dtype", DTYPES),
                          ("sampling", SAMPLING), ("device", DEVICES)):
        if getattr(cfg, name) not in choices:
            raise UsageError(f"unknown {name} {getattr(cfg, name)!r}: use one of {', '.join(choices)}")
    if cfg.recipe and cfg.recipe not in RECIPES:
        raise UsageError(f"unknown recipe {cfg.recipe!r}: use one of {', '.join(RECIPES)}")
    if cfg.step not in STEPS:
        raise UsageError(f"unknown step {cfg.step!r}: use one of {', '.join(STEPS)}")
    parse_threads(str(cfg.threads))


def check_optimizer_settings(cfg):
    """The optimizer's own settings: each flag belongs to the optimizers that read it."""
    if cfg.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {cfg.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    check_hyperparameters(cfg.lr, cfg.momentum, cfg.weight_decay, cfg.betas, cfg.eps,
                          name=lambda name: "--" + name.replace("_", "-"))
    if cfg.optimizer != "sgd" and cfg.momentum:
        raise UsageError(f"--momentum is SGD's; --optimizer {cfg.optimizer} takes its momentum β₁ from --betas")
    if cfg.nesterov and not (cfg.optimizer == "sgd" and cfg.momentum > 0):
        raise UsageError("--nesterov needs --optimizer sgd and --momentum > 0")


def check_schedule_settings(cfg):
    """The schedule's own settings."""
    if cfg.schedule not in SCHEDULES:
        raise UsageError(f"unknown schedule {cfg.schedule!r}: use one of {', '.join(SCHEDULES)}")
    if cfg.lr_step_epochs < 1:
        raise UsageError(f"--lr-step-epochs must be at least 1, got {cfg.lr_step_epochs}")
    if not (math.isfinite(cfg.lr_gamma) and cfg.lr_gamma > 0):
        raise UsageError(f"--lr-gamma must be a positive number, got {cfg.lr_gamma}")


def check_model_fits(cfg):
    """check_memory for the run cfg describes: its network, optimizer state, batch and data set."""
    sizes = [784, *cfg.hidden, 10]
    copies = 3 if cfg.optimizer != "sgd" else 1 + (cfg.momentum > 0)
    samples = samples_used(cfg, "train") + samples_used(cfg, "test")
    check_memory(memory_needed(sizes, cfg.dtype, cfg.batch_size, copies, samples),
                 f"--hidden {' '.join(map(str, cfg.hidden))}: the model {'-'.join(map(str, sizes))} in {cfg.dtype} "
                 f"with {cfg.optimizer}, batch {cfg.batch_size}",
                 "choose smaller --hidden widths")
