"""Minibatches for one epoch, by the three schemes of the tutorial's stochastic gradient descent.

- "sequential": in dataset order, no randomness (what the PyTorch tutorial's DataLoader does);
- "shuffle": without replacement, a fresh permutation each epoch, each sample used exactly once;
- "replacement": with replacement, each batch m indices drawn uniformly, ⌈N/m⌉ batches an epoch.

Both engines draw their batches from this one generator (torch_ref included), so that given the same
seeded `rng` they see the very same samples in the very same order.
"""

import math

import numpy as np

SAMPLING = ("sequential", "shuffle", "replacement")


def minibatches(N, m, scheme, rng):
    """Yield the index of each batch of one epoch: a slice (sequential) or an int array of ≤ m indices."""
    if scheme == "sequential":
        for start in range(0, N, m):
            yield slice(start, min(start + m, N))
    elif scheme == "shuffle":
        order = rng.permutation(N)
        for start in range(0, N, m):
            yield order[start:start + m]
    elif scheme == "replacement":
        for _ in range(math.ceil(N / m)):
            yield rng.integers(0, N, size=m)
    else:
        raise ValueError(f"unknown sampling scheme {scheme!r}: use one of {', '.join(SAMPLING)}")


def epoch_batches(N, m, scheme, rng, xp=np):
    """The list of one epoch's batch indices, each index array on xp's device (one transfer for the epoch)."""
    batches = list(minibatches(N, m, scheme, rng))
    if xp is np or scheme == "sequential":
        return batches  # NumPy arrays, or slices: nothing to move
    flat, start, moved = xp.asarray(np.concatenate(batches)), 0, []
    for idx in batches:
        moved.append(flat[start:start + len(idx)])
        start += len(idx)
    return moved


def batches_per_epoch(N, m):
    """⌈N/m⌉, the same for all three schemes."""
    return math.ceil(N / m)
