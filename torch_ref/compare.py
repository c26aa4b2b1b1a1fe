"""Train scratchnet and torch_ref side by side, from the same weights on the same batches, and check they agree.

    python -m torch_ref.compare --dtype float64 --epochs 1     # parameters agree to ~1e-16 relative
    python -m torch_ref.compare --dtype float32 --epochs 1     # ~3e-5
    python -m torch_ref.compare --momentum 0.9 --weight-decay 1e-4 --sampling shuffle --steps 300
    python -m torch_ref.compare --loss quadratic --activation sigmoid --lr 0.1 --plot runs/both.png
    python -m torch_ref.compare --recipe best --dtype float64 --steps 300      # AdamW, dropout, one-cycle α
    python -m torch_ref.compare --threads 1 --steps 300        # each engine on one thread (default auto)
    python -m torch_ref.compare --help                         # scratchnet.train's flags, plus --steps

Both engines start from scratchnet's seeded W, b (copied into torch by torch_ref.bridge, bit for bit), take
their batches from one index generator (scratchnet.sampling.minibatches) and receive the very same NumPy
arrays (torch through torch.from_numpy), so all that differs is the order of floating-point operations.
Under dropout, scratchnet draws each step's masks r^[l] and torch multiplies by the very same ones
(NeuralNetwork's forward with masks); a schedule sets scratchnet's α_t before each step, torch's scheduler
steps after it (scratchnet.schedules against torch.optim.lr_scheduler).
Printed: both losses every 100 steps and at the last, both test accuracies each epoch, and at the end the
largest relative parameter difference of each layer, max|θ_s − θ_t| / max(max|θ_s|, max|θ_t|)
(scratchnet.checking.agreement.relative_error). Exit status 1 when a
difference is beyond tolerance_for(dtype, steps) (scratchnet.checking.agreement's "parity"). Runs on the CPU.

In float32 with ReLU the parameter difference grows by about 3e-5 an epoch of the tutorial's model: where
z^[l] lies within rounding of 0, the engines can round it to opposite sides of the ReLU's kink, so that
sample's whole contribution to the unit's gradient differs (with tanh it stays near 3e-7 after 3 epochs).
So the float32 parameter tolerance is 1e-4 per epoch of the tutorial's model (938 steps), growing with the
number of steps taken; the float64 tolerances are fixed. Adam and AdamW (and dropout at large steps) hold
only in float64: Adam divides each gradient entry by its own running scale, so an entry that float32 rounding
leaves at noise level (a sum over the batch that cancels) takes a full ±α step in whichever direction its
rounding points, and the engines part by 1e-3 to 1e-1 relative within a few hundred steps. In float64 the
recipe's 400 steps agree to ~1e-13.
"""

import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from itertools import islice

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from scratchnet.checking.agreement import TOLERANCE, relative_error
from scratchnet.errors import DivergenceError, ScratchnetError, UsageError
from scratchnet.fast.threads import BlasThreads
from scratchnet.loop import LOG_EVERY, epoch_header, evaluate
from scratchnet.mnist.load import load_data
from scratchnet.run.build import Run, build
from scratchnet.run.config import TrainConfig
from scratchnet.run.flags import config_from_argv
from scratchnet.run.metrics import epoch_record, write_metrics
from scratchnet.sampling import batches_per_epoch, minibatches
from scratchnet.shell.console import Progress, run_cli
from torch_ref.bridge import to_torch
from torch_ref.flags import torch_ref_parser
from torch_ref.threads import TorchThreads
from torch_ref.train import Training, check_request, test, train_step, training_for

BATCHES_PER_EPOCH = 938  # of the tutorial's model: the float32 parameter tolerance is per this many steps


def tolerance_for(dtype, steps):
    """The parity tolerances of dtype (scratchnet.checking.agreement), with the float32 parameter tolerance
    scaled to `steps` (see the module docstring)."""
    tol = dict(TOLERANCE["parity"][dtype])
    if dtype == "float32":
        tol["parameters"] *= max(1.0, steps / BATCHES_PER_EPOCH)
    return tol


class ParityError(ScratchnetError):
    """The two engines drifted apart by more than the tolerance of their dtype (exit status 1)."""


