"""Checkpoints edited by hand: every field checked by scratchnet.run.checkpoint_schema before any of it is used.

A real checkpoint (a 784-8-10 network after 13 Adam steps, epoch 1 of 2, step 3) is written once, then
each case edits one field of its meta or one array, as a user with a text editor or NumPy would, and
expects one CheckpointError naming that field. Run: python -m pytest tests/test_checkpoint_schema.py -q
"""

import json

import numpy as np
import pytest

from scratchnet.errors import ScratchnetError
from scratchnet.loop import RunState
from scratchnet.network import Network
from scratchnet.optim import Adam
from scratchnet.run.checkpoint import save_checkpoint
from scratchnet.run.checkpoint_schema import FORMAT_VERSION, CheckpointError, check_arrays, check_meta
from scratchnet.run.config import TrainConfig

CFG = TrainConfig(hidden=(8,), optimizer="adam", train_size=640, batch_size=64, epochs=2, save="c.npz")
EPOCH_1 = {"epoch": 1, "train_loss": 2.0, "test_loss": 1.9, "test_accuracy": 0.4, "seconds": 0.1,
           "samples_per_second": 6400.0}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(arrays, meta, net, opt) of a valid checkpoint, read back from the file save_checkpoint wrote."""
    net = Network([784, 8, 10], dtype="float32", seed=0)
    opt = Adam(net, lr=1e-3)
    rng = np.random.default_rng(0)
    net.forward(rng.uniform(0, 1, (4, 784)).astype("float32"))
    C, delta_L = net.cost(rng.integers(0, 10, 4))
    opt.step(*net.backward(delta_L))
    opt.t = 13  # epoch 1 done (10 steps of 64 in 640 samples), then 3 steps
    state = RunState(epoch=1, batch=3, sampler_state=np.random.default_rng(0).bit_generator.state,
                     loss_sum=3 * float(C), metrics=[EPOCH_1])
    path = tmp_path_factory.mktemp("ckpt") / "c.npz"
    save_checkpoint(str(path), net, opt, CFG, state)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    return arrays, meta, net, opt


def check(arrays, meta, net, opt):
    check_meta(meta, "c.npz")
    check_arrays(arrays, net, opt, meta, "c.npz")


def test_the_checkpoint_as_written_passes(checkpoint):
    check(*checkpoint)


def edit_meta(path, value):
    """A function that sets meta[path...] = value (a missing value deletes the key)."""
    def edit(meta, arrays):
        *parents, last = path
        for key in parents:
            meta = meta[key]
        if value is DELETE:
            del meta[last]
        else:
            meta[last] = value
    return edit


DELETE = object()
META_CASES = [
    (("state", "epoch"), 1.0, "state.epoch is 1.0, not an integer in [0, 2]"),
    (("state", "epoch"), "1", "state.epoch is '1', not an integer"),
    (("state", "epoch"), -2, "state.epoch is -2, not an integer in [0, 2]"),
    (("state", "epoch"), 3, "state.epoch is 3, not an integer in [0, 2] (config.epochs)"),
    (("state", "batch"), 99, "state.batch is 99, not an integer in [0, 10] (the batches of an epoch of 640 samples"),
    (("state", "batch"), True, "state.batch is True"),
    (("state", "loss_sum"), float("nan"), "state.loss_sum is nan, not a finite number ≥ 0"),
    (("state", "loss_sum"), "7", "state.loss_sum is '7'"),
    (("state", "metrics"), [], "state.metrics is a list, not a list of the 1 epochs done"),
    (("state", "metrics"), [{**EPOCH_1, "epoch": 2}], "state.metrics[0] is not the finite metrics of epoch 1"),
    (("state", "sampler_state"), {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1},
                                  "has_uint32": 0, "uinteger": 0}, "state.sampler_state is not a PCG64 generator"),
    (("state", "sampler_state"), {"bit_generator": "MT19937"}, "state.sampler_state is not a PCG64 generator"),
    (("state", "sampler_state"), 5, "state.sampler_state is not a PCG64 generator state"),
    (("dropout_rng",), [], "dropout_rng is not a PCG64 generator state"),
    (("dropout_rng",), {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0,
                        "uinteger": 0}, "dropout_rng is not a PCG64 generator state"),
    (("config", "hidden"), ["8"], "config.hidden is ['8'], not a list of ints"),
    (("config", "hidden"), [8.5], "config.hidden is [8.5], not a list of ints"),
    (("config", "epochs"), "2", "config.epochs is '2' (a string), not an integer"),
    (("config", "lr"), "0.001", "config.lr is '0.001' (a string), not a number"),
    (("config", "lr"), -1, "config: --lr must be a positive number, got -1"),
    (("config", "nesterov"), 0, "config.nesterov is 0 (an integer), not true or false"),
    (("config", "activation"), "gelu", "config: unknown activation 'gelu': use one of"),
    (("config", "dtype"), "float16", "config: unknown dtype 'float16'"),
    (("config", "seed"), -1, "config: --seed must be an integer in [0, 2**63 − 1], got -1"),
    (("config", "dtype"), DELETE, "config has no 'dtype'"),
    (("config", "colour"), "red", "config has an unknown field 'colour'"),
    (("config",), DELETE, "meta has no 'config'"),
    (("state",), DELETE, "meta has no 'state'"),
    (("state",), [1, 2], "state is a list, not a JSON object"),
    (("state", "extra"), 1, "state has an unknown field 'extra'"),
    (("extra",), 1, "meta has an unknown field 'extra'"),
    (("optimizer",), 7, "optimizer is an integer, not a JSON object"),
    (("optimizer", "t"), 5, "optimizer.t is 5, but epoch 1 and batch 3 mean 13 steps taken"),
    (("optimizer", "t"), "13", "optimizer.t is '13'"),
    (("format_version",), "1", "format_version is '1' (a string), not an integer"),
    (("format_version",), None, "format_version is None (null), not an integer"),
]


@pytest.mark.parametrize("path,value,message", META_CASES, ids=[".".join(c[0]) + "=" + repr(c[1])[:20]
                                                                 for c in META_CASES])
def test_an_edited_meta_field_is_named(path, value, message, checkpoint):
    arrays, meta, net, opt = checkpoint
    meta = json.loads(json.dumps(meta))
    edit_meta(path, value)(meta, arrays)
    with pytest.raises(CheckpointError) as caught:
        check(arrays, meta, net, opt)
    assert str(caught.value).startswith(f"checkpoint c.npz: {message}"), str(caught.value)
    assert str(caught.value).endswith("it was edited or damaged: resume from another checkpoint or start afresh")


@pytest.mark.parametrize("meta", [[], 3, "x", None])
def test_meta_that_is_no_object(meta, checkpoint):
    arrays, _, net, opt = checkpoint
    with pytest.raises(CheckpointError, match=f"meta is {'an integer' if meta == 3 else '.*'}, not a JSON object"):
        check(arrays, meta, net, opt)


def test_another_format_version_says_which(checkpoint):
    arrays, meta, net, opt = checkpoint
    with pytest.raises(ScratchnetError, match=f"has format version 99, this scratchnet reads version {FORMAT_VERSION}"):
        check(arrays, {**meta, "format_version": 99}, net, opt)


def test_format_2_is_read_as_format_3(checkpoint):
    """Format 2 called the batches done state.step; nothing else differs, so it is read, not refused."""
    arrays, meta, net, opt = checkpoint
    state = {("step" if key == "batch" else key): value for key, value in meta["state"].items()}
    old = {**meta, "format_version": 2, "state": state}
    check(arrays, old, net, opt)
    assert old["format_version"] == FORMAT_VERSION == 3 and old["state"]["batch"] == meta["state"]["batch"] == 3


ARRAY_CASES = [
    ("W2", lambda a: a[:1], "W2 has shape (1, 784); the 784-8-10 network implies (8, 784)"),
    ("W2", lambda a: a.T, "W2 has shape (784, 8); the 784-8-10 network implies (8, 784)"),
    ("b2", lambda a: np.float32(0.5), "b2 has shape (); the 784-8-10 network implies (8,)"),
    ("W2", lambda a: a.astype(np.complex64), "W2 has dtype complex64, not float32 (config.dtype)"),
    ("W2", lambda a: a.astype(str), "W2 has dtype <U"),
    ("W2", lambda a: a.astype(np.float64), "W2 has dtype float64, not float32"),
    ("W3", None, "has no array W3"),
    ("m_W3", None, "has no array m_W3"),
    ("W9", lambda a: np.zeros(3), "holds an array W9 that a 784-8-10 network trained by adam for 13 steps"),
    ("W2", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 5, np.nan, a).astype(a.dtype),
     "W2 holds NaN or infinite values"),
    ("v_b2", lambda a: np.zeros(9, a.dtype), "v_b2 has shape (9,); the 784-8-10 network implies (8,)"),
]


@pytest.mark.parametrize("name,change,message", ARRAY_CASES, ids=[f"{c[0]}:{c[2][:30]}" for c in ARRAY_CASES])
def test_an_edited_array_is_named(name, change, message, checkpoint):
    arrays, meta, net, opt = checkpoint
    arrays = dict(arrays)
    if change is None:
        del arrays[name]
    else:
        arrays[name] = change(arrays.get(name, arrays["W2"]))
    with pytest.raises(CheckpointError) as caught:
        check(arrays, meta, net, opt)
    assert str(caught.value).startswith(f"checkpoint c.npz: {message}"), str(caught.value)
