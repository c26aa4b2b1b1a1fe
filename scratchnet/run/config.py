"""The training configuration: one dataclass, TrainConfig, shared by scratchnet.train and torch_ref.train.

A trailing comment on each field names its symbol. A recipe is a named TrainConfig (RECIPES); `--recipe NAME`
starts from it (scratchnet.run.flags turns a command line into a TrainConfig, scratchnet.run.request refuses
values out of range).
"""

from dataclasses import dataclass

from scratchnet.mnist.load import MNIST_FILES
from scratchnet.sampling import batches_per_epoch

OPTIMIZERS = ("sgd", "adam", "adamw")
STEPS = ("auto", "reference", "fused")
DTYPES = ("float32", "float64")
DEVICES = ("cpu", "cuda", "auto")


@dataclass
class TrainConfig:
    epochs: int = 5                    # E, passes over the training set
    batch_size: int = 64               # m, samples per gradient step
    lr: float = 1e-3                   # α, the learning rate (the peak α_max under --schedule onecycle)
    optimizer: str = "sgd"             # the update rule (scratchnet.optim): sgd, adam or adamw
    momentum: float = 0.0              # μ, SGD momentum (0: plain SGD)
    nesterov: bool = False             # SGD: Nesterov momentum, g ← g + μ v_t
    weight_decay: float = 0.0          # λ, L2 penalty added to the gradient (AdamW: θ ← (1 − αλ)θ instead)
    betas: tuple = (0.9, 0.999)        # β₁, β₂, the moment decay rates of Adam and AdamW
    eps: float = 1e-8                  # ε of Adam and AdamW
    dropout: float = 0.0               # p, the probability of dropping a hidden unit while training
    schedule: str = "none"             # α_t (scratchnet.schedules): none, step, cosine or onecycle
    lr_step_epochs: int = 2            # step schedule: epochs between two decays of α
    lr_gamma: float = 0.1              # step schedule: γ, the factor of each decay
    hidden: tuple = (512, 512)         # n_2 … n_{L−1}, hidden layer widths
    activation: str = "relu"           # σ of the hidden layers
    loss: str = "cross-entropy"        # C, the cost
    dtype: str = "float32"             # floating point type of parameters and activations
    seed: int = 0                      # seeds the initial W, b, the batch sampler and the dropout masks
    sampling: str = "sequential"       # minibatch scheme (scratchnet.sampling)
    device: str = "cpu"                # where the arrays live
    step: str = "auto"                 # the training step: reference, fused, or auto (fused when the model allows)
    threads: str = "auto"              # numpy's BLAS threads (torch_ref: torch's): N, or auto (all the cores but one)
    data_dir: str = "data"             # holds MNIST/raw/, fetched there when missing
    train_size: int = 0                # N, use the first N training samples (0: all 60000)
    test_size: int = 0                 # use the first N test samples (0: all 10000)
    metrics_out: str = ""              # per-epoch metrics as JSON ("" : none)
    plot: str = ""                     # loss and accuracy curves as PNG ("" : none)
    plot_samples: str = ""             # x^{i}, y^{i} grids as PNG: training samples, test predictions ("" : none)
    save: str = ""                     # checkpoint written at the end of every epoch ("" : none)
    save_every: int = 0                # also every this many steps (0: at epoch ends only)
    resume: str = ""                   # checkpoint to continue from ("" : start afresh)
    recipe: str = ""                   # the preset (RECIPES) these settings started from ("" : none)

    def __post_init__(self):
        self.hidden, self.betas = tuple(self.hidden), tuple(self.betas)  # argparse and JSON give lists


BEST = TrainConfig(epochs=20, batch_size=128, lr=1e-3, optimizer="adamw", weight_decay=1e-2, dropout=0.2,
                   schedule="onecycle", sampling="shuffle", recipe="best")
"""The tutorial's 784-512-512-10 trained well: ≥ 98.5% test accuracy in under 3 minutes on 2 CPU cores."""

RECIPES = {"best": BEST}


def describe(cfg):
    """The flags that make `cfg` differ from the defaults, as a command line would give them."""
    d = TrainConfig()
    flags = []
    for name in TrainConfig.__dataclass_fields__:
        value = getattr(cfg, name)
        flag = "--" + name.replace("_", "-")
        if name == "recipe" or value == getattr(d, name):
            continue
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags.append(f"{flag} {' '.join(map(str, value)) if isinstance(value, tuple) else value}")
    return " ".join(flags)


def samples_used(cfg, split):
    """N, the samples of MNIST's split ("train" or "test") that cfg uses: all for a size of 0, at most all."""
    total = MNIST_FILES[split, "images"].count
    size = cfg.train_size if split == "train" else cfg.test_size
    return min(size or total, total)


def batches_per_epoch_of(cfg):
    """⌈N/m⌉: the steps of one epoch of the run cfg describes (N = samples_used(cfg, "train"), m = batch size)."""
    return batches_per_epoch(samples_used(cfg, "train"), cfg.batch_size)