def parameter_differences(net, model):
    """{l: {"W": …, "b": …}}: the relative error of W^[l] and b^[l] against torch's, for l = 2..L."""
    linears = model.linears()
    return {l: {"W": relative_error(net.W[l], linears[l - 2].weight.detach().numpy()),
                "b": relative_error(net.b[l], linears[l - 2].bias.detach().numpy())}
            for l in range(2, net.L + 1)}


@dataclass
class Engines:
    """scratchnet's run (its network, its optimizer with α_t, its reference step), and the Training of torch's
    exact copy of that network (its loss, optimizer and scheduler)."""

    run: Run
    torch: Training

    @property
    def net(self):
        return self.run.net

    @property
    def opt(self):
        return self.run.opt

    @property
    def model(self):
        return self.torch.model


def build_engines(cfg, N):
    """scratchnet's run as cfg says on the reference step, for N training samples, then torch's exact copy of its
    network with its loss, optimizer and scheduler."""
    run = build(replace(cfg, step="reference"), N)
    return Engines(run, training_for(to_torch(run.net), cfg, batches_per_epoch(N, cfg.batch_size)))


def step_both(engines, x, y, seconds):
    """One step of each engine on the batch (x, y): scratchnet's reference step (its optimizer reads α_t), then
    torch's, dropping by the very masks r^[l] that scratchnet's step drew (net.r), its scheduler stepping after it.

    Adds each engine's time to seconds[name]; returns (C_s, C_t, the DivergenceError of scratchnet's step or None).
    """
    start = time.perf_counter()
    try:
        C_s, diverged = float(engines.run.step.step(x, y)), None
    except DivergenceError as error:  # scratchnet stops before its update; torch takes its step all the same
        C_s, diverged = float("nan"), error
    middle = time.perf_counter()
    r_t = {l: torch.from_numpy(r_l) for l, r_l in engines.net.r.items()} or None
    C_t = train_step(engines.torch, torch.from_numpy(x), torch.from_numpy(y), r_t).item()
    seconds["scratchnet"] += middle - start
    seconds["torch_ref"] += time.perf_counter() - middle
    return C_s, C_t, diverged


def train_epoch_side_by_side(engines, train_split, batches, losses, progress):
    """One step of each engine per batch index in `batches`, both on the same arrays and dropout masks.

    Appends each engine's batch loss to losses[name]; prints both losses and their difference every LOG_EVERY
    steps (counted over the whole run) and at the last batch. Returns each engine's seconds.
    """
    (x_train, y_train), seconds = train_split, {"scratchnet": 0.0, "torch_ref": 0.0}
    for batch, idx in enumerate(batches):
        C_s, C_t, diverged = step_both(engines, x_train[idx], y_train[idx], seconds)
        step = len(losses["scratchnet"])
        if diverged or not math.isfinite(C_t):
            raise divergence(step, diverged, C_s, C_t, engines.opt)
        losses["scratchnet"].append(C_s)
        losses["torch_ref"].append(C_t)
        if step % LOG_EVERY == 0 or batch == len(batches) - 1:
            progress.print(f"{step:>6d}  {C_s:>18.12f}  {C_t:>18.12f}  {abs(C_s - C_t):>13.1e}")
        progress.update(batch + 1)
    return seconds


def divergence(step, diverged, C_s, C_t, opt):
    """The error for a step where one engine's loss or both became NaN or infinite: both diverging is the run's
    fault (its settings), one alone is a disagreement between the engines."""
    scratchnet = diverged.what if diverged else f"its loss is {C_s:.6g}"
    torch_ref = f"the loss became {C_t}" if not math.isfinite(C_t) else f"its loss is {C_t:.6g}"
    if diverged and not math.isfinite(C_t):
        return ScratchnetError(f"step {step}: both engines diverged (scratchnet: {scratchnet}; torch_ref: "
                               f"{torch_ref}), as they should on the same settings: the learning rate may be too high "
                               f"(α = {opt.alpha():g} at this step); the comparison stops there")
    which = "scratchnet" if diverged else "torch_ref"
    return ParityError(f"step {step}: only {which} diverged (scratchnet: {scratchnet}; torch_ref: {torch_ref}): "
                       "the engines disagree")


