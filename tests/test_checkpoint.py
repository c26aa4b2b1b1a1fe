"""Nothing lost: checkpoints, exact resume after Ctrl-C, divergence, and a writer killed mid-save.

A run interrupted by a real SIGINT at a chosen step and resumed must end with bit-for-bit the parameters,
optimizer state and metrics of the same run left alone (float32 and float64, every sampling scheme, SGD with
momentum, and AdamW with dropout under a one-cycle schedule: its moments, its step count t, which is where
the schedule stands, and the dropout masks' generator must all survive the checkpoint).

    python -m pytest tests/test_checkpoint.py
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from scratchnet.run.checkpoint import load_checkpoint
from scratchnet.run.config import TrainConfig
from scratchnet.train import cli, main

from conftest import REPO
from helpers import run_train

SMALL = ["--train-size", "1280", "--test-size", "200", "--hidden", "32", "16", "--momentum", "0.9",
         "--lr", "0.05", "--epochs", "2"]  # 20 steps an epoch

INTERRUPT_AT = """
import os, signal, sys
import scratchnet.train as train
from scratchnet.shell.console import run_cli
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.step import ReferenceStep
count = [0]
def interrupting(real_step):
    def step_then_interrupt(*args):
        C = real_step(*args)
        count[0] += 1
        if count[0] == {at}:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of the epoch's loop
        return C
    return step_then_interrupt
for step in (ReferenceStep, BlasStep):  # whichever the run trains with (SGD: the fused step on the CPU)
    step.step = interrupting(step.step)
