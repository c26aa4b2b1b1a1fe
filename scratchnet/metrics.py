"""What a run records: one dict per epoch (losses, accuracy, seconds, samples/s), written as JSON.

scratchnet.train and torch_ref.train record the same fields, so that their files read side by side.
"""

import json

from scratchnet.fileio import atomic_write


def epoch_record(t, train_loss, test_loss, accuracy, seconds, N):
    """Epoch t's entry: the losses and test accuracy, the seconds its N training samples took, and samples/s."""
    return {"epoch": t, "train_loss": train_loss, "test_loss": test_loss, "test_accuracy": accuracy,
            "seconds": seconds, "samples_per_second": N / seconds}


def write_metrics(metrics, path):
    """The metrics dict as JSON at path, written whole or not at all."""
    with atomic_write(path, "w") as f:
        json.dump(metrics, f, indent=2)
