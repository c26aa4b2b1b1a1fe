"""Pictures of a run with matplotlib (the optional extra `plot`): loss and accuracy per epoch, and grids
of MNIST images: training samples with their labels, test samples with predicted and true labels."""

import os

import numpy as np

from scratchnet.backend import to_numpy
from scratchnet.errors import UsageError
from scratchnet.shell.fileio import atomic_write

PREDICTION_GRID = (4, 6)  # rows, columns of test images in the predictions picture


def require_matplotlib(flag):
    """Fail before training, not after it, when the plot could not be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"{flag} needs matplotlib: pip install 'scratchnet[plot]'") from None


def plot_curves(runs, path, title="MNIST"):
    """Train and test loss (left) and test accuracy (right) per epoch, one line style per run.

    Args:
        runs: {name: list of per-epoch metrics dicts (train_loss, test_loss, test_accuracy)}.
        path: the PNG to write (atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for i, (name, epochs) in enumerate(runs.items()):
        x = [e["epoch"] for e in epochs]
        color = f"C{i}"
        ax_loss.plot(x, [e["train_loss"] for e in epochs], "o-", color=color, label=f"{name} train")
        ax_loss.plot(x, [e["test_loss"] for e in epochs], "s--", color=color, label=f"{name} test")
        ax_acc.plot(x, [100 * e["test_accuracy"] for e in epochs], "o-", color=color, label=name)
    ax_loss.set(xlabel="epoch", ylabel="loss (mean over batches)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def predictions_path(path):
    """Where --plot-samples FILE.png puts the predictions grid: FILE_predictions.png, beside it."""
    stem, ext = os.path.splitext(path)
    return f"{stem}_predictions{ext or '.png'}"


def _image_grid(rows, cols, size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return plt, fig, axes.ravel()


def _show_image(ax, x_row):
    """One MNIST row x (784,) as its 28×28 picture, without ticks."""
    ax.imshow(to_numpy(x_row).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_samples(x, y, path, seed=0):
    """The tutorial's 3×3 grid of random training images, each titled with its label.

    Args:
        x: images as rows of pixels/255, (N, 784).  y: labels (N,).
        path: the PNG to write (atomically).  seed: picks the nine images (its own generator).
    """
    plt, fig, axes = _image_grid(3, 3, (5, 5.4))
    picks = np.random.default_rng(seed).choice(len(x), size=min(9, len(x)), replace=False)
    labels = to_numpy(y)
    for ax, i in zip(axes, picks, strict=False):
        _show_image(ax, x[i])
        ax.set_title(f"label {int(labels[i])}", fontsize=10)
    for ax in axes[len(picks):]:
        ax.set_axis_off()
    fig.suptitle("MNIST training samples")
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def plot_predictions(x, y, predict, path):
    """The first test images with the predicted and the true label; the wrong ones titled and framed in red.

    Args:
        x: test images as rows of pixels/255, (N, 784).  y: their labels (N,).
        predict: maps a batch of rows to predicted classes (Network.predict).  path: the PNG to write.
    """
    rows, cols = PREDICTION_GRID
    n = min(rows * cols, len(x))
    predicted, labels = to_numpy(predict(x[:n])), to_numpy(y[:n])
    plt, fig, axes = _image_grid(rows, cols, (1.35 * cols, 1.55 * rows))
    for i, ax in enumerate(axes):
        if i >= n:
            ax.set_axis_off()
            continue
        _show_image(ax, x[i])
        wrong = predicted[i] != labels[i]
        color = "red" if wrong else "black"
        ax.set_title(f"{int(predicted[i])} (true {int(labels[i])})", color=color, fontsize=9,
                     fontweight="bold" if wrong else "normal")
        for spine in ax.spines.values():
            spine.set_visible(bool(wrong))
            spine.set_color("red")
            spine.set_linewidth(3)
    errors = int((predicted != labels).sum())
    fig.suptitle(f"Predicted (true) label of the first {n} test images: {errors} wrong, in red")
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