run_cli(train.cli, sys.argv[1:])
"""


def run_python(code, *args):
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def arrays(path):
    return load_checkpoint(str(path))[0]


def metrics_without_time(metrics):
    return [{k: v for k, v in e.items() if k not in ("seconds", "samples_per_second")} for e in metrics]


ADAMW_DROPOUT_ONECYCLE = ["--optimizer", "adamw", "--momentum", "0", "--weight-decay", "0.01", "--lr", "0.003",
                          "--dropout", "0.2", "--schedule", "onecycle"]


@pytest.mark.slow
@pytest.mark.parametrize("dtype,sampling,extra", [("float32", "shuffle", []), ("float64", "replacement", []),
                                                  ("float32", "sequential", []),
                                                  ("float32", "shuffle", ADAMW_DROPOUT_ONECYCLE)],
                         ids=["float32-shuffle", "float64-replacement", "float32-sequential", "adamw-dropout-onecycle"])
def test_interrupted_and_resumed_equals_uninterrupted(dtype, sampling, extra, mnist_dir, tmp_path, capsys):
    flags = [*SMALL, "--data-dir", mnist_dir, "--dtype", dtype, "--sampling", sampling, "--seed", "3", *extra]
    alone = cli([*flags, "--save", str(tmp_path / "alone.npz")])
    capsys.readouterr()

    broken = tmp_path / "broken.npz"
    done = run_python(INTERRUPT_AT.format(at=27), *flags, "--save", str(broken))  # epoch 2, after step 7
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (f"interrupted (SIGINT) in epoch 2 after step 7: saved {broken}; "
                                   f"resume with: python -m scratchnet.train --resume {broken}")
    assert "Traceback" not in done.stderr
    assert load_checkpoint(str(broken))[1]["state"]["batch"] == 7

    resumed = cli(["--resume", str(broken)])  # every setting comes from the checkpoint
    out = capsys.readouterr().out
    assert out.startswith("Epoch 2\n") and "Epoch 1" not in out and out.endswith("Done!\n")
    expected, got = arrays(tmp_path / "alone.npz"), arrays(broken)
    assert sorted(expected) == sorted(got) and "v_W2" in got and ("m_W2" in got) == bool(extra)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert metrics_without_time(resumed["epochs"]) == metrics_without_time(alone["epochs"])
    meta_alone, meta_resumed = (load_checkpoint(str(path))[1] for path in (tmp_path / "alone.npz", broken))
    assert meta_resumed["optimizer"] == meta_alone["optimizer"] == {"t": 40}
    assert meta_resumed["dropout_rng"] == meta_alone["dropout_rng"]


@pytest.mark.slow
def test_epochs_counts_the_total(mnist_dir, tmp_path, capsys):
    ckpt = str(tmp_path / "c.npz")
    cli([*SMALL, "--data-dir", mnist_dir, "--epochs", "1", "--save", ckpt])
    capsys.readouterr()
    metrics = cli(["--resume", ckpt, "--epochs", "3"])
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("Epoch")] == ["Epoch 2", "Epoch 3"]
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    assert load_checkpoint(ckpt)[1]["state"]["epoch"] == 3


@pytest.mark.slow
def test_save_every_writes_mid_epoch(mnist_dir, tmp_path):
    ckpt = tmp_path / "c.npz"
    main(TrainConfig(train_size=640, test_size=100, hidden=(8,), epochs=1, data_dir=mnist_dir, save=str(ckpt),
                     save_every=4))
    state = load_checkpoint(str(ckpt))[1]["state"]
    assert (state["epoch"], state["batch"]) == (1, 0)  # the epoch-end save came last
    assert os.listdir(tmp_path) == ["c.npz"]


def corrupt(path, how):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"not a checkpoint at all")


@pytest.mark.parametrize("args,code,message", [
    (["--hidden", "64"], 2, "was trained with --hidden 32 16, this run asks for 64: drop --hidden to resume"),
    (["--dtype", "float64"], 2, "was trained with --dtype float32, this run asks for float64"),
    (["--activation", "tanh"], 2, "was trained with --activation relu, this run asks for tanh"),
    (["--optimizer", "adam", "--momentum", "0"], 2, "was trained with --optimizer sgd, this run asks for adam"),
    (["--epochs", "1"], 2, "has already trained 1 epochs; --epochs counts the total"),
    (["--batch-size", "128"], 2, "was trained with --batch-size 64, this run asks for 128: drop --batch-size"),
    (["--train-size", "640"], 2, "was trained with --train-size 1280, this run asks for 640"),
    (["--sampling", "shuffle"], 2, "was trained with --sampling sequential, this run asks for shuffle"),
    ("truncated", 1, "is corrupt or truncated"),
    ("garbage", 1, "is corrupt or truncated"),
])
@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_is_refused_and_kept(args, code, message, mnist_dir, tmp_path, capsys):
    ckpt = tmp_path / "c.npz"
    cli([*SMALL, "--data-dir", mnist_dir, "--epochs", "1", "--save", str(ckpt)])
    capsys.readouterr()
    if isinstance(args, str):
        corrupt(ckpt, args)
        args = []
    before = ckpt.read_bytes()
    done = run_train("--resume", str(ckpt), "--save", str(ckpt), *args)
    assert done.returncode == code, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert ckpt.read_bytes() == before, "a refused resume must not touch the checkpoint"


@pytest.mark.slow
def test_a_schedule_over_the_run_cannot_stretch_on_resume(mnist_dir, tmp_path, capsys):
    ckpt = str(tmp_path / "c.npz")
    cli([*SMALL, "--data-dir", mnist_dir, "--epochs", "1", "--save", ckpt, "--schedule", "cosine"])
    capsys.readouterr()
    done = run_train("--resume", ckpt, "--epochs", "3")
    assert done.returncode == 2 and done.stderr.strip() == (
        f"error: --epochs 3: the checkpoint {ckpt} follows a cosine schedule over 1 epochs, which cannot stretch "
        "mid-run: resume with --epochs 1, or give another --schedule")
    metrics = cli(["--resume", ckpt, "--epochs", "2", "--schedule", "step"])  # another schedule may go on
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]


def test_missing_checkpoint_is_a_usage_error(tmp_path):
    done = run_train("--resume", str(tmp_path / "nope.npz"))
    assert done.returncode == 2 and done.stderr.strip() == f"error: --resume {tmp_path / 'nope.npz'}: no such file"


@pytest.mark.slow
def test_divergence_stops_at_once_and_keeps_the_last_good_checkpoint(mnist_dir, tmp_path):
    ckpt = tmp_path / "c.npz"
    done = run_train("--data-dir", mnist_dir, "--train-size", "6400", "--test-size", "100", "--epochs", "1",
                     "--lr", "1000", "--save", str(ckpt), "--save-every", "2", "--step", "reference")  # names z^[l]
    assert done.returncode == 1
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line and "Warning" not in line
    assert line.startswith("error: epoch 1, step ") and ", first non-finite value in z^[" in line
    assert line.endswith(f"the learning rate may be too high (--lr 1000); last good checkpoint: {ckpt}")
    step = int(line.split("step ")[1].split(":")[0])
    good, meta = load_checkpoint(str(ckpt))
    assert meta["state"]["batch"] == (step - 1) // 2 * 2  # the last save before the bad step
    assert all(np.isfinite(a).all() for a in good.values())


WRITER = """
import sys
import numpy as np
from scratchnet import SGD, Network
from scratchnet.loop import RunState
from scratchnet.run.checkpoint import save_checkpoint
from scratchnet.run.config import TrainConfig
net = Network([2048, 2048, 1024, 10], dtype="float64")  # ~50 MB a checkpoint: long enough to be caught
opt = SGD(net, lr=0.1)
cfg = TrainConfig(hidden=(2048, 1024), dtype="float64", batch_size=1, train_size=1000)  # 1000 steps an epoch
sampler = np.random.default_rng(0).bit_generator.state
for i in range(1000):
    net.W[2][0, 0] = opt.t = i  # a valid state at step i, as check_meta wants it
    save_checkpoint(sys.argv[1], net, opt, cfg, RunState(batch=i, sampler_state=sampler, loss_sum=float(i)))
    print(i, flush=True)
