# A student's backprop in the rows layout: np.dot, a log-softmax helper, new dicts from the update.
import numpy as np

LAYOUT = "rows"


def forward(W, b, x, sigma):
    acts = {1: x}
    zs = {}
    for layer in sorted(W):
        zs[layer] = np.dot(acts[layer - 1], W[layer].T) + b[layer]
        acts[layer] = sigma[layer](zs[layer])
    return acts, zs


def log_softmax(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def cross_entropy(z_L, y):
    m = len(y)
    log_probs = log_softmax(z_L)
    C = -np.mean(log_probs[np.arange(m), y])
    grad = np.exp(log_probs)
    grad[np.arange(m), y] -= 1
    grad = grad / m
    return C, grad


def quadratic(a_L, z_L, y, sigma_prime):
    m = a_L.shape[0]
    Y = np.zeros_like(a_L)
    Y[np.arange(m), y] = 1
    diff = a_L - Y
    C = np.sum(diff ** 2) / (2 * m)
    return C, diff * sigma_prime(z_L) / m


def backward(W, a, z, delta_L, sigma_prime):
    L = max(W)
    deltas = {L: delta_L}
    dW, db = {}, {}
    for l in range(L, 1, -1):
        dW[l] = np.dot(deltas[l].T, a[l - 1])
        db[l] = np.sum(deltas[l], axis=0)
        if l > 2:
            back = np.dot(deltas[l], W[l])
            deltas[l - 1] = back * sigma_prime[l - 1](z[l - 1])
    return deltas, dW, db


def sgd_update(W, b, dW, db, lr):
    new_W = {l: W[l] - lr * dW[l] for l in W}
    new_b = {l: b[l] - lr * db[l] for l in b}
    return new_W, new_b