def evaluate_both(engines, x_test, y_test, cfg):
    """Test accuracy and "Avg loss" of each engine: scratchnet's evaluate, the tutorial's test() on the same arrays."""
    test_dataloader = DataLoader(TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
                                 batch_size=cfg.batch_size)
    return {"scratchnet": evaluate(engines.net, x_test, y_test, cfg.batch_size),
            "torch_ref": test(test_dataloader, engines.model, engines.torch.loss_fn, cfg)}


def side_by_side(cfg, splits, steps=0):
    """Train both engines on the batches of one index generator; print and return what they did.

    Args:
        cfg: the run (on the CPU).
        splits: ((x_train, y_train), (x_test, y_test)) as scratchnet.mnist.load.load_data returns them (NumPy).
        steps: stop after this many steps (0: run all cfg.epochs).

    Returns:
        (report, engines): the report dict (config, every step's losses, the largest loss difference, the
        parameter differences, per-epoch metrics of each engine) and the two trained engines.
    """
    N, m = len(splits[0][0]), cfg.batch_size
    total = cfg.epochs * batches_per_epoch(N, m)
    total = min(total, steps) if steps else total
    engines = build_engines(cfg, N)
    print_header(cfg, engines, tolerance_for(cfg.dtype, total))
    rng = np.random.default_rng(cfg.seed)  # the one index generator that both engines draw from
    losses = {"scratchnet": [], "torch_ref": []}
    history = {"scratchnet": [], "torch_ref": []}
    # --threads for both (auto: all the cores but one each). Taking turns step by step leaves each library's idle
    # threads spinning for work on the cores the other needs: on 2 busy cores, 60 steps of the tutorial's model
    # took 28 s on 2 threads each, 1.1 s on one. NumPy's overflow warnings would only repeat, in many lines, what
    # the divergence check says in one.
    with BlasThreads(cfg.threads), TorchThreads(cfg.threads), np.errstate(over="ignore", invalid="ignore",
                                                                          divide="ignore"):
        for epoch in range(1, cfg.epochs + 1):
            first = len(losses["scratchnet"])
            if first == total:
                break
            batches = list(islice(minibatches(N, m, cfg.sampling, rng), total - first))
            epoch_side_by_side(engines, splits, (epoch, batches), losses, history)
    report = make_report(cfg, engines, losses, history)
    print_parameter_differences(report, engines.net.sizes)
    return report, engines


def print_header(cfg, engines, tol):
    print(f"scratchnet vs torch_ref, {cfg.dtype}: {'-'.join(map(str, engines.net.sizes))} {cfg.activation}, "
          f"{cfg.loss}, {describe_training(cfg)}, m={cfg.batch_size} {cfg.sampling}, seed {cfg.seed}")
    print(f"tolerances: relative parameter difference ≤ {tol['parameters']:g}, loss difference ≤ {tol['loss']:g}\n")


def epoch_side_by_side(engines, splits, epoch_batches, losses, history):
    """Epoch `epoch` of both engines on `batches` (epoch_batches = (epoch, batches)), then both tested on the
    same test set; appends each engine's per-epoch metrics to history[name]."""
    cfg, (epoch, batches) = engines.run.cfg, epoch_batches
    first = len(losses["scratchnet"])
    print(epoch_header(epoch))
    print(f"{'step':>6}  {'scratchnet loss':>18}  {'torch_ref loss':>18}  {'|difference|':>13}")
    progress = Progress(len(batches), f"epoch {epoch}/{cfg.epochs}")
    engines.model.train()
    seconds = train_epoch_side_by_side(engines, splits[0], batches, losses, progress)
    progress.close()
    tested = evaluate_both(engines, *splits[1], cfg)
    (accuracy_s, test_loss_s), (accuracy_t, test_loss_t) = tested["scratchnet"], tested["torch_ref"]
    print(f"Test accuracy: scratchnet {100 * accuracy_s:>0.1f}%, torch_ref {100 * accuracy_t:>0.1f}%   "
          f"Avg loss: {test_loss_s:>8f} vs {test_loss_t:>8f}\n")
    for name, (accuracy, test_loss) in tested.items():
        history[name].append(epoch_record(epoch, float(np.mean(losses[name][first:])), test_loss, accuracy,
                                          seconds[name], len(batches) * cfg.batch_size))


