# Correct, in the dtype it is given: every constant cast to the arrays' dtype, so float32 cases stay float32.
import numpy as np

LAYOUT = "rows"


def forward(W, b, x, sigma):
    a, z = {1: x}, {}
    for l in range(2, max(W) + 1):
        z[l] = a[l - 1] @ W[l].T + b[l]
        a[l] = sigma[l](z[l])
    return a, z


def cross_entropy(z_L, y):
    dt = z_L.dtype.type
    m = z_L.shape[0]
    s = z_L - z_L.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    p[np.arange(m), y] -= 1
    return -log_p[np.arange(m), y].mean(), p / dt(m)


def quadratic(a_L, z_L, y, sigma_prime):
    dt = a_L.dtype.type
    m, n = a_L.shape
    err = a_L - np.eye(n, dtype=a_L.dtype)[y]
    return dt(0.5) * (err * err).sum() / dt(m), sigma_prime(z_L) * err / dt(m)


def backward(W, a, z, delta_L, sigma_prime):
    L = max(W)
    delta, dW, db = {L: delta_L}, {}, {}
    for l in range(L, 1, -1):
        dW[l] = delta[l].T @ a[l - 1]
        db[l] = delta[l].sum(axis=0)
        if l > 2:
            delta[l - 1] = sigma_prime[l - 1](z[l - 1]) * (delta[l] @ W[l])
    return delta, dW, db


def sgd_update(W, b, dW, db, lr):
    alpha = W[max(W)].dtype.type(lr)
    return {l: W[l] - alpha * dW[l] for l in W}, {l: b[l] - alpha * db[l] for l in b}
