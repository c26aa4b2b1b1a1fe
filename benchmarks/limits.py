"""How far every contender is from the hardware: the epoch's FLOPs over the best sgemm rate measured here.

One step of the tutorial's model is 8 matrix products (for m samples and layers n_1 … n_L):

    forward     z^[l] = a^[l-1] (W^[l])ᵀ      (m × n_{l-1}) (n_{l-1} × n_l)         l = 2 … L
    (BP4)       ∂C/∂W^[l] = (δ^[l])ᵀ a^[l-1]  (n_l × m) (m × n_{l-1})               l = L … 2
    (BP2)       (W^[l])ᵀ δ^[l] = δ^[l] W^[l]  (m × n_l) (n_l × n_{l-1})             l = L … 3

each 2·M·N·K floating-point operations: 1.93 × 10^11 for an epoch of the 60,000 MNIST images on
784-512-512-10. The compute limit is that over the best rate of one large float32 product (LIMIT_SIZE³)
on all cores; the elementwise equations and the update are not counted, so no engine can reach it.
"""

import time

import numpy as np

LIMIT_SIZE = 2048


def products(sizes, m):
    """The step's 8 products in the order the step runs them: (label, (M, N, K), (A transposed, B transposed)),
    out (M, N) = A (M, K) · B (K, N), each operand stored as the engine stores it (W^[l]ᵀ is a view of W^[l])."""
    L = len(sizes)
    n = {l: sizes[l - 1] for l in range(1, L + 1)}  # n_l, layers numbered from 1 as in the notation
    forward = [(f"z^[{l}] = a^[{l - 1}] W^[{l}]ᵀ", (m, n[l], n[l - 1]), (False, True)) for l in range(2, L + 1)]
    backward = []
    for l in range(L, 1, -1):
        backward.append((f"(BP4) δ^[{l}]ᵀ a^[{l - 1}]", (n[l], n[l - 1], m), (True, False)))
        if l > 2:
            backward.append((f"(BP2) δ^[{l}] W^[{l}]", (m, n[l - 1], n[l]), (False, False)))
    return forward + backward


def epoch_flops(sizes, samples):
    """FLOPs of the products over one epoch of `samples` (linear in m, so the batch size does not matter)."""
    return sum(2 * M * N * K for _, (M, N, K), _ in products(sizes, 1)) * samples


def best_sgemm_rate(size=LIMIT_SIZE, repeats=3):
    """The best FLOP/s of np.matmul on one size³ float32 product (numpy's BLAS, at its current thread count:
    benchmarks.worker sets it to every core)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def product_times(sizes, m, repeats, rate):
    """Each of the step's products timed alone (np.matmul into a preallocated out, median of `repeats`).

    Returns one dict per product: label, shape (M, N, K), microseconds, GFLOP/s, and the fraction of `rate`.
    """
    rng = np.random.default_rng(0)
    rows = []
    for label, (M, N, K), (trans_a, trans_b) in products(sizes, m):
        a = rng.standard_normal((K, M) if trans_a else (M, K), dtype=np.float32)
        b = rng.standard_normal((N, K) if trans_b else (K, N), dtype=np.float32)
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)  # stored as the engine stores them
        out = np.empty((M, N), np.float32)
        seconds = []
        for _ in range(repeats + 1):  # the first one warms up
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            seconds.append(time.perf_counter() - start)
        median = float(np.median(seconds[1:]))
        flops = 2 * M * N * K
        rows.append({"product": label, "shape": [M, N, K], "microseconds": median * 1e6,
                     "gflops": flops / median / 1e9, "fraction_of_limit": flops / median / rate})
    return rows
