"""The PyTorch tutorial's MNIST program (the Quickstart), the reference that scratchnet is checked against.

    python -m torch_ref.train                           # 784-512-512-10, ReLU, SGD lr 1e-3, batch 64, 5 epochs: 72.6%
    python -m torch_ref.train --dtype float64 --sampling shuffle --momentum 0.9
    python -m torch_ref.train --recipe best             # AdamW, nn.Dropout(0.2), OneCycleLR, 20 epochs: ~98.6%
    python -m torch_ref.train --metrics-out runs/torch.json --plot runs/torch.png
    python -m torch_ref.train --device cuda             # where torch sees a GPU
    python -m torch_ref.train --threads 2               # torch on 2 threads (default auto: all the cores but one)
    python -m torch_ref.train --init scratchnet --dtype float64   # prints what python -m scratchnet.train prints
    python -m torch_ref.train --help                    # scratchnet.train's flags that torch_ref takes, and --init

`train()` and `test()` are the tutorial's loops and autograd computes every gradient. The flags, the printed
lines and the metrics are scratchnet.train's, so the two runs read side by side: --optimizer picks
torch.optim.SGD, Adam or AdamW, --dropout adds nn.Dropout modules, --schedule picks torch.optim.lr_scheduler's
StepLR, CosineAnnealingLR or OneCycleLR, stepped after every optimizer step. The batches are drawn as
scratchnet.train draws them (scratchnet.sampling, seeded with --seed). The initial weights are torch's own
(`torch.manual_seed(seed)`), or with `--init scratchnet` the very W, b that scratchnet.train draws for the same
--seed (copied by torch_ref.bridge): then, in float64 and without dropout, both programs print the same lines.
The dropout masks are always torch's own: for runs with identical masks, use `python -m torch_ref.compare`.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from scratchnet.errors import DivergenceError, ScratchnetError, UsageError
from scratchnet.loop import LOG_EVERY, epoch_header, loss_line, test_lines
from scratchnet.run.build import network
from scratchnet.run.config import TrainConfig
from scratchnet.run.control import divergence_cause
from scratchnet.run.flags import config_from_argv
from scratchnet.run.metrics import epoch_record, run_metrics, write_metrics
from scratchnet.run.request import check_request as scratchnet_check_request
from scratchnet.sampling import batches_per_epoch
from scratchnet.shell.console import Progress, run_cli
from torch_ref.bridge import TORCH_DTYPES, to_torch
from torch_ref.data import dataloaders, mnist
from torch_ref.flags import torch_ref_parser
from torch_ref.model import NeuralNetwork, loss_function
from torch_ref.threads import TorchThreads


def make_optimizer(model, cfg):
    """torch.optim.SGD (with the run's α, μ, λ, Nesterov), Adam or AdamW (α, β₁, β₂, ε, λ), as cfg.optimizer says."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                             weight_decay=cfg.weight_decay)


def make_scheduler(optimizer, cfg, batches_per_epoch):
    """The torch.optim.lr_scheduler for cfg.schedule over the run's T = epochs × batches_per_epoch steps, or None.

    Stepped after every optimizer step, as scratchnet.train sets α_t before every step. OneCycleLR cycles α only
    (cycle_momentum=False): scratchnet's OneCycle leaves momentum and β₁ alone.
    """
    T = cfg.epochs * batches_per_epoch
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step_epochs * batches_per_epoch,
                                               gamma=cfg.lr_gamma)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=T, cycle_momentum=False)
    return None


@dataclass
class Training:
    """What trains torch's model: the model, its loss function, its optimizer and its scheduler (or None)."""

    model: NeuralNetwork
    loss_fn: Callable
    optimizer: torch.optim.Optimizer
    scheduler: object = None  # a torch.optim.lr_scheduler, stepped after every optimizer step


def training_for(model, cfg, batches_per_epoch):
    """The Training of `model` as cfg says: its loss, optimizer and scheduler over batches_per_epoch steps an epoch."""
    optimizer = make_optimizer(model, cfg)
    return Training(model, loss_function(cfg.loss), optimizer, make_scheduler(optimizer, cfg, batches_per_epoch))


def train_step(training, X, y, r=None):
    """One step as the tutorial takes it: forward, loss, autograd, update, then the scheduler's step.

    r: {l: r^[l]} to use in place of nn.Dropout's own (torch_ref.compare), or None. Returns the batch loss (0-d).
    """
    pred = training.model(X, r)
    loss = training.loss_fn(pred, y)
    loss.backward()
    training.optimizer.step()
    training.optimizer.zero_grad()
    if training.scheduler is not None:
        training.scheduler.step()
    return loss.detach()


def train(dataloader, training, cfg, progress):
    """The tutorial's train(): one pass over dataloader, the loss printed every 100 batches.

    Returns the mean over batches of the batch loss; raises DivergenceError at the first NaN or infinite loss.
    """
    size = len(dataloader.dataset)
    training.model.train()
    total = 0.0
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(cfg.device, TORCH_DTYPES[np.dtype(cfg.dtype)]), y.to(cfg.device)
        loss = train_step(training, X, y)
        if not torch.isfinite(loss):  # as scratchnet.train: stop at once, say where (autograd has stepped on it)
            raise DivergenceError(f"the loss became {loss.item()}", batch + 1)
        total = total + loss
        if batch % LOG_EVERY == 0:
            progress.print(loss_line(loss.item(), batch * cfg.batch_size, size))
        progress.update(batch + 1)
    return float(total) / (batch + 1)


