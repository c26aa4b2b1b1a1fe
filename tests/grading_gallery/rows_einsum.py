# Correct, in an unusual style: every product an einsum, σ′ applied before the product in (BP2).
import numpy as np

LAYOUT = "rows"


def forward(W, b, x, sigma):
    a, z = {1: x}, {}
    for l in range(2, max(W) + 1):
        z[l] = np.einsum("mk,nk->mn", a[l - 1], W[l]) + b[l]
        a[l] = sigma[l](z[l])
    return a, z


def cross_entropy(z_L, y):
    m, n = z_L.shape
    onehot = np.eye(n)[y]
    log_p = z_L - z_L.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    return -np.einsum("mn,mn->", onehot, log_p) / m, (np.exp(log_p) - onehot) / m


def quadratic(a_L, z_L, y, sigma_prime):
    m, n = a_L.shape
    err = a_L - np.eye(n)[y]
    return 0.5 * np.einsum("mn,mn->", err, err) / m, np.einsum("mn,mn->mn", sigma_prime(z_L), err) / m


def backward(W, a, z, delta_L, sigma_prime):
    L = max(W)
    delta, dW, db = {L: delta_L}, {}, {}
    for l in range(L, 1, -1):
        dW[l] = np.einsum("mn,mk->nk", delta[l], a[l - 1])
        db[l] = np.einsum("mn->n", delta[l])
        if l > 2:
            delta[l - 1] = np.einsum("mn,nk->mk", delta[l], W[l]) * sigma_prime[l - 1](z[l - 1])
    return delta, dW, db


def sgd_update(W, b, dW, db, lr):
    for l in W:
        W[l] -= lr * dW[l]
        b[l] -= lr * db[l]
