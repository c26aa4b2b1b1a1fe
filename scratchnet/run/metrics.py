"""What a run records: one dict per epoch (losses, accuracy, seconds, samples/s), written as JSON.

scratchnet.train and torch_ref.train record the same fields, so that their files read side by side.
"""

import json
import math
from dataclasses import asdict

from scratchnet.shell.fileio import atomic_write


def run_metrics(cfg, engine, epochs):
    """What a run's main returns and --metrics-out holds: {"config": …, "engine": engine, "epochs": [records …]}.

    "epochs" is a copy of the list given: what the caller keeps appending to (a RunState's metrics) stays its own.
    """
    return {"config": asdict(cfg), "engine": engine, "epochs": list(epochs)}


def epoch_record(epoch, train_loss, test_loss, accuracy, seconds, N):
    """An epoch's entry: the losses and test accuracy, the seconds its N training samples took, and samples/s."""
    return {"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss, "test_accuracy": accuracy,
            "seconds": seconds, "samples_per_second": N / seconds}


def write_metrics(metrics, path):
    """The metrics dict as JSON at path, written whole or not at all; a NaN or infinite number is written as null
    (json.dump would write NaN, which no JSON reader takes)."""
    with atomic_write(path, "w") as f:
        json.dump(finite(metrics), f, indent=2, allow_nan=False)


def finite(value):
    """value with every float that is NaN or ±∞, in any dict or list inside it, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
