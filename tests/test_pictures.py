"""The pictures: `python -m scratchnet.train --plot-samples FILE.png` and the ones README.md shows.

Compared: the files a tiny run writes (PNG magic, a sensible size) with what the help promises (FILE.png
and FILE_predictions.png); the red of the error highlighting with the number of wrong predictions; bad
paths and a missing matplotlib with a one-line error before any training. And every picture README.md
shows is one that `python docs/make_pictures.py` makes, and docs/explain_page.png, the README's screenshot,
shows the code links that docs/backprop.md makes today (the page records them in the PNG): when the
engine's lines move, this fails until the pictures are made again.

    python -m pytest tests/test_pictures.py
"""

import importlib.util
import re
import struct

import numpy as np
import pytest

from scratchnet.run.plot import predictions_path
from scratchnet.teaching.doclinks import code_links, find_link
from scratchnet.teaching.explain_html import PANEL_LINKS

from conftest import REPO
from helpers import blocking, run_train

spec = importlib.util.spec_from_file_location("make_pictures", REPO / "docs" / "make_pictures.py")
make_pictures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_pictures)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the magic number."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_predictions_path_sits_beside_the_samples():
    assert predictions_path("runs/mnist.png") == "runs/mnist_predictions.png"
    assert predictions_path("grid") == "grid_predictions.png"


@pytest.mark.slow
def test_tiny_run_writes_both_pictures(mnist_dir, tmp_path):
    pytest.importorskip("matplotlib")
    samples = tmp_path / "mnist.png"
    done = run_train("--data-dir", mnist_dir, "--train-size", "640", "--test-size", "100", "--epochs", "1",
                     "--plot-samples", str(samples))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Epoch 1\n") and done.stdout.endswith("Done!\n")  # the tutorial's lines only
    for path in (samples, tmp_path / "mnist_predictions.png"):
        width, height = png_size(path)
        assert width >= 300 and height >= 300, (path, width, height)


def red_pixels(path):
    import matplotlib.image

    rgb = matplotlib.image.imread(str(path))[..., :3]
    return int(((rgb[..., 0] > 0.9) & (rgb[..., 1] < 0.2) & (rgb[..., 2] < 0.2)).sum())


def test_errors_and_only_errors_are_red(tmp_path):
    pytest.importorskip("matplotlib")
    from scratchnet.run.plot import plot_predictions

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(30, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=30)
    right, one_wrong, all_wrong = tmp_path / "right.png", tmp_path / "one.png", tmp_path / "wrong.png"
    plot_predictions(x, y, lambda rows: y[:len(rows)], str(right))
    plot_predictions(x, y, lambda rows: np.where(np.arange(len(rows)) == 3, (y[:len(rows)] + 1) % 10, y[:len(rows)]),
                     str(one_wrong))
    plot_predictions(x, y, lambda rows: (y[:len(rows)] + 1) % 10, str(all_wrong))
    assert red_pixels(right) == 0
    assert 0 < 10 * red_pixels(one_wrong) < red_pixels(all_wrong)


@pytest.mark.parametrize("path,message", [
    ("{tmp}/afile/s.png", "--plot-samples {tmp}/afile/s.png: {tmp}/afile is a file, not a folder"),
    ("/", "--plot-samples / is a folder: give a file name"),
])
@pytest.mark.slow
def test_bad_path_fails_before_training(path, message, mnist_dir, tmp_path):
    (tmp_path / "afile").write_text("a file where a folder should be")
    path, message = path.format(tmp=tmp_path), message.format(tmp=tmp_path)
    done = run_train("--data-dir", mnist_dir, "--epochs", "1", "--plot-samples", path)
    assert done.returncode == 2 and "Epoch" not in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


@pytest.mark.slow
def test_predictions_path_that_is_a_folder_fails_before_training(mnist_dir, tmp_path):
    (tmp_path / "s_predictions.png").mkdir()
    done = run_train("--data-dir", mnist_dir, "--epochs", "1", "--plot-samples", str(tmp_path / "s.png"))
    assert done.returncode == 2 and "Epoch" not in done.stdout
    assert "s_predictions.png is a folder" in done.stderr and not (tmp_path / "s.png").exists()


@pytest.mark.slow
def test_missing_matplotlib_fails_before_training(mnist_dir, tmp_path):
    done = run_train("--data-dir", mnist_dir, "--epochs", "1", "--plot-samples", str(tmp_path / "s.png"),
                     prelude=blocking("matplotlib"))
    assert done.returncode == 2 and "Epoch" not in done.stdout
    assert done.stderr.strip() == "error: --plot-samples needs matplotlib: pip install 'scratchnet[plot]'"


def png_texts(path):
    """{keyword: text} of a PNG's tEXt chunks."""
    data, texts, at = path.read_bytes(), {}, 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"tEXt":
            keyword, _, text = data[at + 8:at + 8 + length].partition(b"\0")
            texts[keyword.decode("latin-1")] = text.decode("latin-1")
        at += 12 + length
    return texts


def test_every_picture_the_readme_shows_is_made_by_one_command():
    shown = re.findall(r"!\[[^\]]*\]\(([^)\s]+\.png)\)", (REPO / "README.md").read_text())
    made = {"docs/" + name for name in make_pictures.MADE}
    assert shown and set(shown) <= made, f"{set(shown) - made}: add them to docs/make_pictures.py"


def test_the_screenshot_shows_the_links_the_notes_make_today():
    """The page of the tutorial's network (ReLU, cross-entropy) links every panel but the quadratic cost's δ^[L]."""
    screenshot = REPO / "docs" / "explain_page.png"
    recorded = png_texts(screenshot).get(make_pictures.CODE_LINKS_KEY)
    assert recorded, f"{screenshot} records no code links: python docs/make_pictures.py --only explain_page"
    links = code_links()
    today = {find_link(links, *where).label for name, where in PANEL_LINKS.items() if name != "quadratic"}
    assert set(recorded.split("; ")) == today, (
        f"docs/explain_page.png shows {recorded}, docs/backprop.md links {'; '.join(sorted(today))}: "
        "python docs/make_pictures.py --only explain_page")
