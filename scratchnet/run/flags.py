"""The command line of a training run: one `add_argument` per TrainConfig field, every flag with its help,
kebab-case flags, for scratchnet.train and torch_ref (which leaves out the flags only scratchnet.train has).
"""

import argparse
from dataclasses import replace

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.errors import UsageError
from scratchnet.losses import LOSSES
from scratchnet.run.config import BEST, DEVICES, DTYPES, OPTIMIZERS, RECIPES, STEPS, TrainConfig, describe
from scratchnet.sampling import SAMPLING
from scratchnet.schedules import SCHEDULES
from scratchnet.shell.cli import OneLineParser


def build_parser(prog, description, scratchnet_flags=True, devices=DEVICES):
    """The parser for the TrainConfig fields; callers may add flags of their own before parsing.

    torch_ref leaves out what only scratchnet.train does (scratchnet_flags=False: --step, --plot-samples,
    --save, --save-every, --resume) and the devices it cannot use, so that --help shows only what works
    (torch_ref.flags says why, when one is given).
    """
    d = TrainConfig()
    p = OneLineParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_flags(p, d)
    add_model_flags(p, d, devices)
    if scratchnet_flags:
        add_step_flags(p, d)
    add_threads_flag(p, d)
    add_data_flags(p, d)
    if scratchnet_flags:
        add_checkpoint_flags(p, d)
    p.add_argument("--recipe", choices=sorted(RECIPES), default=d.recipe,
                   help="start from a named preset, which flags given beside it override; best: "
                        + describe(BEST))
    return p


def add_training_flags(p, d):
    """The optimizer, dropout and schedule: how the parameters are trained (defaults from d, a TrainConfig)."""
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


def add_model_flags(p, d, devices):
    """The network, its dtype, the seed, the sampling and the devices offered."""
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


def add_step_flags(p, d):
    """scratchnet.train's alone: the training step."""
    p.add_argument("--step", choices=STEPS, default=d.step,
                   help="the training step: reference (network.py's forward and backward, SGD.step: the code to "
                        "read), fused (the same equations on preallocated arrays: on the CPU with the update "
                        "inside numpy's BLAS calls, scratchnet.fast.fused_cpu; one CUDA kernel each on a GPU, "
                        "scratchnet.fast.fused; ReLU, cross-entropy and plain SGD without dropout only), or auto: "
                        f"fused when the model allows, else reference (default {d.step})")


def add_threads_flag(p, d):
    """--threads, scratchnet.train's and torch_ref's alike."""
    p.add_argument("--threads", default=d.threads, metavar="N|auto",
                   help="threads: N, or auto. scratchnet's CPU step cuts each product into pieces fixed by its "
                        "shape and shares them out to N workers (the same digits on any N; auto: every core, a "
                        "busy one takes fewer); elsewhere numpy's BLAS, and torch_ref's torch, run N threads (auto: "
                        "all the cores but one, which stays fast when another program takes a core, where all of "
                        f"them can be 5-20 × slower). scratchnet.fast.threads; default {d.threads}")


def add_data_flags(p, d):
    """The data and what a run writes beside its output: metrics and curves."""
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


def add_checkpoint_flags(p, d):
    """scratchnet.train's alone: the sample pictures and the checkpoints."""
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


