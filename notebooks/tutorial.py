# %% [markdown]
# # The PyTorch tutorial, by hand: backpropagation in NumPy with scratchnet
#
# This is the PyTorch "Build the neural network / Optimizing model parameters" tutorial, cell by cell, with
# the one thing PyTorch hides written out: the backward pass. The model is the tutorial's 784-512-512-10
# ReLU network on MNIST, trained with SGD on the cross-entropy; every gradient is computed twice, once below
# by the equations of [docs/backprop.md](../docs/backprop.md), (BP1)–(BP4), and once by scratchnet's engine
# (`scratchnet/network.py`, `scratchnet/losses.py`), and, when PyTorch is installed, a third time by autograd.
#
# It runs top to bottom on a CPU in about a minute and needs only NumPy and matplotlib; without torch the
# autograd column is left out and the cells say so. To keep it short it trains on the first 8,000 training
# images for 3 epochs (`python -m scratchnet.train` runs the tutorial's full 5 epochs × 60,000 images).
#
# *This notebook is generated from `notebooks/tutorial.py`: edit that file, then run
# `python notebooks/build.py` (a test fails when the two differ).*

# %%
import pathlib
import tempfile

import numpy as np
from IPython.display import Image, display

from scratchnet.loop import evaluate
from scratchnet.mnist.load import load_data
from scratchnet.network import Network
from scratchnet.optim import SGD
from scratchnet.run.config import TrainConfig
from scratchnet.run.plot import plot_curves, plot_predictions, plot_samples
from scratchnet.sampling import minibatches
from scratchnet.step import ReferenceStep

ROOT = pathlib.Path.cwd().parent if pathlib.Path.cwd().name == "notebooks" else pathlib.Path.cwd()
DATA_DIR = str(ROOT / "data")      # MNIST is fetched there on the first run, as python -m scratchnet.train does
PICTURES = tempfile.mkdtemp()      # the plots are written as PNG files, then shown
try:
    import torch  # noqa: F401  (only to know whether autograd's values can be shown)

    TORCH = True
except ModuleNotFoundError:
    TORCH = False
np.set_printoptions(precision=4, suppress=True, linewidth=110)
print("torch is installed: autograd's values are shown beside the engine's" if TORCH else
      "torch is not installed: the autograd comparisons are skipped (pip install -e '.[test]' adds it)")

# %% [markdown]
# ## 1. The data
#
# The tutorial loads MNIST with `datasets.MNIST(..., transform=ToTensor())`: 60,000 training and 10,000 test
# images of 28×28 pixels scaled to [0, 1]. scratchnet reads the same files and flattens each image into a row
# of 784 numbers, so a batch of m images is an (m, 784) array, `a[1]` = x.

# %%
(x_train, y_train), (x_test, y_test) = load_data(TrainConfig(data_dir=DATA_DIR), np)
print(f"x_train {x_train.shape} {x_train.dtype}, y_train {y_train.shape};  "
      f"x_test {x_test.shape}, y_test {y_test.shape}")
print(f"pixels in [{x_train.min()}, {x_train.max()}], labels {sorted(set(y_train[:100].tolist()))}")

# %% [markdown]
# The tutorial's 3×3 grid of random training images, with their labels:

# %%
plot_samples(x_train, y_train, f"{PICTURES}/samples.png", seed=0)
display(Image(filename=f"{PICTURES}/samples.png", width=360))

# %% [markdown]
# ## 2. The network
#
# The tutorial's `NeuralNetwork` is `Flatten`, then `Linear(784, 512)`, `ReLU`, `Linear(512, 512)`, `ReLU`,
# `Linear(512, 10)`. In the notes' notation that is L = 4 layers of widths n_1..n_4 = 784, 512, 512, 10, and
# for l = 2..L:  z^[l] = W^[l] a^[l-1] + b^[l],  a^[l] = σ(z^[l]), with σ = ReLU on the hidden layers and the
# identity on the last, whose z^[4] are the logits. W^[l] has `nn.Linear`'s (out, in) shape, drawn like it.

