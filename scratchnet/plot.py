"""Pictures of a run with matplotlib (the optional extra `plot`): loss and accuracy per epoch."""

from scratchnet.errors import UsageError
from scratchnet.fileio import atomic_write


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
