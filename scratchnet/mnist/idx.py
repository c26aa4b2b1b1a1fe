"""The IDX format of MNIST's four files, and what each official file must be (magic, count, size, SHA-256).

IDX (big-endian int32 header, then unsigned bytes):
    images: magic 2051, count N, rows 28, cols 28, then N·28·28 pixels
    labels: magic 2049, count N, then N labels 0..9

scratchnet.mnist.load reads the files with it, scratchnet.mnist.fetch checks what it downloads with it.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from scratchnet.errors import ScratchnetError
from scratchnet.shell.fileio import non_regular

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
ROWS = COLS = 28


@dataclass(frozen=True)
class IdxSpec:
    """What one official file must be: its name, IDX magic number, item count and SHA-256."""

    name: str
    magic: int
    count: int
    sha256: str

    @property
    def size(self):
        """Exact length in bytes: header, then one byte per pixel or label."""
        if self.magic == IMAGES_MAGIC:
            return 16 + self.count * ROWS * COLS
        return 8 + self.count


MNIST_FILES = {
    ("train", "images"): IdxSpec("train-images-idx3-ubyte", IMAGES_MAGIC, 60000,
                                 "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train", "labels"): IdxSpec("train-labels-idx1-ubyte", LABELS_MAGIC, 60000,
                                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("test", "images"): IdxSpec("t10k-images-idx3-ubyte", IMAGES_MAGIC, 10000,
                                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("test", "labels"): IdxSpec("t10k-labels-idx1-ubyte", LABELS_MAGIC, 10000,
                                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}


class DataError(ScratchnetError):
    """A data file that is not what it claims to be."""


def check_regular(path):
    """Refuse a `path` that is a folder, FIFO, device or socket: open() would wait for a FIFO's writer forever."""
    kind = non_regular(path)
    if kind:
        raise DataError(f"{path} is {kind}, not an IDX file: remove it and run again to fetch MNIST")


def read_idx(path, spec):
    """The array stored in the IDX file at `path`, after every check of `parse_idx`."""
    check_regular(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"cannot read {path} ({e.strerror}): fix its permissions or remove it") from None
    return parse_idx(data, spec, path)


def parse_idx(data, spec, where):
    """Check the bytes of one IDX file against `spec`, and return (N, 28, 28) images or (N,) labels.

    `where` names the file in errors. Checks, in order: magic, count, 28×28, exact length, labels 0–9,
    SHA-256 (skipped when spec.sha256 is None, as for synthetic files in tests).
    """
    fix = "delete it and run again to fetch a fresh copy, or put the official file there by hand"
    if len(data) < 8:
        raise DataError(f"{where} is truncated: {len(data)} bytes, too short for an IDX header; {fix}")
    magic, count = int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")
    if magic != spec.magic:
        kind = "image" if spec.magic == IMAGES_MAGIC else "label"
        raise DataError(f"{where} has magic number {magic}, not {spec.magic} (IDX {kind} file); {fix}")
    if count != spec.count:
        raise DataError(f"{where} holds {count} items, not {spec.count}; {fix}")
    if spec.magic == IMAGES_MAGIC and len(data) >= 16:
        rows, cols = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
        if (rows, cols) != (ROWS, COLS):
            raise DataError(f"{where} holds {rows}×{cols} images, not {ROWS}×{COLS}; {fix}")
    if len(data) < spec.size:
        raise DataError(f"{where} is truncated: {len(data)} bytes, expected {spec.size}; {fix}")
    if len(data) > spec.size:
        extra = len(data) - spec.size
        raise DataError(f"{where} has {extra} bytes too many ({len(data)}, expected {spec.size}); {fix}")
    header = 16 if spec.magic == IMAGES_MAGIC else 8
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    if spec.magic == LABELS_MAGIC and count and array.max() > 9:
        raise DataError(f"{where} holds label {int(array.max())}, outside 0–9; {fix}")
    if spec.sha256 is not None and hashlib.sha256(data).hexdigest() != spec.sha256:
        raise DataError(f"{where} fails its SHA-256 check (not the official file); {fix}")
    if spec.magic == IMAGES_MAGIC:
        return array.reshape(count, ROWS, COLS)
    return array


def idx_bytes(array):
    """The IDX encoding of uint8 images (N, 28, 28) or labels (N,): the inverse of `parse_idx`."""
    magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
