"""The training loop, as Nielsen's SGD reads: for each epoch, its batches, a step on each, the loss now and
then, and the test; it prints what the PyTorch tutorial prints.

The step is scratchnet.step's ReferenceStep or a fused step of scratchnet.fast: the loop never asks which, and
calls `step.sync()` wherever it reads what the steps did (the printed loss, the end of the epoch). Where the run
stands is a RunState, which the loop advances at every step. Everything else around an epoch (the progress bar,
checkpoints, Ctrl-C, the metrics) is run control (scratchnet.run.control), reached through `control`.
"""

from dataclasses import dataclass, field

import numpy as np

from scratchnet.backend import get_xp
from scratchnet.sampling import epoch_batches

LOG_EVERY = 100  # batches between loss lines, as in the tutorial


@dataclass
class RunState:
    """Where a run stands: the next step is on batch `batch` of epoch `epoch + 1` (what a checkpoint keeps)."""

    epoch: int = 0                                   # epochs completed
    batch: int = 0                                   # batches done (steps taken) in the current epoch
    sampler_state: dict = field(default_factory=dict)  # rng.bit_generator.state at the current epoch's start
    loss_sum: float = 0.0                            # Σ C over the steps of the current epoch so far
    metrics: list = field(default_factory=list)      # one dict per completed epoch


def train(step, net, splits, cfg, state, control):
    """Train from where `state` (a RunState) stands to cfg.epochs; state advances with every step.

    splits: ((x, y), (x_test, y_test)) as scratchnet.mnist.load.load_data returns them.
    """
    (x, y), (x_test, y_test) = splits
    N, m = len(x), cfg.batch_size
    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        print(epoch_header(epoch))
        sampler = np.random.default_rng()
        sampler.bit_generator.state = state.sampler_state  # the epoch's batches, as first drawn (on resume too)
        batches = epoch_batches(N, m, cfg.sampling, sampler, get_xp(x))
        control.start_epoch(epoch)
        for batch in range(state.batch, len(batches)):     # after a resume, from the batch it stopped at
            idx = batches[batch]
            C = step.step(x[idx], y[idx])
            state.loss_sum, state.batch = state.loss_sum + C, batch + 1
            if batch % LOG_EVERY == 0:
                step.sync()
                control.print(loss_line(float(C), batch * m, N))
            control.after_step()
        step.sync()
        control.end_batches()
        train_loss = float(state.loss_sum) / state.batch   # the mean over batches of the batch-mean C
        accuracy, test_loss = evaluate(net, x_test, y_test, m)
        print(test_lines(accuracy, test_loss))
        state.epoch, state.batch, state.loss_sum = epoch, 0, 0.0
        state.sampler_state = sampler.bit_generator.state  # the next epoch draws on from here
        control.end_epoch(epoch, train_loss, test_loss, accuracy)
    print("Done!")


def evaluate(net, x, y, batch_size):
    """Test accuracy and the mean over batches of the batch-mean loss (the tutorial's "Avg loss")."""
    loss, correct, n_batches = 0.0, 0, 0
    for start in range(0, len(x), batch_size):
        C, a_L = net.evaluate(x[start:start + batch_size], y[start:start + batch_size])  # keeps no training cache
        loss = loss + C
        correct = correct + (a_L.argmax(axis=1) == y[start:start + batch_size]).sum()
        n_batches += 1
    return int(correct) / len(x), float(loss) / n_batches


def epoch_header(epoch):
    """The tutorial's first lines of an epoch (numbered from 1)."""
    return f"Epoch {epoch}\n-------------------------------"


def loss_line(C, current, N):
    """The tutorial's line every LOG_EVERY batches: the batch's C, and how many samples came before it."""
    return f"loss: {C:>7f}  [{current:>5d}/{N:>5d}]"


def test_lines(accuracy, loss):
    """The tutorial's lines after each epoch's test."""
    return f"Test Error: \n Accuracy: {(100 * accuracy):>0.1f}%, Avg loss: {loss:>8f} \n"
