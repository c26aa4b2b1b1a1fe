# A student's backprop in the columns layout, Andrew Ng's style: Z, A, dZ, a running dZ in backward.
import numpy as np

LAYOUT = "columns"


def forward(W, b, x, sigma):
    A = {1: x}
    Z = {}
    L = len(W) + 1
    for l in range(2, L + 1):
        Z[l] = np.matmul(W[l], A[l - 1]) + b[l]
        A[l] = sigma[l](Z[l])
    return A, Z


def cross_entropy(z_L, y):
    m = z_L.shape[1]
    shift = z_L - np.max(z_L, axis=0)
    log_probs = shift - np.log(np.sum(np.exp(shift), axis=0))
    cost = -np.sum(y * log_probs) / m
    dZ = (np.exp(log_probs) - y) / m
    return cost, dZ


def quadratic(a_L, z_L, y, sigma_prime):
    m = y.shape[1]
    cost = 0.5 * np.sum(np.square(a_L - y)) / m
    dZ = (a_L - y) * sigma_prime(z_L) / m
    return cost, dZ


def backward(W, a, z, delta_L, sigma_prime):
    L = len(W) + 1
    grads_delta = {L: delta_L}
    dW = {}
    db = {}
    dZ = delta_L
    for l in reversed(range(2, L + 1)):
        dW[l] = dZ @ a[l - 1].T
        db[l] = np.sum(dZ, axis=1, keepdims=True)
        if l > 2:
            dA_prev = W[l].T @ dZ
            dZ = dA_prev * sigma_prime[l - 1](z[l - 1])
            grads_delta[l - 1] = dZ
    return grads_delta, dW, db


def sgd_update(W, b, dW, db, lr):
    for l in W:
        W[l] = W[l] - lr * dW[l]
        b[l] = b[l] - lr * db[l]