def test(dataloader, model, loss_fn, cfg):
    """The tutorial's test(): accuracy, and the mean over batches of the batch loss (its "Avg loss")."""
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(cfg.device, TORCH_DTYPES[np.dtype(cfg.dtype)]), y.to(cfg.device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    return correct, test_loss


def check_request(cfg):
    """torch_ref's own refusals (flags that are scratchnet.train's alone, a GPU torch cannot see), then
    scratchnet.train's checks before any work."""
    if cfg.plot_samples:
        raise UsageError("--plot-samples is python -m scratchnet.train's; torch_ref does not draw samples")
    if cfg.step != "auto":
        raise UsageError("--step is python -m scratchnet.train's; torch_ref has one training step")
    if cfg.device == "auto":
        raise UsageError("--device auto is python -m scratchnet.train's; give torch_ref --device cpu or cuda")
    if cfg.save or cfg.save_every or cfg.resume:
        raise UsageError("--save, --save-every and --resume are python -m scratchnet.train's; torch_ref does not "
                         "write checkpoints")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA GPU (torch.cuda.is_available() is False); "
                         "use --device cpu")
    scratchnet_check_request(cfg)


INITS = ("torch", "scratchnet")


def initial_model(cfg, init):
    """The tutorial's NeuralNetwork as cfg describes it, with torch's initial W, b (torch.manual_seed(cfg.seed),
    which also seeds the dropout masks) or, for init "scratchnet", those scratchnet.train draws for cfg.seed."""
    torch.manual_seed(cfg.seed)  # the initial W, b and the dropout masks; seed 0: the tutorial model reaches 72.6%
    if init == "scratchnet":
        return to_torch(network(cfg, np), device=cfg.device)
    return NeuralNetwork([784, *cfg.hidden, 10], activation=cfg.activation, loss=cfg.loss,
                         dtype=TORCH_DTYPES[np.dtype(cfg.dtype)], dropout=cfg.dropout).to(cfg.device)


def train_epochs(train_dataloader, test_dataloader, training, cfg):
    """The tutorial's epochs: train(), then test() and its lines, each epoch's record (written to
    cfg.metrics_out as it comes); returns the records."""
    N = len(train_dataloader.dataset)
    records = []
    for epoch in range(1, cfg.epochs + 1):
        print(epoch_header(epoch))
        progress = Progress(batches_per_epoch(N, cfg.batch_size), f"epoch {epoch}/{cfg.epochs}")
        start = time.perf_counter()
        try:
            train_loss = train(train_dataloader, training, cfg, progress)
        except DivergenceError as e:
            raise ScratchnetError(f"epoch {epoch}, step {e.t}: {e.what}; {divergence_cause(cfg)}") from None
        seconds = time.perf_counter() - start
        progress.close()
        accuracy, test_loss = test(test_dataloader, training.model, training.loss_fn, cfg)
        print(test_lines(accuracy, test_loss))
        records.append(epoch_record(epoch, train_loss, test_loss, accuracy, seconds, N))
        if cfg.metrics_out:
            write_metrics(run_metrics(cfg, "torch_ref", records), cfg.metrics_out)
    return records


def main(cfg: TrainConfig, init="torch"):
    """Train as cfg says, from `init`'s initial weights (INITS), print the tutorial's output, and return
    {"config": …, "epochs": [metrics …]}."""
    if init not in INITS:
        raise UsageError(f"unknown --init {init!r}: use one of {', '.join(INITS)}")
    check_request(cfg)
    training_data = mnist(cfg.data_dir, train=True, size=cfg.train_size)
    test_data = mnist(cfg.data_dir, train=False, size=cfg.test_size)
    rng = np.random.default_rng(cfg.seed)  # the batch sampler's own stream, as in scratchnet.train
    train_dataloader, test_dataloader = dataloaders(training_data, test_data, cfg, rng)

    training = training_for(initial_model(cfg, init), cfg, len(train_dataloader))
    with TorchThreads(cfg.threads):
        records = train_epochs(train_dataloader, test_dataloader, training, cfg)
    print("Done!")
    if cfg.plot:
        from scratchnet.run.plot import plot_curves

        plot_curves({"torch_ref": records}, cfg.plot)
    return run_metrics(cfg, "torch_ref", records)


def cli(argv=None):
    parser = torch_ref_parser("python -m torch_ref.train", __doc__, devices=("cpu", "cuda"))
    parser.add_argument("--init", choices=INITS, default="torch",
                        help="the initial W, b: torch's own for --seed (default), or scratchnet: the very ones "
                             "python -m scratchnet.train draws for --seed")
    return main(config_from_argv(parser, argv), init=parser.parse_args(argv).init)


if __name__ == "__main__":
    run_cli(cli, sys.argv[1:])
