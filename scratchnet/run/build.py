"""A training run, built once from its TrainConfig: `build(cfg) -> Run`.

A Run holds the device's array module, the network, the optimizer (whose α is a schedule of α_t when
--schedule asks for one), where the run stands (a fresh RunState, or the one a --resume checkpoint holds,
loaded into the network and optimizer), and the step it trains with (scratchnet.fast.choose). scratchnet.train,
explain --html's short run, torch_ref.compare and the benchmarks all build their runs here.
"""

from dataclasses import dataclass

from scratchnet.backend import xp_for_device
from scratchnet.fast.choose import make_step, wants_fused
from scratchnet.loop import RunState
from scratchnet.network import Network
from scratchnet.optim import SGD, Adam, AdamW
from scratchnet.run.checkpoint import start_or_resume
from scratchnet.run.config import TrainConfig, batches_per_epoch_of
from scratchnet.sampling import batches_per_epoch
from scratchnet.schedules import Cosine, OneCycle, StepDecay


@dataclass
class Run:
    """What a run trains: cfg, the array module of its device, the network, its optimizer, where the run
    stands, and the step (ReferenceStep, FusedStep or BlasStep) that the loop drives."""

    cfg: TrainConfig
    xp: object
    net: Network
    opt: object    # scratchnet.optim's SGD, Adam or AdamW; it owns α_t and the step count t
    state: RunState
    step: object
    about_step: str = None  # the line scratchnet.train prints about a fused step (None: nothing to say)


def build(cfg, N=None, cuda_graph=True):
    """The run cfg describes, ready to train: resumed from cfg.resume when given, and on the step cfg.step picks.

    N: the training samples, which set a schedule's length (default: those of MNIST that cfg uses).
    cuda_graph: on a GPU, capture the fused step as a CUDA graph (the benchmarks time it without one too).
    """
    xp = xp_for_device(cfg.device)
    net = network(cfg, xp)
    batches = batches_per_epoch_of(cfg) if N is None else batches_per_epoch(N, cfg.batch_size)
    opt = optimizer(cfg, net, learning_rate(cfg, batches))
    fused = wants_fused(cfg, net, opt)
    state = start_or_resume(cfg, net, opt)  # before the step is made: a fused step copies net and opt in
    return Run(cfg, xp, net, opt, state, *make_step(cfg, net, opt, fused, cuda_graph))


def network(cfg, xp):
    """The Network cfg describes, on xp's device: sizes [784, *hidden, 10], W and b drawn from cfg.seed."""
    return Network([784, *cfg.hidden, 10], activation=cfg.activation, loss=cfg.loss,
                   dtype=cfg.dtype, seed=cfg.seed, xp=xp, dropout=cfg.dropout)


def optimizer(cfg, net, lr):
    """cfg's optimizer for net, with `lr` as its α: a number, or a schedule of α_t (learning_rate)."""
    if cfg.optimizer == "sgd":
        return SGD(net, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    if cfg.optimizer == "adam":
        return Adam(net, lr=lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    return AdamW(net, lr=lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def learning_rate(cfg, batches_per_epoch):
    """α for the run cfg describes: cfg.lr itself, or the schedule of α_t over its T = epochs × batches_per_epoch
    steps (α = cfg.lr; optax's schedule-as-learning-rate: the optimizer reads α_t from it)."""
    T = cfg.epochs * batches_per_epoch
    if cfg.schedule == "step":
        return StepDecay(cfg.lr, step_size=cfg.lr_step_epochs * batches_per_epoch, gamma=cfg.lr_gamma)
    if cfg.schedule == "cosine":
        return Cosine(cfg.lr, T)
    if cfg.schedule == "onecycle":
        return OneCycle(cfg.lr, T)
    return cfg.lr