# %%
net = Network([784, 512, 512, 10], activation="relu", loss="cross-entropy", dtype="float32", seed=0)
print("Network(")
for l in range(2, net.L + 1):
    print(f"  (layer {l}): z^[{l}] = W^[{l}] a^[{l - 1}] + b^[{l}], W^[{l}] {net.W[l].shape}, b^[{l}] {net.b[l].shape};"
          f"  a^[{l}] = {net.activation[l]}(z^[{l}])")
print(")")
if TORCH:
    from torch_ref.model import NeuralNetwork

    print("\nthe tutorial's print(model), for comparison:")
    print(NeuralNetwork())

# %% [markdown]
# ## 3. One batch, forward
#
# `net.forward(x)` runs the recurrence and keeps every z^[l] and a^[l] (dicts keyed by the layer number l).
# The cost is the cross-entropy of the logits, the mean over the batch of −log p_y with p = softmax(z^[4]);
# `net.cost(y)` returns it together with δ^[L] = ∂C/∂z^[L], where the backward pass starts.

# %%
m = 64
x, y = x_train[:m], y_train[:m]
net.forward(x)
for l in range(1, net.L + 1):
    z_shape = f"z^[{l}] {net.z[l].shape}" if l > 1 else "a^[1] = x"
    print(f"layer {l}: {z_shape:<18} a^[{l}] {net.a[l].shape}")
C, delta_L = net.cost(y)
print(f"C = {C:.6f}   (an untrained network guesses: log 10 = {np.log(10):.6f})")
dW, db = net.backward(delta_L)  # the engine's gradients, to compare each hand-written step with

if TORCH:
    from torch_ref.autograd import torch_gradients

    ref = torch_gradients(net, x, y)  # the same network and batch through PyTorch's autograd
else:
    ref = None
    print("torch is not installed: no autograd column below")


def compare(name, mine, engine, autograd=None):
    """One line: what the cell computed, and how far it is from the engine's value (and autograd's)."""
    line = f"{name:<11} {str(mine.shape):<11} max |this − engine| = {np.abs(mine - engine).max():.1e}"
    if autograd is not None:
        line += f"    max |this − autograd| = {np.abs(mine - autograd).max():.1e}"
    print(line)


# %% [markdown]
# ## 4. Backward, equation by equation
#
# Each cell writes one equation of the notes with NumPy, on the batch above, and compares it with the engine
# (`net.delta`, `dW`, `db`) and with autograd. The values agree to float32's rounding (about 1e-7 relative).
#
# **(BP1)** For cross-entropy on softmax the output error collapses to δ^[L] = (p − onehot(y)) / m
# (docs/backprop.md, section 6): the predicted probabilities minus the truth, divided by the batch size.

# %%
L = net.L
z, a = net.z, net.a
e = np.exp(z[L] - z[L].max(axis=1, keepdims=True))  # softmax(z) = softmax(z − max z): no overflow
p = e / e.sum(axis=1, keepdims=True)
onehot = np.eye(10, dtype=p.dtype)[y]
delta = {L: (p - onehot) / m}                        # (BP1)
print("δ^[4] of the first image:", delta[L][0], " label", y[0])
compare("δ^[4]", delta[L], net.delta[L], ref.delta[L] if TORCH else None)

# %% [markdown]
# **(BP2)** The error moves back one layer at a time: δ^[l] = σ′(z^[l]) ⊙ (W^[l+1])ᵀ δ^[l+1]. With the batch
# in rows, (W^[l+1])ᵀ δ^[l+1] is `delta @ W`, and ReLU′(z) is 1 where z > 0 and 0 elsewhere (0 at z = 0, as
# in torch). Each hidden unit that was off in the forward pass passes no error back.

# %%
for l in range(L - 1, 1, -1):
    relu_prime = (z[l] > 0).astype(z[l].dtype)
    delta[l] = relu_prime * (delta[l + 1] @ net.W[l + 1])  # (BP2)
    print(f"δ^[{l}] of the first image, its first 8 units: {delta[l][0, :8]};  {(delta[l][0] != 0).sum()} of "
          f"{delta[l].shape[1]} units carry error back")
    compare(f"δ^[{l}]", delta[l], net.delta[l], ref.delta[l] if TORCH else None)

