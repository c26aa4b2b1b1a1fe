"""What a checkpoint must hold, field by field: every value is checked here before any of it is used.

A checkpoint (scratchnet.run.checkpoint) is arrays plus one JSON `meta`. A file edited by hand or damaged
fails here with one line naming the field, never later with a traceback or, worse, accepted:

    meta            a JSON object with exactly the keys of META_KEYS
    format_version  the integer FORMAT_VERSION
    manifest        an object (the library versions that wrote it; informative only)
    config          exactly TrainConfig's fields, each of its type, each value one that `check_values` accepts
    state           epoch: integer in [0, config.epochs]; batch: integer in [0, batches per epoch];
                    sampler_state: a PCG64 state; loss_sum: finite, ≥ 0; metrics: one entry per epoch done
    optimizer       t: the steps taken, epoch × (batches per epoch) + batch
    dropout_rng     a PCG64 state
    arrays          W{l}, b{l} for l = 2..L, and the optimizer's buffers (once it has taken a step), each
                    with exactly the shape and dtype of the parameter it belongs to, all finite; nothing else
"""

import math

import numpy as np

from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.run.config import TrainConfig, batches_per_epoch_of, samples_used
from scratchnet.run.request import check_values

FORMAT_VERSION = 3  # 2: the step count t and the dropout generator always present; 3: state.step renamed batch
READ_AS_CURRENT = (2,)  # older formats whose fields are the current ones under older names (upgrade, below)
META_KEYS = ("format_version", "config", "state", "optimizer", "dropout_rng", "manifest")
STATE_KEYS = ("epoch", "batch", "sampler_state", "loss_sum", "metrics")
EPOCH_METRICS = ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "samples_per_second")


class CheckpointError(ScratchnetError):
    """A checkpoint whose content is not what scratchnet writes (exit status 1)."""

    def __init__(self, path, problem):
        super().__init__(f"checkpoint {path}: {problem}; it was edited or damaged: resume from another "
                         "checkpoint or start afresh")


def check_meta(meta, path):
    """Check every field of a checkpoint's meta (format, config, run state, optimizer, generator), in that order."""
    if not isinstance(meta, dict):
        raise CheckpointError(path, f"meta is {_kind(meta)}, not a JSON object")
    version = meta.get("format_version")
    if type(version) is not int:
        raise CheckpointError(path, f"format_version is {version!r} ({_kind(version)}), not an integer")
    if version in READ_AS_CURRENT:
        upgrade(meta)
    elif version != FORMAT_VERSION:
        raise ScratchnetError(f"checkpoint {path} has format version {version}, this scratchnet reads version "
                              f"{FORMAT_VERSION}: resume it with the scratchnet that wrote it, or start afresh")
    _check_keys(meta, META_KEYS, "meta", path)
    config = check_config(meta["config"], path)
    check_state(meta["state"], config, path)
    _check_keys(_object(meta["optimizer"], "optimizer", path), ("t",), "optimizer", path)
    t, state = meta["optimizer"]["t"], meta["state"]
    expected_t = state["epoch"] * batches_per_epoch_of(config) + state["batch"]
    if type(t) is not int or t != expected_t:
        raise CheckpointError(path, f"optimizer.t is {t!r}, but epoch {state['epoch']} and batch {state['batch']} "
                                    f"mean {expected_t} steps taken")
    check_generator(meta["dropout_rng"], "dropout_rng", path)
    _object(meta["manifest"], "manifest", path)  # library versions, for the reader: nothing depends on them
    return config


def upgrade(meta):
    """A format-2 meta as format 3, in place: its state.step is state.batch (nothing else differs)."""
    state = meta.get("state")
    if isinstance(state, dict) and "step" in state and "batch" not in state:
        meta["state"] = {("batch" if key == "step" else key): value for key, value in state.items()}
    meta["format_version"] = FORMAT_VERSION


def check_config(saved, path):
    """The TrainConfig that `saved` (the checkpoint's config object) holds, every field's type and value checked."""
    fields = TrainConfig.__dataclass_fields__
    _check_keys(_object(saved, "config", path), fields, "config", path)
    default = TrainConfig()
    for name in fields:
        value, like = saved[name], getattr(default, name)
        if isinstance(like, tuple):
            item = float if name == "betas" else int
            if not (isinstance(value, list) and all(_is(v, item) for v in value)):
                raise CheckpointError(path, f"config.{name} is {value!r}, not a list of {item.__name__}s")
        elif not _is(value, type(like)):
            raise CheckpointError(path, f"config.{name} is {value!r} ({_kind(value)}), not {_a(type(like))}")
    config = TrainConfig(**saved)
    try:
        check_values(config)
    except UsageError as e:
        raise CheckpointError(path, f"config: {e}") from None
    return config


