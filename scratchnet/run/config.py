"""The training configuration and its command line, shared by scratchnet.train and torch_ref.train.

One dataclass, one `add_argument` per field, every flag with its help, kebab-case flags. A recipe is a
named TrainConfig (RECIPES); `--recipe NAME` starts from it, and the flags given beside it override it.
"""

import argparse
import math
from dataclasses import dataclass, replace

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.checks import check_seed
from scratchnet.errors import UsageError
from scratchnet.fast.threads import parse_threads
from scratchnet.losses import LOSSES
from scratchnet.mnist.load import MNIST_FILES
from scratchnet.optim import check_hyperparameters
from scratchnet.sampling import SAMPLING
from scratchnet.schedules import SCHEDULES
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.memory import check_memory, memory_needed

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


_NO_CHECKPOINTS = "; --save, --save-every and --resume are python -m scratchnet.train's: torch_ref saves nothing"
SCRATCHNET_ONLY = {"--save": _NO_CHECKPOINTS, "--resume": _NO_CHECKPOINTS,  # --save matches --save-every too
                   "--plot-samples": "; --plot-samples is python -m scratchnet.train's: torch_ref draws no samples",
                   "--step": "; --step is python -m scratchnet.train's: torch_ref has one training step",
                   "'auto'": "; --device auto is python -m scratchnet.train's: give torch_ref cpu or cuda"}