def describe_training(cfg):
    """The optimizer with its settings, then dropout and the schedule when there are any, for the header line."""
    if cfg.optimizer == "sgd":
        text = f"SGD α={cfg.lr:g} μ={cfg.momentum:g} λ={cfg.weight_decay:g}" + (" Nesterov" if cfg.nesterov else "")
    else:
        name = {"adam": "Adam", "adamw": "AdamW"}[cfg.optimizer]
        text = (f"{name} α={cfg.lr:g} β₁={cfg.betas[0]:g} β₂={cfg.betas[1]:g} ε={cfg.eps:g} "
                f"λ={cfg.weight_decay:g}")
    if cfg.dropout:
        text += f", dropout p={cfg.dropout:g}"
    if cfg.schedule != "none":
        text += f", {cfg.schedule} schedule"
    return text


def make_report(cfg, engines, losses, history):
    """What a run found, as a JSON-ready dict; a NaN loss difference counts as the largest, +inf."""
    differences = np.abs(np.array(losses["scratchnet"]) - np.array(losses["torch_ref"]))
    differences = np.where(np.isfinite(differences), differences, np.inf)
    worst = int(differences.argmax())
    return {"config": asdict(cfg), "steps": len(differences), "tolerances": tolerance_for(cfg.dtype, len(differences)),
            "max_loss_difference": float(differences[worst]), "max_loss_difference_step": worst,
            "parameter_differences": parameter_differences(engines.net, engines.model),
            "losses": losses, "epochs": history}


def print_parameter_differences(report, sizes):
    print(f"After {report['steps']} steps, the largest relative parameter difference "
          "max|θ_s − θ_t| / max(max|θ_s|, max|θ_t|):")
    for l, d in report["parameter_differences"].items():
        shape = f"({sizes[l - 2]} → {sizes[l - 1]})"
        print(f"  layer {l} {shape:<14} W {d['W']:.1e}   b {d['b']:.1e}")
    print(f"The largest loss difference |C_s − C_t|: {report['max_loss_difference']:.1e} "
          f"at step {report['max_loss_difference_step']}")


def breaches(report):
    """One phrase for each difference in report beyond its tolerances (NaN counts as beyond)."""
    tol = report["tolerances"]
    found = []
    for l, d in report["parameter_differences"].items():
        for name in ("W", "b"):
            if not d[name] <= tol["parameters"]:
                found.append(f"{name}[{l}] differs by {d[name]:.1e} relative (> {tol['parameters']:g})")
    if not report["max_loss_difference"] <= tol["loss"]:
        found.append(f"the loss differs by {report['max_loss_difference']:.1e} at step "
                     f"{report['max_loss_difference_step']} (> {tol['loss']:g})")
    return found


def main(cfg: TrainConfig, steps=0):
    """Compare the engines as cfg says; return the report, or raise ParityError when they disagree."""
    if cfg.device != "cpu":
        raise UsageError("torch_ref.compare runs on the CPU only, where both engines share the same NumPy "
                         "arrays: use --device cpu")
    if steps < 0:
        raise UsageError(f"--steps must be ≥ 0 (0 means all epochs), got {steps}")
    check_request(cfg)
    splits = load_data(cfg, np)
    report, _ = side_by_side(cfg, splits, steps)
    if cfg.metrics_out:
        write_metrics(report, cfg.metrics_out)
    if cfg.plot:
        from scratchnet.run.plot import plot_curves

        plot_curves(report["epochs"], cfg.plot, title=f"MNIST, scratchnet vs torch_ref ({cfg.dtype})")
    found = breaches(report)
    if found:
        raise ParityError(f"scratchnet and torch_ref disagree in {cfg.dtype}: " + "; ".join(found))
    print(f"Parity holds in {cfg.dtype}: every difference is within its tolerance.")
    return report


def cli(argv=None):
    parser = torch_ref_parser("python -m torch_ref.compare", __doc__, devices=("cpu",))
    parser.add_argument("--steps", type=int, default=0, metavar="N",
                        help="stop after N steps (default 0: train all --epochs)")
    return main(config_from_argv(parser, argv), steps=parser.parse_args(argv).steps)


if __name__ == "__main__":
    run_cli(cli, sys.argv[1:])
