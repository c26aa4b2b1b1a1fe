"""Make every picture that README.md and docs/backprop.md show, from the code as it is now.

    python docs/make_pictures.py                  # all of them (trains 5 epochs, then the page: ~1-2 min on 2 cores)
    python docs/make_pictures.py --only explain_page     # only the README's screenshot of the page (needs Chromium)

mnist.png, mnist_predictions.png and curves.png are what `python -m scratchnet.train --plot-samples … --plot …`
draws (the tutorial's run, seed 0). explain_page.png is the top of `python -m scratchnet.explain --html` at
1280 px in headless Chromium (tests/browser.py); it records the code links the page showed in a text chunk
(CODE_LINKS_KEY), and tests/test_pictures.py fails when those are not the links docs/backprop.md makes today.
Needs matplotlib (the plot extra) and, for the screenshot, Chromium (`apt-get install chromium`).
"""

import argparse
import importlib.util
import pathlib
import re
import subprocess
import sys
import tempfile

DOCS = pathlib.Path(__file__).resolve().parent
REPO = DOCS.parent
CODE_LINKS_KEY = "scratchnet-code-links"  # the PNG text chunk: the page's code links, "network.py L146-L147; …"
LINK_LABEL = re.compile(r"\b\w+\.py L\d+(?:-L\d+)?")


def python(*args):
    """Run python -m … in the repository; its output passes through; a failure stops the script."""
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)


def run_pictures():
    """The tutorial's run, drawn: the sample grid, the predictions grid and the curves."""
    python("-m", "scratchnet.train", "--plot-samples", str(DOCS / "mnist.png"), "--plot", str(DOCS / "curves.png"))


def page_links(html):
    """The code links a page shows, each once, in the order they first appear ("network.py L146-L147", …)."""
    return list(dict.fromkeys(LINK_LABEL.findall(html)))


def explain_page():
    """The page of test digit 0, then its top at 1280 px, with the page's code links in a text chunk."""
    from PIL import Image, PngImagePlugin

    spec = importlib.util.spec_from_file_location("browser", REPO / "tests" / "browser.py")
    browser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(browser)
    if browser.find_chromium() is None:
        sys.exit("error: the screenshot needs Chromium: apt-get install chromium (or brew install --cask chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = pathlib.Path(tmp) / "backprop.html"
        python("-m", "scratchnet.explain", "--html", str(page))
        out = DOCS / "explain_page.png"
        browser.docs_screenshot(str(page), str(out))
        info = PngImagePlugin.PngInfo()
        info.add_text(CODE_LINKS_KEY, "; ".join(page_links(page.read_text())))
        Image.open(out).save(out, pnginfo=info, optimize=True)
    print(f"wrote {out}")


PICTURES = {"run": run_pictures, "explain_page": explain_page}
MADE = ("mnist.png", "mnist_predictions.png", "curves.png", "explain_page.png")  # in docs/, by PICTURES


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python docs/make_pictures.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=PICTURES, help="run (mnist.png, mnist_predictions.png, curves.png) or "
                                                         "explain_page (default: both)")
    only = parser.parse_args(argv).only
    for name, make in PICTURES.items():
        if only in (None, name):
            make()


if __name__ == "__main__":
    main()
