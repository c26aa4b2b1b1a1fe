# Correct, in an unusual style: explicit Python loops over the samples of the batch (columns layout).
import numpy as np

LAYOUT = "columns"


def forward(W, b, x, sigma):
    m = x.shape[1]
    a, z = {1: x}, {}
    for l in range(2, max(W) + 1):
        z[l] = np.zeros((W[l].shape[0], m))
        for i in range(m):
            z[l][:, i] = W[l] @ a[l - 1][:, i] + b[l][:, 0]
        a[l] = sigma[l](z[l])
    return a, z


def cross_entropy(z_L, y):
    m = z_L.shape[1]
    C, delta_L = 0.0, np.zeros_like(z_L)
    for i in range(m):
        s = z_L[:, i] - z_L[:, i].max()
        log_p = s - np.log(np.exp(s).sum())
        p = np.exp(log_p)
        C -= log_p[y[:, i].argmax()] / m
        delta_L[:, i] = (p - y[:, i]) / m
    return C, delta_L


def quadratic(a_L, z_L, y, sigma_prime):
    m = z_L.shape[1]
    C, delta_L = 0.0, np.zeros_like(z_L)
    for i in range(m):
        err = a_L[:, i] - y[:, i]
        C += 0.5 * err @ err / m
        delta_L[:, i] = sigma_prime(z_L[:, i]) * err / m
    return C, delta_L


def backward(W, a, z, delta_L, sigma_prime):
    L = max(W)
    m = delta_L.shape[1]
    delta = {L: delta_L}
    dW = {l: np.zeros_like(W[l]) for l in W}
    db = {l: np.zeros((W[l].shape[0], 1)) for l in W}
    for l in range(L, 1, -1):
        if l > 2:
            delta[l - 1] = np.zeros_like(z[l - 1])
        for i in range(m):
            d = delta[l][:, i]
            dW[l] += np.outer(d, a[l - 1][:, i])
            db[l][:, 0] += d
            if l > 2:
                delta[l - 1][:, i] = sigma_prime[l - 1](z[l - 1][:, i]) * (W[l].T @ d)
    return delta, dW, db


def sgd_update(W, b, dW, db, lr):
    return {l: W[l] - lr * dW[l] for l in W}, {l: b[l] - lr * db[l] for l in b}
