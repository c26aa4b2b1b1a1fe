"""The training configuration and its command line, shared by scratchnet.train and torch_ref.train.

One dataclass, one `add_argument` per field, every flag with its help, kebab-case flags.
"""

import argparse
import math
from dataclasses import dataclass

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.errors import UsageError
from scratchnet.losses import LOSSES
from scratchnet.sampling import SAMPLING


@dataclass
class TrainConfig:
    epochs: int = 5                    # E, passes over the training set
    batch_size: int = 64               # m, samples per gradient step
    lr: float = 1e-3                   # α, the learning rate
    momentum: float = 0.0              # μ, SGD momentum (0: plain SGD)
    weight_decay: float = 0.0          # λ, L2 penalty added to the gradient
    hidden: tuple = (512, 512)         # n_2 … n_{L−1}, hidden layer widths
    activation: str = "relu"           # σ of the hidden layers
    loss: str = "cross-entropy"        # C, the cost
    dtype: str = "float32"             # floating point type of parameters and activations
    seed: int = 0                      # seeds the initial W, b and the batch sampler
    sampling: str = "sequential"       # minibatch scheme (scratchnet.sampling)
    device: str = "cpu"                # where the arrays live
    data_dir: str = "data"             # holds MNIST/raw/, fetched there when missing
    train_size: int = 0                # N, use the first N training samples (0: all 60000)
    test_size: int = 0                 # use the first N test samples (0: all 10000)
    metrics_out: str = ""              # per-epoch metrics as JSON ("" : none)
    plot: str = ""                     # loss and accuracy curves as PNG ("" : none)
    plot_samples: str = ""             # x^{i}, y^{i} grids as PNG: training samples, test predictions ("" : none)
    save: str = ""                     # checkpoint written at the end of every epoch ("" : none)
    save_every: int = 0                # also every this many steps (0: at epoch ends only)
    resume: str = ""                   # checkpoint to continue from ("" : start afresh)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (the problem and where to look), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(prog, description):
    """The parser for every TrainConfig field; callers may add flags of their own before parsing."""
    d = TrainConfig()
    p = OneLineParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the training set (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"minibatch size m (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate α > 0 (default {d.lr:g})")
    p.add_argument("--momentum", type=float, default=d.momentum,
                   help="SGD momentum μ in [0, 1), torch.optim.SGD's rule (default 0: plain SGD)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help="L2 weight decay λ ≥ 0 added to the gradient (default 0)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(d.hidden), metavar="WIDTH",
                   help="hidden layer widths n_2 … n_{L-1} (default 512 512: the tutorial's 784-512-512-10)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default=d.activation,
                   help=f"σ of the hidden layers (default {d.activation})")
    p.add_argument("--loss", choices=LOSSES, default=d.loss,
                   help="cost: cross-entropy on the logits, or the tutorial's quadratic cost ½‖y − σ(z^[L])‖² "
                        f"(default {d.loss})")
    p.add_argument("--dtype", choices=("float32", "float64"), default=d.dtype, help=f"(default {d.dtype})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"seeds the initial weights and the sampler (default {d.seed})")
    p.add_argument("--sampling", choices=SAMPLING, default=d.sampling,
                   help="minibatches in dataset order (the tutorial's DataLoader), shuffled each epoch, "
                        f"or drawn with replacement (default {d.sampling})")
    p.add_argument("--device", choices=("cpu", "cuda"), default=d.device,
                   help=f"where arrays live (default {d.device})")
    p.add_argument("--data-dir", default=d.data_dir,
                   help=f"folder holding MNIST/raw/; MNIST is fetched there when missing (default {d.data_dir})")
    p.add_argument("--train-size", type=int, default=d.train_size, metavar="N",
                   help="train on the first N samples only (default: all 60000)")
    p.add_argument("--test-size", type=int, default=d.test_size, metavar="N",
                   help="test on the first N samples only (default: all 10000)")
    p.add_argument("--metrics-out", default=d.metrics_out, metavar="FILE.json",
                   help="write per-epoch train loss, test loss, accuracy, seconds and samples/s as JSON")
    p.add_argument("--plot", default=d.plot, metavar="FILE.png",
                   help="draw loss and accuracy per epoch (needs matplotlib: pip install 'scratchnet[plot]')")
    p.add_argument("--plot-samples", default=d.plot_samples, metavar="FILE.png",
                   help="draw 9 training images with their labels before training into FILE.png, and after it "
                        "the first test images with predicted and true labels, errors in red, into "
                        "FILE_predictions.png (needs matplotlib; torch_ref ignores it)")
    p.add_argument("--save", default=d.save, metavar="FILE.npz",
                   help="write a checkpoint (parameters, optimizer state, sampler state, config, metrics) at the "
                        "end of every epoch, atomically; Ctrl-C saves there too")
    p.add_argument("--save-every", type=int, default=d.save_every, metavar="N",
                   help="with --save, also write the checkpoint every N steps (default 0: at epoch ends only)")
    p.add_argument("--resume", default=d.resume, metavar="FILE.npz",
                   help="continue exactly where the checkpoint stopped, with its settings unless a flag is given; "
                        "--epochs counts the total, so --epochs 5 on an epoch-2 checkpoint trains 3 more")
    return p


def given_flags(parser, argv):
    """The TrainConfig fields that argv sets explicitly, with their values (the others are left out)."""
    unset = object()  # argparse fills in a default only where the namespace has no value yet
    fields = TrainConfig.__dataclass_fields__
    args = parser.parse_args(argv, namespace=argparse.Namespace(**{name: unset for name in fields}))
    return {name: value for name, value in vars(args).items() if name in fields and value is not unset}


def config_from_args(args):
    """The TrainConfig held by parsed `args` (extra flags a caller added are ignored)."""
    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{name: getattr(args, name) for name in fields})
    cfg.hidden = tuple(cfg.hidden)
    return cfg


def validate(cfg):
    """Raise UsageError naming the first value out of range; the numbers of a run must make sense."""
    flag = {name: "--" + name.replace("_", "-") for name in TrainConfig.__dataclass_fields__}
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) < 1:
            raise UsageError(f"{flag[name]} must be at least 1, got {getattr(cfg, name)}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise UsageError(f"--lr must be a positive number, got {cfg.lr}")
    if not (math.isfinite(cfg.momentum) and 0 <= cfg.momentum < 1):
        raise UsageError(f"--momentum must be in [0, 1), got {cfg.momentum}")
    if not (math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0):
        raise UsageError(f"--weight-decay must be ≥ 0, got {cfg.weight_decay}")
    if not cfg.hidden:
        raise UsageError("--hidden needs at least one width, e.g. --hidden 512 512")
    if min(cfg.hidden) < 1:
        raise UsageError(f"--hidden widths must be at least 1, got {' '.join(map(str, cfg.hidden))}")
    if cfg.save_every < 0:
        raise UsageError(f"--save-every must be ≥ 0, got {cfg.save_every}")
    if cfg.save_every and not cfg.save:
        raise UsageError("--save-every needs --save FILE.npz to know where to write")
    for name in ("train_size", "test_size"):
        if getattr(cfg, name) < 0:
            raise UsageError(f"{flag[name]} must be ≥ 0 (0 means all), got {getattr(cfg, name)}")
