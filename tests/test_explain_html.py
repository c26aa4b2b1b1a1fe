"""`python -m torch_ref.explain --html PAGE`: the page of one digit's pass, in its HTML and in a real browser.

Compared: the page's panels (one per quantity: x, ∂C/∂x, and z^[l], a^[l], δ^[l], |∂C/∂W^[l]| per layer) with
the network's layers; every code link on it with the links of docs/backprop.md; its pictures with the engine's
values (the sign of every clear entry of δ^[L] against the colour of its pixel); nothing on it that reaches the
network; autograd's agreement line (torch_ref.explain passes the oracle in; scratchnet.explain alone says how
to get it). Then the page in headless Chromium (tests/browser.py) at 1280 and 390 CSS pixels: no console error or
uncaught exception, no request but file: and data:, every picture decoded, every panel drawn inside the width
(four a row on a laptop, one a row on a phone), the screenshot not blank and every panel's region of it holding
a picture. A planted script error and a planted remote image show that the browser check can fail. Without
Chromium the browser tests are skipped, saying so.

    python -m pytest tests/test_explain_html.py
"""

import base64
import html
import io
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from scratchnet.explain import main, make_batch, trace
from scratchnet.network import Network
from scratchnet.teaching.doclinks import code_links
from scratchnet.teaching.explain_html import render_page
from torch_ref.explain import main as explain_with_torch

import browser
from conftest import REPO

pytest.importorskip("matplotlib")
from matplotlib import image as mpimg  # noqa: E402

PANEL = re.compile(r'<figure class="panel" data-panel="(\w+)">(.*?)</figure>', re.S)
CHROMIUM = browser.find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason=(
    f"no Chromium on PATH (one of {', '.join(browser.CHROMIUM_NAMES)}): install it to run the browser tests, e.g. "
    "apt-get install chromium, or brew install --cask chromium (.ci/run installs it when it runs as root)"))


def expected_panels(L):
    return ["x", "dx"] + ["z", "a", "delta", "dW"] * (L - 1)


@pytest.fixture(scope="module")
def page(mnist_dir, tmp_path_factory):
    """The page of the default run (a short fresh training), test digit 3, with autograd's agreement line."""
    path = tmp_path_factory.mktemp("page") / "backprop.html"
    explain_with_torch(["--html", str(path), "--digit", "3", "--data-dir", mnist_dir])
    return path


def test_the_page_says_autograd_agrees(page):
    agreement = r"torch autograd \(torch_ref.autograd\) agrees with every quantity: largest max \|Δ\| = ([0-9.e+-]+)"
    match = re.search(agreement, page.read_text())
    assert match, "no agreement line on the page"
    assert float(match[1]) < 1e-5, "float32 against autograd in float32: rounding only"


def images(fragment):
    """The pictures of an HTML fragment, decoded: RGBA float arrays."""
    return [mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
            for data in re.findall(r'src="data:image/png;base64,([^"]+)"', fragment)]


def test_every_panel_is_there_in_order_with_a_picture(page):
    text = page.read_text()
    panels = PANEL.findall(text)
    assert [kind for kind, _ in panels] == expected_panels(4)
    for kind, body in panels:
        assert len(images(body)) == 1, f"{kind}: one picture"
    digit = images(panels[0][1])[0]
    assert digit.shape[:2] == (28, 28) and images(panels[1][1])[0].shape[:2] == (28, 28)
    assert [images(body)[0].shape[:2] for kind, body in panels if kind == "dW"] == [(512, 784), (512, 512), (10, 512)]
    assert "Test digit 3: label 0" in text, "MNIST's fourth test digit is a 0"


def test_page_reaches_nothing_outside_itself(page):
    text = page.read_text()
    assert not re.search(r"<script|<link|<iframe|@import|url\(", text, re.I)
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert sources and not [s for s in sources if re.match(r"\w+://|//", s)], "an absolute URL on the page"
    assert all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', text))


def test_each_title_is_its_equation_and_each_link_one_of_the_notes(page):
    links = {(link.path, link.first, link.last) for link in code_links()}
    assert links, "docs/backprop.md has no code links"
    titles = {}
    for kind, body in PANEL.findall(page.read_text()):
        titles.setdefault(kind, []).append(html.unescape(re.sub("<[^>]+>", "", re.search("<h3>(.*?)</h3>", body)[1])))
        hrefs = re.findall(r'href="([^"]+)"', body)
        assert len(hrefs) == (kind != "x"), f"{kind}: one link to the code (none for the digit itself)"
        for href in hrefs:
            file, first, last = re.fullmatch(r"(.+)#L(\d+)(?:-L(\d+))?", html.unescape(href)).groups()
            target = ((page.parent / file).resolve(), int(first), int(last or first))
            assert target in links, f"{kind}: {href} is not a link of docs/backprop.md"
    assert [t.split(" ")[0] for t in titles["delta"]] == ["(BP2)", "(BP2)", "(BP1)"]
    assert all(t.startswith("(BP4) ∂C/∂W[") for t in titles["dW"])
    assert titles["z"][0].startswith("z[2] = W[2] a[1] + b[2]")
    assert titles["dx"][0].startswith("∂C/∂a[1] = (W[2])ᵀ δ[2]")
    assert "(BP3)" in page.read_text()


