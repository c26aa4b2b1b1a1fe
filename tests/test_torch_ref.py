"""torch_ref, the tutorial's PyTorch program, against the tutorial's text and against scratchnet.train.

`print(NeuralNetwork())` is compared with the tutorial's printout; `python -m torch_ref.train` with
scratchnet.train's output format line by line and its metric fields; torch_ref's DataLoaders with
scratchnet's batches (same samples, same order, same float32 pixels) for the three sampling schemes;
the quadratic cost with scratchnet's; bad requests with one-line errors.

    python -m pytest tests/test_torch_ref.py
"""

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import torch_ref.model
import torch_ref.train
from scratchnet.losses import quadratic
from scratchnet.mnist.load import load_data
from scratchnet.run.config import TrainConfig
from scratchnet.sampling import minibatches
from scratchnet.shell.console import run_cli
from torch_ref.data import dataloaders, mnist
from torch_ref.model import NeuralNetwork

from conftest import REPO
from helpers import assert_close

TUTORIAL_MODEL = """\
NeuralNetwork(
  (flatten): Flatten(start_dim=1, end_dim=-1)
  (linear_relu_stack): Sequential(
    (0): Linear(in_features=784, out_features=512, bias=True)
    (1): ReLU()
    (2): Linear(in_features=512, out_features=512, bias=True)
    (3): ReLU()
    (4): Linear(in_features=512, out_features=10, bias=True)
  )
)"""


def test_print_model_is_the_tutorials():
    assert str(NeuralNetwork()) == TUTORIAL_MODEL


@pytest.mark.slow
def test_train_prints_what_scratchnet_train_prints(mnist_dir, tmp_path):
    metrics_path, plot = tmp_path / "m.json", tmp_path / "curves.png"
    flags = ["--data-dir", mnist_dir, "--epochs", "1", "--train-size", "1280", "--test-size", "200",
             "--metrics-out", str(metrics_path)]
    if importlib.util.find_spec("matplotlib"):
        flags += ["--plot", str(plot)]
    done = subprocess.run([sys.executable, "-m", "torch_ref.train", *flags], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = ["Epoch 1", "-" * 31, r"loss: \d\.\d{6}  \[    0/ 1280\]", "Test Error: ",
                r" Accuracy: \d{1,3}\.\d%, Avg loss: \d\.\d{6} ", "", "Done!"]
    lines = done.stdout.splitlines()
    assert len(lines) == len(expected), done.stdout
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    metrics = json.loads(metrics_path.read_text())
    assert metrics["engine"] == "torch_ref" and metrics["config"]["train_size"] == 1280
    scratchnet_fields = set(scratchnet_metrics(mnist_dir)["epochs"][0])
    assert set(metrics["epochs"][0]) == scratchnet_fields
    accuracy, loss = re.search(r"Accuracy: ([\d.]+)%, Avg loss: ([\d.]+)", done.stdout).groups()
    assert float(accuracy) == pytest.approx(100 * metrics["epochs"][0]["test_accuracy"], abs=0.05)
    assert float(loss) == pytest.approx(metrics["epochs"][0]["test_loss"], abs=1e-6)
    if "--plot" in flags:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def scratchnet_metrics(mnist_dir):
    """The metrics of a one-batch scratchnet.train run, for the names of its fields."""
    from scratchnet.train import main

    return main(TrainConfig(data_dir=mnist_dir, epochs=1, hidden=(4,), train_size=64, test_size=64))


@pytest.mark.slow
@pytest.mark.parametrize("sampling", ["sequential", "shuffle", "replacement"])
def test_dataloaders_give_scratchnets_batches(mnist_dir, sampling):
    """Two epochs over 200 samples in batches of 64 (the last one 8): same samples, same order, same pixels."""
    cfg = TrainConfig(data_dir=mnist_dir, batch_size=64, sampling=sampling, seed=3, train_size=200, test_size=100)
    (x, y), _ = load_data(cfg, np)
    loader, _ = dataloaders(mnist(mnist_dir, True, 200), mnist(mnist_dir, False, 100), cfg,
                            np.random.default_rng(cfg.seed))
    rng = np.random.default_rng(cfg.seed)
    for epoch in (1, 2):
        expected = list(minibatches(len(x), cfg.batch_size, sampling, rng))
        got = list(loader)
        assert len(got) == len(expected) == 4
        for batch, ((X, labels), idx) in enumerate(zip(got, expected, strict=True)):
            assert_close(X.reshape(len(X), -1).numpy(), x[idx], f"epoch {epoch} batch {batch} pixels", rtol=0)
            assert_close(labels.numpy(), y[idx], f"epoch {epoch} batch {batch} labels", rtol=0)


def test_quadratic_cost_is_scratchnets():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(7, 10))
    y = rng.integers(0, 10, size=7)
    a = 1 / (1 + np.exp(-z))
    C, _ = quadratic(a, z, y, lambda z: a * (1 - a))
    C_t = torch_ref.model.quadratic_cost(torch.from_numpy(a), torch.from_numpy(y))
    assert_close(C_t.numpy(), C, "C", rtol=1e-15)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_a_gpu_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(torch_ref.train.cli, ["--device", "cuda"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: --device cuda: torch sees no CUDA GPU .*use --device cpu\n", err), err


def test_help_lists_scratchnets_flags_that_torch_ref_takes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        torch_ref.train.cli(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "python -m torch_ref.train" in out
    # tests/test_nothing_lost.py, 19
    scratchnet_only = ("step", "plot_samples", "save", "save_every", "resume")
    for field in TrainConfig.__dataclass_fields__:
        assert (f"--{field.replace('_', '-')} " in out) == (field not in scratchnet_only), field
