"""JAX jit: the tutorial's whole step (forward, cross-entropy, jax.grad, SGD) compiled once by XLA.

The same initial weights (scratchnet's seed-0 draw, in torch's (n_l, n_{l-1}) layout) and the same batches
in dataset order: the training set is put on the device once, and the step slices its batch out of it
inside the compiled function, so each step is one call. The epoch's last, partial batch is a second shape,
compiled by `compile_shapes()` before any timing. XLA runs on its own thread pool: `--threads 1` turns
it to one thread (XLA_FLAGS, set before jax is imported: benchmarks/worker.py); otherwise XLA's default.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np


def _loss(params, x, y):
    """C = −(1/m) Σᵢ log softmax(z^[L])ᵢ[yᵢ], with a^[l] = relu(a^[l-1] W^[l]ᵀ + b^[l]) for the hidden layers."""
    a = x
    for W, b in params[:-1]:
        a = jax.nn.relu(a @ W.T + b)
    W, b = params[-1]
    z = a @ W.T + b
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), y[:, None], axis=1))


@functools.partial(jax.jit, static_argnames=("m",), donate_argnums=(0,))
def _step(params, x_all, y_all, start, lr, m):
    x = jax.lax.dynamic_slice_in_dim(x_all, start, m)
    y = jax.lax.dynamic_slice_in_dim(y_all, start, m)
    C, grads = jax.value_and_grad(_loss)(params, x, y)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads), C


class JaxJit:
    name = "JAX jit"

    def __init__(self, work):
        self.work = work
        self.x, self.y = jnp.asarray(work.x_train), jnp.asarray(work.y_train)
        self.reset()

    def reset(self):
        net = self.work.initial
        self.params = [(jnp.asarray(net.W[l]), jnp.asarray(net.b[l])) for l in range(2, net.L + 1)]
        self.batch = 0

    def steps(self, n):
        m, N = self.work.batch_size, len(self.work.x_train)
        for _ in range(n):
            start = self.batch * m
            self.params, self.C = _step(self.params, self.x, self.y, start, self.work.lr, m=min(m, N - start))
            self.batch = (self.batch + 1) % self.work.batches_per_epoch

    def compile_shapes(self):
        """One step on a full batch and one on the epoch's last batch: every shape the epoch will see."""
        self.steps(1)
        self.batch = self.work.batches_per_epoch - 1
        self.steps(1)
        self.sync()

    def sync(self):
        jax.block_until_ready(self.params)

    def accuracy(self):
        a = jnp.asarray(self.work.x_test)
        for W, b in self.params[:-1]:
            a = jax.nn.relu(a @ W.T + b)
        W, b = self.params[-1]
        return float(np.mean(np.asarray(jnp.argmax(a @ W.T + b, axis=1)) == self.work.y_test))


CONTENDERS = {"JAX jit": JaxJit}