# %% [markdown]
# **(BP3)** and **(BP4)** read the gradients off each δ^[l]: ∂C/∂b^[l] = δ^[l] and
# ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ, both summed over the batch (the 1/m is already inside δ^[L]). In rows:
# `delta.sum(axis=0)` and `delta.T @ a`, the latter of W^[l]'s own shape (n_l, n_{l-1}).

# %%
for l in range(L, 1, -1):
    db_l = delta[l].sum(axis=0)       # (BP3)
    dW_l = delta[l].T @ a[l - 1]      # (BP4)
    compare(f"∂C/∂b^[{l}]", db_l, db[l], ref.db[l] if TORCH else None)
    compare(f"∂C/∂W^[{l}]", dW_l, dW[l], ref.dW[l] if TORCH else None)

# %% [markdown]
# One step further back gives the gradient with respect to the input, ∂C/∂x = (W^[2])ᵀ δ^[2] (no σ′: x has no
# activation). It says which pixels would change the cost the most; `python -m scratchnet.explain --html
# PAGE` draws it beside the digit.

# %%
dx = delta[2] @ net.W[2]
compare("∂C/∂x", dx, net.input_gradient(), ref.input_gradient if TORCH else None)

# %% [markdown]
# ## 5. Training
#
# The tutorial's `train_loop` and `test_loop`: a step is forward, cost and δ^[L], backward, update
# (`scratchnet.step.ReferenceStep.step`, the same four lines as above, then θ ← θ − α ∂C/∂θ), and the loss is
# printed every 100 batches. To stay near a minute on two cores this trains on the first 8,000 images, 3 epochs, with
# α = 0.1: the tutorial's α = 1e-3 needs its full 5 epochs of 60,000 images to reach 72%.

# %%
train_size, epochs, batch_size, lr = 8000, 3, 64, 0.1
x_small, y_small = x_train[:train_size], y_train[:train_size]
opt = SGD(net, lr=lr)
step = ReferenceStep(net, opt)
rng = np.random.default_rng(0)


def train_loop(x, y, net, opt):
    N, losses = len(x), []
    for batch, idx in enumerate(minibatches(N, batch_size, "sequential", rng)):
        C = step.step(x[idx], y[idx])
        losses.append(C)
        if batch % 100 == 0:
            print(f"loss: {C:>7f}  [{batch * batch_size:>5d}/{N:>5d}]")
    return float(np.mean(losses))


def test_loop(x, y, net):
    accuracy, test_loss = evaluate(net, x, y, batch_size)
    print(f"Test Error: \n Accuracy: {(100 * accuracy):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return accuracy, test_loss


history = []
for t in range(1, epochs + 1):
    print(f"Epoch {t}\n-------------------------------")
    train_loss = train_loop(x_small, y_small, net, opt)
    accuracy, test_loss = test_loop(x_test, y_test, net)
    history.append({"epoch": t, "train_loss": train_loss, "test_loss": test_loss, "test_accuracy": accuracy})
print("Done!")

# %% [markdown]
# The loss and the test accuracy after each epoch:

# %%
plot_curves({"scratchnet": history}, f"{PICTURES}/curves.png", title=f"MNIST, first {train_size:,} images")
display(Image(filename=f"{PICTURES}/curves.png", width=720))

# %% [markdown]
# And the predictions on the first test images, the wrong ones in red:

# %%
plot_predictions(x_test, y_test, net.predict, f"{PICTURES}/predictions.png")
display(Image(filename=f"{PICTURES}/predictions.png", width=560))

# %% [markdown]
# ## Where next
#
# - [docs/backprop.md](../docs/backprop.md): the derivations, each equation linked to the line that computes it.
# - `python -m scratchnet.explain`: one pass of a small network, every quantity printed beside its equation.
# - `python -m scratchnet.explain --html runs/backprop.html`: one test digit through a trained network, every
#   a^[l], z^[l], δ^[l] and ∂C/∂W^[l] drawn, each titled with its equation and linked to its code.
# - `python -m scratchnet.train --lr 0.1 --batch-size 16 --epochs 1`: the whole training set, about 96%.
