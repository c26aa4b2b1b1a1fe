"""The training loop itself, against PyTorch: `python -m scratchnet.train` and `python -m torch_ref.train
--init scratchnet` print the same lines.

Both programs start from the W, b that scratchnet draws for --seed and take the same shuffled batches
(scratchnet.sampling, seeded with --seed); in float64 every loss line, and each epoch's train loss, test loss
and accuracy agree to the 6 decimals they print, over two epochs (so the sampler's state must carry from
one epoch to the next, and "Avg loss" must be the mean over batches). `evaluate` equals torch_ref's test()
on the same weights and test set. tests/test_suite_catches_bugs.py plants bugs in the loop and shows this
file catches them.

    python -m pytest tests/test_loop.py
"""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from scratchnet.loop import evaluate
from scratchnet.mnist.load import load_data
from scratchnet.run.build import network
from scratchnet.run.config import TrainConfig
from scratchnet.run.metrics import epoch_record, run_metrics
from scratchnet.train import main as scratchnet_main
from torch_ref.bridge import to_torch
from torch_ref.model import loss_function
from torch_ref.train import main as torch_main
from torch_ref.train import test as torch_test

SMALL = {"train_size": 3200, "test_size": 500, "hidden": (32, 16), "batch_size": 16, "lr": 0.05,
         "epochs": 2, "dtype": "float64", "sampling": "shuffle", "seed": 4}  # 200 steps an epoch: 2 loss lines


def rounded(metrics):
    return [{name: f"{e[name]:.6f}" for name in ("train_loss", "test_loss", "test_accuracy")} for e in metrics]


@pytest.mark.slow
def test_scratchnet_train_prints_what_torch_ref_prints(mnist_dir, capsys):
    cfg = TrainConfig(data_dir=mnist_dir, **SMALL)
    ours = scratchnet_main(cfg)
    printed = capsys.readouterr().out
    theirs = torch_main(cfg, init="scratchnet")
    printed_by_torch = capsys.readouterr().out
    assert printed.count("\nloss: ") == 2 * 2 and printed.count("Accuracy: ") == 2
    assert printed.splitlines() == printed_by_torch.splitlines()
    assert rounded(ours["epochs"]) == rounded(theirs["epochs"])


@pytest.mark.slow
def test_evaluate_is_torch_refs_test(mnist_dir):
    """Accuracy and the tutorial's "Avg loss" (the mean over batches of the batch-mean loss, a last batch of 4)."""
    cfg = TrainConfig(data_dir=mnist_dir, test_size=500, dtype="float64", batch_size=16, hidden=(32, 16))
    _, (x_test, y_test) = load_data(cfg, np)
    net = network(cfg, np)
    loader = DataLoader(TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)), batch_size=16)
    accuracy, loss = evaluate(net, x_test, y_test, 16)
    expected_accuracy, expected_loss = torch_test(loader, to_torch(net), loss_function(cfg.loss), cfg)
    assert accuracy == expected_accuracy
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12, err_msg="Avg loss")


def test_the_returned_metrics_are_a_copy_not_the_running_record():
    """run_metrics copies the epochs: what main returned (or --metrics-out wrote) never changes after the fact."""
    running = [epoch_record(1, 2.3, 2.2, 0.31, 2.0, 60000)]
    metrics = run_metrics(TrainConfig(), "scratchnet", running)
    running.append(epoch_record(2, 2.1, 2.0, 0.45, 2.0, 60000))
    assert metrics["epochs"] == running[:1] and metrics["epochs"] is not running
    assert metrics["engine"] == "scratchnet" and metrics["config"]["epochs"] == TrainConfig().epochs