def build_parser(prog, description, scratchnet_flags=True, devices=DEVICES):
    """The parser for the TrainConfig fields; callers may add flags of their own before parsing.

    torch_ref leaves out what only scratchnet.train does (scratchnet_flags=False: --step, --plot-samples,
    --save, --save-every, --resume) and the devices it cannot use, so that --help shows only what works.
    """
    d = TrainConfig()
    p = OneLineParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if not scratchnet_flags:
        p.elsewhere = SCRATCHNET_ONLY
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the training set (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"minibatch size m (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr,
                   help=f"learning rate α > 0; with --schedule onecycle its peak α_max (default {d.lr:g})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
                   help="the update rule: SGD (with --momentum, --nesterov), Adam, or AdamW (Adam with decoupled "
                        f"weight decay), each torch.optim's (default {d.optimizer})")
    p.add_argument("--momentum", type=float, default=d.momentum,
                   help="SGD momentum μ in [0, 1), torch.optim.SGD's rule (default 0: plain SGD)")
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov,
                   help="SGD: Nesterov momentum, stepping along g + μ v_t instead of v_t; needs --momentum > 0 "
                        "(default off)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help="weight decay λ ≥ 0: sgd and adam add λθ to the gradient, adamw shrinks θ by 1 − αλ "
                        "before each step (default 0)")
    p.add_argument("--betas", type=float, nargs=2, default=list(d.betas), metavar=("BETA1", "BETA2"),
                   help="adam, adamw: the decay rates β₁, β₂ in [0, 1) of the first and second moments "
                        f"(default {d.betas[0]:g} {d.betas[1]:g})")
    p.add_argument("--eps", type=float, default=d.eps,
                   help=f"adam, adamw: ε > 0 added to √v̂ in the denominator (default {d.eps:g})")
    p.add_argument("--dropout", type=float, default=d.dropout, metavar="P",
                   help="inverted dropout on the hidden layers while training: each unit kept with probability "
                        "1 − P and scaled by 1/(1 − P); P in [0, 1) (default 0: none)")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule,
                   help="learning rate schedule α_t, set before every step: none (constant α), step (α γ^k after "
                        "k × --lr-step-epochs epochs), cosine (from α down to 0 over the run), onecycle (from α/25 "
                        "up to α over 30%% of the run, then down to α/(25·10⁴)); torch.optim.lr_scheduler's "
                        f"StepLR, CosineAnnealingLR, OneCycleLR (default {d.schedule})")
    p.add_argument("--lr-step-epochs", type=int, default=d.lr_step_epochs, metavar="N",
                   help=f"--schedule step: multiply α by --lr-gamma every N epochs (default {d.lr_step_epochs})")
    p.add_argument("--lr-gamma", type=float, default=d.lr_gamma, metavar="GAMMA",
                   help=f"--schedule step: the factor γ > 0 of each decay (default {d.lr_gamma:g})")
    p.add_argument("--hidden", type=int, nargs="+", default=list(d.hidden), metavar="WIDTH",
                   help="hidden layer widths n_2 … n_{L-1} (default 512 512: the tutorial's 784-512-512-10)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default=d.activation,
                   help=f"σ of the hidden layers (default {d.activation})")
    p.add_argument("--loss", choices=LOSSES, default=d.loss,
                   help="cost: cross-entropy on the logits, or the tutorial's quadratic cost ½‖y − σ(z^[L])‖² "
                        f"(default {d.loss})")
    p.add_argument("--dtype", choices=DTYPES, default=d.dtype, help=f"(default {d.dtype})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"seeds the initial weights, the sampler and the dropout masks: an integer in [0, 2**63 − 1] "
                        f"(default {d.seed})")
    p.add_argument("--sampling", choices=SAMPLING, default=d.sampling,
                   help="minibatches in dataset order (the tutorial's DataLoader), shuffled each epoch, "
                        f"or drawn with replacement (default {d.sampling})")
    where = {"cpu": "cpu (NumPy)", "cuda": "cuda (CuPy, pip install 'scratchnet[gpu]')",
             "auto": "auto (cuda when CuPy sees a GPU, else cpu)"}
    p.add_argument("--device", choices=devices, default=d.device,
                   help=f"where arrays live: {', '.join(where[device] for device in devices)} (default {d.device})")
    if scratchnet_flags:
        p.add_argument("--step", choices=STEPS, default=d.step,
                       help="the training step: reference (network.py's forward and backward, SGD.step: the code to "
                            "read), fused (the same equations on preallocated arrays: on the CPU with the update "
                            "inside numpy's BLAS calls, scratchnet.fast.fused_cpu; one CUDA kernel each on a GPU, "
                            "scratchnet.fast.fused; ReLU, cross-entropy and plain SGD without dropout only), or auto: "
                            f"fused when the model allows, else reference (default {d.step})")
    p.add_argument("--threads", default=d.threads, metavar="N|auto",
                   help="threads of numpy's BLAS (torch_ref: torch's threads): N, or auto, all the cores but one, "
                        "which stays fast when another program takes a core, where all of them can be 5-20 × slower "
                        f"(scratchnet.fast.threads; default {d.threads})")
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
    if scratchnet_flags:
        p.add_argument("--plot-samples", default=d.plot_samples, metavar="FILE.png",
                       help="draw 9 training images with their labels before training into FILE.png, and after it "
                            "the first test images with predicted and true labels, errors in red, into "
                            "FILE_predictions.png (needs matplotlib)")
        p.add_argument("--save", default=d.save, metavar="FILE.npz",
                       help="write a checkpoint (parameters, optimizer state, sampler state, config, metrics) at the "
                            "end of every epoch, atomically; Ctrl-C saves there too")
        p.add_argument("--save-every", type=int, default=d.save_every, metavar="N",
                       help="with --save, also write the checkpoint every N steps (default 0: at epoch ends only)")
        p.add_argument("--resume", default=d.resume, metavar="FILE.npz",
                       help="continue exactly where the checkpoint stopped, with its settings unless a flag is "
                            "given; --epochs counts the total, so --epochs 5 on an epoch-2 checkpoint trains 3 more; "
                            "checkpoints go to FILE.npz itself unless --save names another file")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=d.recipe,
                   help="start from a named preset, which flags given beside it override; best: "
                        + describe(BEST))
    return p


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


def given_flags(parser, argv):
    """The TrainConfig fields that argv sets explicitly, with their values (the others are left out)."""
    unset = object()  # argparse fills in a default only where the namespace has no value yet
    fields = TrainConfig.__dataclass_fields__
    args = parser.parse_args(argv, namespace=argparse.Namespace(**{name: unset for name in fields}))
    return {name: value for name, value in vars(args).items() if name in fields and value is not unset}


def config_from_args(args):
    """The TrainConfig held by parsed `args` (extra flags a caller added are ignored; no recipe applied; a field
    without a flag keeps its default)."""
    d = TrainConfig()
    return TrainConfig(**{name: getattr(args, name, getattr(d, name)) for name in TrainConfig.__dataclass_fields__})


def config_from_argv(parser, argv):
    """The TrainConfig that argv asks for: the defaults, or with --recipe NAME that preset, and the flags given."""
    args = parser.parse_args(argv)
    if not args.recipe:
        return config_from_args(args)
    if getattr(args, "resume", ""):
        raise UsageError("--recipe with --resume: a resumed run takes its settings from the checkpoint; "
                         "drop --recipe")
    return replace(RECIPES[args.recipe], **given_flags(parser, argv))