def test_the_pictures_are_the_engines_values(tmp_path):
    """δ^[L] of a small network: each entry well away from 0 is red (> 0) or blue (< 0) as its sign says."""
    net = Network([9, 6, 5], dtype="float64", seed=3)
    x, y = make_batch(net, 1, seed=3)
    steps = trace(net, x, y)
    text = render_page(steps, net, "a test network", 0, "no autograd here", str(tmp_path))
    panels = dict(PANEL.findall(text)[-2:])  # the output layer's δ^[3] and |∂C/∂W^[3]|
    delta = net.delta[3][0]
    rgb = images(panels["delta"])[0][0, :, :3]
    clear = np.abs(delta) > 0.2 * np.abs(delta).max()
    assert clear.sum() >= 2
    np.testing.assert_array_equal(np.sign(rgb[clear, 0] - rgb[clear, 2]), np.sign(delta[clear]), err_msg="δ colours")
    assert [f"{v:.3f}".replace("-", "−") for v in delta] == re.findall(r"<b>\d+</b> ([^<]+)</span>", panels["delta"])
    assert images(panels["dW"])[0].shape[:2] == (5, 6)


def test_the_page_beside_a_checkpoint(mnist_dir, tmp_path):
    from scratchnet.run.config import TrainConfig
    from scratchnet.train import main as train

    ckpt = tmp_path / "ckpt.npz"
    train(TrainConfig(epochs=1, lr=0.1, train_size=640, test_size=100, data_dir=mnist_dir, save=str(ckpt)))
    page = tmp_path / "page.html"
    main(["--html", str(page), "--resume", str(ckpt), "--digit", "0", "--data-dir", mnist_dir])
    text = html.unescape(page.read_text())
    assert f"loaded from {ckpt}: 1 epochs of sgd" in text
    assert "python -m torch_ref.explain (the same flags) shows them" in text, "scratchnet.explain alone: the note"


@pytest.mark.parametrize("args,message", [
    (["--digit", "3"], "--resume and --digit choose what --html draws: add --html PAGE"),
    (["--html", "PAGE", "--digit", "10000"], "--digit 10000: the test set holds digits 0 to 9999"),
    (["--html", "PAGE", "--resume", "missing.npz"], "--resume missing.npz: no such file"),
    (["--html", "afile/p.html"], "afile is a file, not a folder; choose another path"),
    (["--html", "PAGE", "--markdown"], "--html writes its own page: drop --markdown and --out"),
])
def test_bad_flags_are_one_line(args, message, mnist_dir, tmp_path):
    (tmp_path / "afile").write_text("a file where a folder should be (a missing folder would be created)")
    args = [str(tmp_path / "p.html") if a == "PAGE" else a for a in args]
    done = subprocess.run([sys.executable, "-m", "scratchnet.explain", *args, "--data-dir", mnist_dir],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "p.html").exists()


def panel_regions(shot, boxes):
    """Each panel's region of the screenshot: the number of distinct colours in it."""
    counts = {}
    for i, box in enumerate(boxes):
        y0, x0 = int(box["y"]), int(box["x"])
        rgb = (shot[y0:y0 + int(box["height"]), x0:x0 + int(box["width"]), :3] * 255).astype(np.uint32)
        counts[f"{i}:{box['name']}"] = len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))
    return counts


@needs_chromium
@pytest.mark.parametrize("width,columns", [(1280, 4), (390, 1)])
def test_the_page_in_chromium(page, width, columns):
    seen = browser.render(page, width)
    assert not seen.errors, f"console errors at {width} px: {seen.errors}"
    assert not [u for u in seen.requests if not u.startswith(("file:", "data:"))], seen.requests
    assert seen.images and all(i["complete"] and i["width"] > 0 for i in seen.images), "a picture did not decode"
    assert [b["name"] for b in seen.boxes] == expected_panels(4)
    assert seen.scroll_width <= width, f"the page is {seen.scroll_width} px wide in a {width} px window"
    for box in seen.boxes:
        assert box["width"] > 0.15 * width and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    layer_2 = seen.boxes[2:6]
    assert len({round(b["x"]) for b in layer_2}) == columns, f"layer 2 in {columns} column(s) at {width} px"
    hero = seen.boxes[:2]
    assert hero[0]["y"] == hero[1]["y"] and hero[0]["x"] < hero[1]["x"], "∂C/∂x beside the digit"
    shot = mpimg.imread(io.BytesIO(seen.png), format="png")
    assert shot.shape[1] == width and shot.shape[0] >= seen.boxes[-1]["y"] + seen.boxes[-1]["height"]
    assert shot[..., :3].std() > 0.1, "blank screenshot"
    few = {name: n for name, n in panel_regions(shot, seen.boxes).items() if n < 64}
    assert not few, f"panels drawn without their picture at {width} px (distinct colours): {few}"


@needs_chromium
def test_the_browser_check_catches_errors_and_requests(page, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace(
        "</body>", '<img src="http://127.0.0.1:9/remote.png"><script>undefined_function()</script></body>'))
    seen = browser.render(broken, 390)
    assert any("undefined_function" in e for e in seen.errors), seen.errors
    assert "http://127.0.0.1:9/remote.png" in seen.requests


def test_the_readme_shows_a_screenshot():
    shot = REPO / "docs" / "explain_page.png"
    assert f"({shot.relative_to(REPO)})" in (REPO / "README.md").read_text()
    assert shot.stat().st_size < 400_000 and pathlib.Path(shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
