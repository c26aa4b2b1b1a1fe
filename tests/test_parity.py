"""Trajectory parity: scratchnet's training run against torch_ref's, step by step, on real MNIST.

torch_ref.compare starts both engines from the same W, b (the bridge copies them bit for bit), feeds them
the same NumPy batches from one index generator, and measures after every step the loss difference
|C_s − C_t| and at the end max|θ_s − θ_t| / max(max|θ_s|, max|θ_t|) for each W^[l], b^[l]. Here those figures must stay
within compare.tolerance_for(dtype, steps) for float64 and float32: 200 steps of the tutorial's
784-512-512-10 model, and
40-step runs of a smaller net for each option (momentum, weight decay, quadratic cost, sigmoid, tanh,
shuffled and with-replacement sampling). Planted bugs show the comparison can fail, with exit status 1.

    python -m pytest tests/test_parity.py
"""

import json
import re

import numpy as np
import pytest

from scratchnet.run.config import TrainConfig
from scratchnet.shell.console import run_cli
from scratchnet.train import load_data
from torch_ref import compare
from torch_ref.compare import ParityError, breaches, side_by_side, tolerance_for

from helpers import assert_close


@pytest.fixture(scope="module")
def splits(mnist_dir):
    """splits(dtype): MNIST as scratchnet.train.load_data returns it (all 60000 training, 1000 test samples)."""
    loaded = {}

    def get(dtype):
        if dtype not in loaded:
            loaded[dtype] = load_data(TrainConfig(data_dir=mnist_dir, dtype=dtype, test_size=1000), np)
        return loaded[dtype]

    return get


def small(splits, dtype):
    """The first 1250 training samples (19 full batches of 64 and one of 34) and 500 test samples."""
    (x_train, y_train), (x_test, y_test) = splits(dtype)
    return (x_train[:1250], y_train[:1250]), (x_test[:500], y_test[:500])


def assert_engines_agree(report, engines):
    """Every W^[l], b^[l] within tolerance · max|θ_t| of torch's, and every step's loss within tolerance."""
    net = engines.net
    tol = tolerance_for(str(net.dtype), report["steps"])
    for l, linear in zip(range(2, net.L + 1), engines.model.linears(), strict=True):
        for name, theta_s, theta_t in (("W", net.W[l], linear.weight), ("b", net.b[l], linear.bias)):
            theta_t = theta_t.detach().numpy()
            assert_close(theta_s, theta_t, f"{name}[{l}] after {report['steps']} steps",
                         rtol=0, atol=tol["parameters"] * np.abs(theta_t).max())
    assert report["max_loss_difference"] <= tol["loss"], (
        f"loss differs by {report['max_loss_difference']:.1e} at step {report['max_loss_difference_step']}")
    assert breaches(report) == []


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_tutorials_model_follows_torch_for_200_steps(splits, dtype):
    report, engines = side_by_side(TrainConfig(dtype=dtype), splits(dtype), steps=200)
    assert report["steps"] == 200 and engines.net.sizes == [784, 512, 512, 10]
    assert_engines_agree(report, engines)
    scratchnet, torch_ref = report["epochs"]["scratchnet"][0], report["epochs"]["torch_ref"][0]
    assert scratchnet["test_accuracy"] == pytest.approx(torch_ref["test_accuracy"], abs=2 / 1000)


