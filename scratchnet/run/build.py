"""The network, optimizer and learning-rate schedule that a TrainConfig describes (shared with torch_ref)."""

from scratchnet.network import Network
from scratchnet.optim import SGD, Adam, AdamW
from scratchnet.schedules import Cosine, OneCycle, StepDecay


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