def check_batch_size(cfg, N):
    """The one check that needs the data: a batch cannot hold more samples than the N there are."""
    if cfg.batch_size > N:
        raise UsageError(f"--batch-size {cfg.batch_size} is larger than the {N} training samples")


def validate(cfg):
    """Raise UsageError naming the first value out of range; the numbers of a run must make sense."""
    flag = {name: "--" + name.replace("_", "-") for name in TrainConfig.__dataclass_fields__}
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) < 1:
            raise UsageError(f"{flag[name]} must be at least 1, got {getattr(cfg, name)}")
    validate_optimizer(cfg)
    if not (math.isfinite(cfg.dropout) and 0 <= cfg.dropout < 1):
        raise UsageError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    validate_schedule(cfg)
    if not cfg.hidden:
        raise UsageError("--hidden needs at least one width, e.g. --hidden 512 512")
    if min(cfg.hidden) < 1:
        raise UsageError(f"--hidden widths must be at least 1, got {' '.join(map(str, cfg.hidden))}")
    if cfg.save_every < 0:
        raise UsageError(f"--save-every must be ≥ 0, got {cfg.save_every}")
    if cfg.save_every and not cfg.save:
        raise UsageError("--save-every needs --save FILE.npz to know where to write")
    check_seed(cfg.seed, name="--seed")
    for name in ("train_size", "test_size"):
        if getattr(cfg, name) < 0:
            raise UsageError(f"{flag[name]} must be ≥ 0 (0 means all), got {getattr(cfg, name)}")
    for name, choices in (("activation", HIDDEN_ACTIVATIONS), ("loss", LOSSES), ("dtype", DTYPES),
                          ("sampling", SAMPLING), ("device", DEVICES)):
        if getattr(cfg, name) not in choices:
            raise UsageError(f"unknown {name} {getattr(cfg, name)!r}: use one of {', '.join(choices)}")
    if cfg.recipe and cfg.recipe not in RECIPES:
        raise UsageError(f"unknown recipe {cfg.recipe!r}: use one of {', '.join(RECIPES)}")
    if cfg.step not in STEPS:
        raise UsageError(f"unknown step {cfg.step!r}: use one of {', '.join(STEPS)}")
    parse_threads(str(cfg.threads))


def validate_optimizer(cfg):
    """The optimizer's own settings: each flag belongs to the optimizers that read it."""
    if cfg.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {cfg.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    check_hyperparameters(cfg.lr, cfg.momentum, cfg.weight_decay, cfg.betas, cfg.eps,
                          name=lambda name: "--" + name.replace("_", "-"))
    if cfg.optimizer != "sgd" and cfg.momentum:
        raise UsageError(f"--momentum is SGD's; --optimizer {cfg.optimizer} takes its momentum β₁ from --betas")
    if cfg.nesterov and not (cfg.optimizer == "sgd" and cfg.momentum > 0):
        raise UsageError("--nesterov needs --optimizer sgd and --momentum > 0")


def validate_schedule(cfg):
    if cfg.schedule not in SCHEDULES:
        raise UsageError(f"unknown schedule {cfg.schedule!r}: use one of {', '.join(SCHEDULES)}")
    if cfg.lr_step_epochs < 1:
        raise UsageError(f"--lr-step-epochs must be at least 1, got {cfg.lr_step_epochs}")
    if not (math.isfinite(cfg.lr_gamma) and cfg.lr_gamma > 0):
        raise UsageError(f"--lr-gamma must be a positive number, got {cfg.lr_gamma}")


def samples_used(cfg, split):
    """N, the samples of MNIST's split ("train" or "test") that cfg uses: all for a size of 0, at most all."""
    total = MNIST_FILES[split, "images"].count
    size = cfg.train_size if split == "train" else cfg.test_size
    return min(size or total, total)


def check_model_fits(cfg):
    """check_memory for the run cfg describes: its network, optimizer state, batch and data set."""
    sizes = [784, *cfg.hidden, 10]
    copies = 3 if cfg.optimizer != "sgd" else 1 + (cfg.momentum > 0)
    samples = samples_used(cfg, "train") + samples_used(cfg, "test")
    check_memory(memory_needed(sizes, cfg.dtype, cfg.batch_size, copies, samples),
                 f"--hidden {' '.join(map(str, cfg.hidden))}: the model {'-'.join(map(str, sizes))} in {cfg.dtype} "
                 f"with {cfg.optimizer}, batch {cfg.batch_size}",
                 "choose smaller --hidden widths")