"""


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint_whole(tmp_path):
    ckpt = tmp_path / "c.npz"
    rng = np.random.default_rng(0)
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ckpt)], cwd=REPO, stdout=subprocess.PIPE,
                                  text=True)
        writer.stdout.readline()  # one checkpoint is complete
        time.sleep(rng.uniform(0.0, 0.3))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        saved, meta = load_checkpoint(str(ckpt))
        assert saved["W2"][0, 0] == meta["state"]["batch"]  # parameters and meta from the same, whole save
    leftovers = [name for name in os.listdir(tmp_path) if name != "c.npz"]
    assert all(name.startswith(".c.npz.") and name.endswith(".tmp") for name in leftovers)
    subprocess.run([sys.executable, "-c", WRITER.replace("range(1000)", "range(1)"), str(ckpt)], cwd=REPO,
                   check=True, capture_output=True)
    assert os.listdir(tmp_path) == ["c.npz"], "the next save removes what a killed writer left"


@pytest.mark.parametrize("flags,message", [
    (["--save", "x.npz"], "unrecognized arguments: --save x.npz; --save, --save-every and --resume are "
                          "python -m scratchnet.train's: torch_ref saves nothing"),
    (["--plot-samples", "s.png"], "; --plot-samples is python -m scratchnet.train's"),
    (["--device", "auto"], "invalid choice: 'auto' (choose from 'cpu', 'cuda'); --device auto is python -m "
                           "scratchnet.train's"),
])
def test_torch_ref_refuses_scratchnet_only_flags(flags, message, tmp_path, monkeypatch, capsys):
    torch_ref_train = pytest.importorskip("torch_ref.train", reason="torch_ref needs torch: pip install -e '.[test]'")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:  # in this interpreter: torch's import is paid once, not per case
        torch_ref_train.cli(flags)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_checkpoint_is_plain_npz_without_pickle(mnist_dir, tmp_path, capsys):
    ckpt = tmp_path / "c.npz"
    cli([*SMALL, "--data-dir", mnist_dir, "--epochs", "1", "--save", str(ckpt)])
    with np.load(ckpt, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        assert npz["W2"].shape == (32, 784) and npz["W2"].dtype == np.float32
    assert meta["format_version"] == 3 and meta["config"]["hidden"] == [32, 16]
    assert set(meta["manifest"]) == {"numpy", "python"}
    assert len(meta["state"]["metrics"]) == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_input_through_the_python_api(bad):
    from scratchnet import Network
    from scratchnet.errors import UsageError

    x = np.zeros((2, 3))
    x[1, 2] = bad
    with pytest.raises(UsageError, match="input holds NaN or infinity"):
        Network([3, 2]).forward(x)
