# Correct, in float32: the student casts everything to single precision (within float32 rounding).
import numpy as np

LAYOUT = "rows"
f32 = np.float32


def forward(W, b, x, sigma):
    a, z = {1: x.astype(f32)}, {}
    for l in range(2, max(W) + 1):
        z[l] = a[l - 1] @ W[l].astype(f32).T + b[l].astype(f32)
        a[l] = sigma[l](z[l])
    return a, z


def cross_entropy(z_L, y):
    z_L = z_L.astype(f32)
    m = z_L.shape[0]
    s = z_L - z_L.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    p[np.arange(m), y] -= 1
    return -log_p[np.arange(m), y].mean(), p / f32(m)


def quadratic(a_L, z_L, y, sigma_prime):
    a_L, z_L = a_L.astype(f32), z_L.astype(f32)
    m, n = a_L.shape
    err = a_L - np.eye(n, dtype=f32)[y]
    return 0.5 * (err * err).sum() / m, sigma_prime(z_L) * err / f32(m)


def backward(W, a, z, delta_L, sigma_prime):
    L = max(W)
    delta, dW, db = {L: delta_L.astype(f32)}, {}, {}
    for l in range(L, 1, -1):
        dW[l] = delta[l].T @ a[l - 1].astype(f32)
        db[l] = delta[l].sum(axis=0)
        if l > 2:
            delta[l - 1] = sigma_prime[l - 1](z[l - 1].astype(f32)) * (delta[l] @ W[l].astype(f32))
    return delta, dW, db


def sgd_update(W, b, dW, db, lr):
    return ({l: (W[l] - f32(lr) * dW[l].astype(f32)).astype(f32) for l in W},
            {l: (b[l] - f32(lr) * db[l].astype(f32)).astype(f32) for l in b})