OPTIONS = {
    "momentum": {"momentum": 0.9},
    "weight-decay": {"weight_decay": 1e-2},
    "momentum-and-weight-decay": {"momentum": 0.9, "weight_decay": 1e-2},
    "quadratic": {"loss": "quadratic", "lr": 0.5},
    "sigmoid": {"activation": "sigmoid", "lr": 0.5},
    "tanh": {"activation": "tanh"},
    "shuffle": {"sampling": "shuffle"},
    "replacement": {"sampling": "replacement"},
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_follows_torch_for_40_steps(splits, dtype, option):
    """Two epochs of 20 batches (the last one partial), so samplers also carry their rng across epochs."""
    cfg = TrainConfig(**{"hidden": (64, 32), "lr": 0.05, "epochs": 2, "dtype": dtype, "seed": 1} | OPTIONS[option])
    report, engines = side_by_side(cfg, small(splits, dtype))
    assert report["steps"] == 40
    assert_engines_agree(report, engines)
    assert report["epochs"]["scratchnet"][-1]["train_loss"] < report["epochs"]["scratchnet"][0]["train_loss"]


def plant(monkeypatch, bug):
    """Make compare build its engines as usual, then apply `bug(net, opt)` to scratchnet's side."""
    build_engines = compare.build_engines

    def planted(cfg, N):
        engines = build_engines(cfg, N)
        bug(engines.net, engines.opt)
        return engines

    monkeypatch.setattr(compare, "build_engines", planted)


def drop_sigma_prime(net, opt):
    net.sigma_prime[2] = np.ones_like  # (BP2) without σ′(z^[2])


def longer_steps(net, opt):
    opt.lr *= 1 + 1e-6  # α one part in a million too large


@pytest.mark.parametrize("bug", [drop_sigma_prime, longer_steps])
def test_a_planted_bug_breaks_float64_parity(splits, monkeypatch, bug):
    plant(monkeypatch, bug)
    cfg = TrainConfig(hidden=(64, 32), lr=0.05, dtype="float64")
    report, _ = side_by_side(cfg, small(splits, "float64"), steps=10)
    assert any(phrase.startswith("W[2] differs") for phrase in breaches(report)), breaches(report)


def test_a_nan_counts_as_beyond_tolerance():
    report = {"config": {"dtype": "float32"}, "max_loss_difference": float("inf"), "max_loss_difference_step": 3,
              "parameter_differences": {2: {"W": float("nan"), "b": 0.0}}, "tolerances": tolerance_for("float32", 3)}
    assert breaches(report) == ["W[2] differs by nan relative (> 0.0001)",
                                "the loss differs by inf at step 3 (> 1e-05)"]


def compare_cli(mnist_dir, *flags):
    return run_cli(compare.cli, ["--data-dir", mnist_dir, "--train-size", "640", "--test-size", "100",
                                 "--hidden", "32", "--dtype", "float64", *flags])


@pytest.mark.slow
def test_compare_prints_both_engines_side_by_side(mnist_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot, metrics = tmp_path / "both.png", tmp_path / "both.json"
    report = compare_cli(mnist_dir, "--epochs", "2", "--steps", "15", "--plot", str(plot), "--metrics-out",
                         str(metrics))
    lines = capsys.readouterr().out.splitlines()
    row = r" +\d+ +\d\.\d{12} +\d\.\d{12} +\d\.\de[+-]\d\d"
    accuracy = r"Test accuracy: scratchnet \d+\.\d%, torch_ref \d+\.\d%   Avg loss: \d\.\d{6} vs \d\.\d{6}"
    layer = r"  layer \d \(\d+ → \d+\) +W \d\.\de[+-]\d\d   b \d\.\de[+-]\d\d"
    expected = [r"scratchnet vs torch_ref, float64: 784-32-10 relu, cross-entropy, SGD α=0.001 μ=0 λ=0, "
                r"m=64 sequential, seed 0",
                r"tolerances: relative parameter difference ≤ 1e-12, loss difference ≤ 1e-12", "",
                "Epoch 1", "-" * 31, r" +step +scratchnet loss +torch_ref loss +\|difference\|",
                row.replace(r"\d+", "0", 1), row.replace(r"\d+", "9", 1), accuracy, "",
                "Epoch 2", "-" * 31, r" +step +scratchnet loss +torch_ref loss +\|difference\|",
                row.replace(r"\d+", "14", 1), accuracy, "",
                r"After 15 steps, the largest relative parameter difference max\|θ_s − θ_t\| / "
                r"max\(max\|θ_s\|, max\|θ_t\|\):",
                layer, layer, r"The largest loss difference \|C_s − C_t\|: \d\.\de[+-]\d\d at step \d+",
                "Parity holds in float64: every difference is within its tolerance."]
    assert len(lines) == len(expected), "\n".join(lines)
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert report["steps"] == 15 and [e["epoch"] for e in report["epochs"]["torch_ref"]] == [1, 2]
    assert json.loads(metrics.read_text())["max_loss_difference"] == report["max_loss_difference"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_compare_exits_1_with_one_line_when_parity_breaks(mnist_dir, monkeypatch, capsys):
    plant(monkeypatch, longer_steps)
    with pytest.raises(SystemExit) as exit_info:
        compare_cli(mnist_dir, "--steps", "5")
    assert exit_info.value.code == ParityError.exit_code == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: scratchnet and torch_ref disagree in float64: W\[2\] differs by .*\n", err), err


def test_float32_parameter_tolerance_grows_per_epoch_of_steps():
    assert tolerance_for("float32", 200) == {"parameters": 1e-4, "loss": 1e-5}
    assert tolerance_for("float32", 5 * 938) == {"parameters": pytest.approx(5e-4), "loss": 1e-5}
    assert tolerance_for("float64", 5 * 938) == {"parameters": 1e-12, "loss": 1e-12}
