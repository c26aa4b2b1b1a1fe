"""Checkpoints: everything a run needs to continue exactly, in one .npz, written whole or not at all.

A checkpoint holds the arrays W{l}, b{l} and the optimizer's state arrays, named as `opt.buffers()` names
them (SGD's momentum buffers v_W{l}, v_b{l} once it has them; Adam's and AdamW's moments m_W{l}, m_b{l},
v_W{l}, v_b{l}), plus one JSON string `meta`: the format version, the full TrainConfig, where the run stands
(epochs done, batches done in the current epoch, the batch sampler's state at the start of that epoch, the
loss summed so far in it), the metrics so far, the optimizer's step count t (which is also where the
learning-rate schedule stands), the state of the dropout masks' generator, and a manifest (library
versions). No pickle anywhere: loading uses allow_pickle=False. Format 3 (this one) calls the batches done
state.batch; format 2 called them state.step and is read as format 3. Both always hold the step count and the
dropout generator; format 1 could lack them, and is refused rather than guessed at.

Every field read back is checked first (scratchnet.run.checkpoint_schema): the meta when the file is loaded, the
arrays against the network and optimizer they are restored into.
"""

import json
import platform
import zipfile
from dataclasses import asdict, replace

import numpy as np

from scratchnet.backend import get_xp, to_numpy
from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.loop import RunState
from scratchnet.run.checkpoint_schema import FORMAT_VERSION, check_arrays, check_meta
from scratchnet.shell.console import info
from scratchnet.shell.fileio import atomic_write, check_input

# What a checkpoint is tied to: its arrays (shape, activation, cost, dtype, optimizer state), and its place
# in the epoch, counted in batches of one size, of one training set, drawn by one scheme.
ARCHITECTURE = ("hidden", "activation", "loss", "dtype", "optimizer", "batch_size", "train_size", "sampling")
HORIZON_SCHEDULES = ("cosine", "onecycle")  # schedules whose α_t depends on the run's length


def save_checkpoint(path, net, opt, cfg, state):
    """Write net's parameters and dropout generator, opt's state, cfg and the RunState to `path`, atomically."""
    arrays = {}
    for l in net.W:
        arrays[f"W{l}"], arrays[f"b{l}"] = to_numpy(net.W[l]), to_numpy(net.b[l])
    for name, buffer in opt.buffers().items():
        for l in buffer:
            arrays[f"{name}{l}"] = to_numpy(buffer[l])
    meta = {"format_version": FORMAT_VERSION, "config": asdict(cfg), "state": asdict(state),
            "optimizer": {"t": opt.t}, "dropout_rng": net.rng.bit_generator.state,
            "manifest": {"numpy": np.__version__, "python": platform.python_version()}}
    meta["state"]["loss_sum"] = float(state.loss_sum)
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path, meta_only=False):
    """The arrays and the meta dict of the checkpoint at `path`; one clear error for anything unreadable."""
    check_input(path, "--resume")  # a folder, a device, a FIFO (which would block np.load for ever): one line
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = ["meta"] if meta_only else npz.files
            arrays = {name: npz[name] for name in names}
        meta = json.loads(str(arrays.pop("meta")))
    except FileNotFoundError:
        raise UsageError(f"--resume {path}: no such file") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ScratchnetError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}); "
                              "resume from an earlier checkpoint or start afresh") from None
    check_meta(meta, path)
    return arrays, meta


def resumed_config(path, given):
    """The checkpoint's TrainConfig, with the fields in `given` (flags set on the command line) replacing its own.

    Its checkpoints go to `path` itself unless `given` names a --save: a resumed copy never writes over the
    file the copy was made from (the --save stored inside it).
    """
    _, meta = load_checkpoint(path, meta_only=True)
    return replace(check_meta(meta, path), **{"save": path, **given, "resume": path})


def start_or_resume(cfg, net, opt):
    """A fresh RunState (the batch sampler seeded from cfg.seed), or the one of cfg.resume with its parameters
    and optimizer state loaded into net and opt."""
    if not cfg.resume:
        return RunState(sampler_state=np.random.default_rng(cfg.seed).bit_generator.state)
    arrays, meta = load_checkpoint(cfg.resume)
    check_architecture(meta, cfg, cfg.resume)
    check_schedule(meta, cfg, cfg.resume)
    state = restore(net, opt, arrays, meta, cfg.resume)
    if state.epoch >= cfg.epochs:
        raise UsageError(f"--epochs {cfg.epochs}: the checkpoint {cfg.resume} has already trained {state.epoch} "
                         "epochs; --epochs counts the total, so ask for more")
    where = f"epoch {state.epoch} done" + (f", {state.batch} steps into epoch {state.epoch + 1}" if state.batch else "")
    info(f"resuming {cfg.resume} ({where}): checkpoints go to {cfg.save or 'no file (add --save FILE.npz)'}")
    return state


def check_architecture(meta, cfg, path):
    """Refuse to load parameters into a network of another shape, activation, cost or dtype, the state of one
    optimizer into another, or a place in the epoch into batches of another size, set or scheme."""
    saved = meta["config"]
    for name in ARCHITECTURE:
        mine, theirs = getattr(cfg, name), saved[name]  # check_meta made sure that every field is there
        if name == "hidden":
            mine, theirs = list(mine), list(theirs)
        if mine != theirs:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"checkpoint {path} was trained with {flag} {_show(theirs)}, this run asks for "
                             f"{_show(mine)}: drop {flag} to resume, or start a new run without --resume")


def check_schedule(meta, cfg, path):
    """Refuse to change --epochs under a schedule that spans the run: its α_t would jump where the run resumes."""
    saved = meta["config"]
    if cfg.schedule in HORIZON_SCHEDULES and saved.get("schedule") == cfg.schedule and saved["epochs"] != cfg.epochs:
        raise UsageError(f"--epochs {cfg.epochs}: the checkpoint {path} follows a {cfg.schedule} schedule over "
                         f"{saved['epochs']} epochs, which cannot stretch mid-run: resume with --epochs "
                         f"{saved['epochs']}, or give another --schedule")


def _show(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def restore(net, opt, arrays, meta, path):
    """Copy the checkpoint's parameters, optimizer state and dropout generator into net and opt; return its RunState.
    The arrays are checked against net and opt first: a file edited by hand changes nothing."""
    check_arrays(arrays, net, opt, meta, path)
    xp = get_xp(net.W[2])
    for l in net.W:
        net.W[l][...] = xp.asarray(arrays[f"W{l}"])
        net.b[l][...] = xp.asarray(arrays[f"b{l}"])
    for name, buffer in opt.buffers().items():
        for l in net.W:
            if f"{name}{l}" in arrays:
                buffer[l] = xp.asarray(arrays[f"{name}{l}"])
    opt.t = meta["optimizer"]["t"]
    net.rng.bit_generator.state = meta["dropout_rng"]
    return RunState(**meta["state"])
