"""MNIST from its four IDX files, each checked before use; fetched once when missing (scratchnet.mnist.fetch).

Files live in torchvision's layout, uncompressed, so `torchvision.datasets.MNIST(root, download=False)`
reads the very same bytes:  <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
The IDX format and the checks of each file are scratchnet.mnist.idx's.
"""

import os

import numpy as np

from scratchnet.errors import UsageError
from scratchnet.mnist.fetch import fetch_mnist
from scratchnet.mnist.idx import MNIST_FILES, DataError, check_regular, read_idx
from scratchnet.shell.fileio import non_regular


def raw_dir(root):
    """<root>/MNIST/raw, torchvision's folder for the uncompressed files."""
    return os.path.join(root, "MNIST", "raw")


def load_mnist(root="data", train=True, download=True):
    """The MNIST training (60000) or test (10000) set as (images uint8 (N, 28, 28), labels uint8 (N,)).

    Every file is checked (magic, count, 28×28, exact length, labels 0–9, SHA-256) before it is used.
    Missing files are fetched first when `download` is true.
    """
    if not root:  # "" would silently mean the current folder: say so instead
        raise UsageError("the data folder (--data-dir) is empty: give a folder, . for the current one")
    if os.path.exists(root) and not os.path.isdir(root):
        raise UsageError(f"data folder {root} is {non_regular(root) or 'a file'}: pass a folder with --data-dir")
    folder = raw_dir(root)
    missing = [spec for spec in MNIST_FILES.values() if not os.path.exists(os.path.join(folder, spec.name))]
    if missing:
        if not download:
            raise DataError(f"{os.path.join(folder, missing[0].name)} is missing: run with download=True")
        fetch_mnist(folder, missing)
    for spec in MNIST_FILES.values():  # all four: torchvision, reading one split, opens the other's files too
        check_regular(os.path.join(folder, spec.name))
    split = "train" if train else "test"
    images = read_idx(os.path.join(folder, MNIST_FILES[split, "images"].name), MNIST_FILES[split, "images"])
    labels = read_idx(os.path.join(folder, MNIST_FILES[split, "labels"].name), MNIST_FILES[split, "labels"])
    return images, labels


def load_data(cfg, xp):
    """x (N, 784) with pixels/255 in cfg.dtype (the tutorial's ToTensor) and integer labels y (N,), for the
    training set (its first cfg.train_size samples; 0: all) and the test set (cfg.test_size), on xp's device."""
    splits = []
    for train, size in ((True, cfg.train_size), (False, cfg.test_size)):
        images, labels = load_mnist(cfg.data_dir, train=train)
        if size:
            images, labels = images[:size], labels[:size]
        x = images.reshape(len(images), -1).astype(cfg.dtype) / 255
        splits.append((xp.asarray(x), xp.asarray(labels.astype(np.int64))))
    return splits