def check_state(state, config, path):
    """The run state: where in which epoch, the sampler there, the loss so far, the metrics of the epochs done."""
    _check_keys(_object(state, "state", path), STATE_KEYS, "state", path)
    epoch, batch, loss_sum = state["epoch"], state["batch"], state["loss_sum"]
    if type(epoch) is not int or not 0 <= epoch <= config.epochs:
        raise CheckpointError(path, f"state.epoch is {epoch!r}, not an integer in [0, {config.epochs}] "
                                    "(config.epochs)")
    batches = batches_per_epoch_of(config)
    if type(batch) is not int or not 0 <= batch <= batches:
        raise CheckpointError(path, f"state.batch is {batch!r}, not an integer in [0, {batches}] (the batches of an "
                                    f"epoch of {samples_used(config, 'train')} samples in batches of "
                                    f"{config.batch_size})")
    if not (_is(loss_sum, float) and math.isfinite(loss_sum) and loss_sum >= 0 and (batch or not loss_sum)):
        raise CheckpointError(path, f"state.loss_sum is {loss_sum!r}, not a finite number ≥ 0 (0 at batch 0)")
    check_generator(state["sampler_state"], "state.sampler_state", path)
    metrics = state["metrics"]
    if not isinstance(metrics, list) or len(metrics) != epoch:
        raise CheckpointError(path, f"state.metrics is {_kind(metrics)}, not a list of the {epoch} epochs done")
    for i, entry in enumerate(metrics):
        where = f"state.metrics[{i}]"
        _check_keys(_object(entry, where, path), EPOCH_METRICS, where, path)
        if entry["epoch"] != i + 1 or not all(_is(entry[k], float) and math.isfinite(entry[k]) for k in EPOCH_METRICS):
            raise CheckpointError(path, f"{where} is not the finite metrics of epoch {i + 1}")


def check_generator(state, where, path):
    """A NumPy PCG64 bit-generator state, as `rng.bit_generator.state` gives it."""
    try:
        if not (isinstance(state, dict) and state.get("bit_generator") == "PCG64"):
            raise TypeError
        np.random.PCG64().state = state  # NumPy checks every part of it (ints, their range, the keys)
    except (TypeError, ValueError, KeyError, OverflowError):
        raise CheckpointError(path, f"{where} is not a PCG64 generator state") from None


def check_arrays(arrays, net, opt, meta, path):
    """The checkpoint's arrays against the network and optimizer its config builds: exactly these names, each of
    the shape and dtype of its parameter, all finite."""
    expected = {}
    for l in net.W:
        expected[f"W{l}"], expected[f"b{l}"] = net.W[l], net.b[l]
    took_steps = meta["optimizer"]["t"] > 0
    keeps_state = meta["config"]["optimizer"] != "sgd" or meta["config"]["momentum"] > 0
    for name in opt.buffers():
        for l in net.W:
            if took_steps and keeps_state:
                expected[f"{name}{l}"] = net.W[l] if name.endswith("W") else net.b[l]
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise CheckpointError(path, f"holds an array {extra[0]} that a {_architecture(net)} network trained by "
                                    f"{meta['config']['optimizer']} for {meta['optimizer']['t']} steps does not have")
    for name, like in expected.items():
        if name not in arrays:
            raise CheckpointError(path, f"has no array {name}")
        array = arrays[name]
        if array.shape != like.shape:
            raise CheckpointError(path, f"{name} has shape {array.shape}; the {_architecture(net)} network implies "
                                        f"{like.shape}")
        if array.dtype != like.dtype:
            raise CheckpointError(path, f"{name} has dtype {array.dtype}, not {like.dtype} (config.dtype)")
        if not np.isfinite(array).all():
            raise CheckpointError(path, f"{name} holds NaN or infinite values")


def _check_keys(obj, keys, where, path):
    missing = [k for k in keys if k not in obj]
    if missing:
        raise CheckpointError(path, f"{where} has no {', '.join(map(repr, missing))}")
    extra = [k for k in obj if k not in keys]
    if extra:
        raise CheckpointError(path, f"{where} has an unknown field {', '.join(map(repr, extra))}")


def _object(value, where, path):
    if not isinstance(value, dict):
        raise CheckpointError(path, f"{where} is {_kind(value)}, not a JSON object")
    return value


def _is(value, kind):
    """JSON's types: an int is no bool, a float may be written as an int (1 for 1.0)."""
    if kind is float:
        return type(value) in (int, float)
    return type(value) is kind


def _kind(value):
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
             bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _a(kind):
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]


def _architecture(net):
    return "-".join(map(str, net.sizes))
