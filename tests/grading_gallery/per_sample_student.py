# A student's backprop in the per-sample layout, Nielsen's style: delta from the layer above, nabla_w, nabla_b.
import numpy as np

LAYOUT = "per-sample"


def forward(W, b, x, sigma):
    activation = x
    activations = {1: x}
    zs = {}
    for l in range(2, len(W) + 2):
        z = np.dot(W[l], activation) + b[l]
        zs[l] = z
        activation = sigma[l](z)
        activations[l] = activation
    return activations, zs


def cross_entropy(z_L, y):
    shifted = z_L - z_L.max()
    log_p = shifted - np.log(np.exp(shifted).sum())
    p = np.exp(log_p)
    return float(-log_p[y.argmax(), 0]), p - y


def cost_derivative(output_activations, y):
    return output_activations - y


def quadratic(a_L, z_L, y, sigma_prime):
    C = 0.5 * np.linalg.norm(a_L - y) ** 2
    delta = cost_derivative(a_L, y) * sigma_prime(z_L)
    return C, delta


def backward(W, a, z, delta_L, sigma_prime):
    L = len(W) + 1
    nabla_w, nabla_b = {}, {}
    deltas = {L: delta_L}
    delta = delta_L
    nabla_b[L] = delta
    nabla_w[L] = np.dot(delta, a[L - 1].transpose())
    for l in range(L - 1, 1, -1):
        sp = sigma_prime[l](z[l])
        delta = np.dot(W[l + 1].transpose(), delta) * sp
        deltas[l] = delta
        nabla_b[l] = delta
        nabla_w[l] = np.dot(delta, a[l - 1].transpose())
    return deltas, nabla_w, nabla_b


def sgd_update(W, b, dW, db, lr, m):
    for l in W:
        W[l] -= (lr / m) * dW[l]
        b[l] -= (lr / m) * db[l]
