"""One test digit's forward and backward pass through a trained network, drawn as one self-contained HTML page.

    python -m scratchnet.explain --html runs/backprop.html                  # a short fresh run, test digit 0
    python -m scratchnet.explain --html runs/backprop.html --digit 7 --resume runs/ckpt.npz

The page shows the digit x = a^[1] beside ∂C/∂x, then one row per layer l: z^[l] and a^[l] going forward,
δ^[l] and |∂C/∂W^[l]| coming back, each titled with its equation and tag and linked to the lines of code that
docs/backprop.md links (scratchnet.teaching.doclinks). Every value comes from scratchnet.explain.trace (the engine's
own a, z, delta); this module draws them: PNG data URIs made with matplotlib, CSS that reflows from four
columns to one, no script and nothing fetched from the network.
"""

import base64
import html
import io
import os
import re
import time
from dataclasses import replace

import numpy as np

from scratchnet.backend import to_numpy
from scratchnet.errors import UsageError
from scratchnet.loop import evaluate
from scratchnet.mnist.load import load_data
from scratchnet.run.build import build, network, optimizer
from scratchnet.run.checkpoint import load_checkpoint, restore, resumed_config
from scratchnet.run.config import TrainConfig, batches_per_epoch_of
from scratchnet.run.control import train_under_control
from scratchnet.run.plot import require_matplotlib
from scratchnet.shell.console import info
from scratchnet.shell.fileio import atomic_write
from scratchnet.teaching.doclinks import code_links, find_link

SHORT_RUN = TrainConfig(lr=0.1, train_size=6400, epochs=1, step="reference")  # 100 steps of m = 64 at α = 0.1
LEVELS = 255  # colours of a picture's palette; one more index, 255, is the transparent padding
STRIP_COLUMNS = 32  # a vector of more units than this is drawn as a grid, 32 units a row
# Which link of the notes each kind of panel takes: (tag, file of the reference engine[, function]); the notes
# also link the same tags in fused.py and kernels.py, and the output error once for each cost.
PANEL_LINKS = {
    "z": ("z^[l] = W^[l] a^[l-1] + b^[l]", "network.py"),
    "a": ("a^[l] = σ(z^[l])", "network.py"),
    "cross-entropy": ("(BP1)", "losses.py", "cross_entropy"),
    "quadratic": ("(BP1)", "losses.py", "quadratic"),
    "delta": ("(BP2)", "network.py"),
    "db": ("(BP3)", "network.py"),
    "dW": ("(BP4)", "network.py"),
    "dx": ("∂C/∂a^[1] = (W^[2])ᵀ δ^[2]", "network.py"),
}


def short_run(cfg, splits):
    """The tutorial's network after cfg's run (one epoch of the reference step, as scratchnet.train trains), and a
    line saying what that was."""
    N, steps = len(splits[0][0]), batches_per_epoch_of(cfg)
    info(f"training the tutorial's network for {steps} steps to draw it (--resume CKPT draws a trained one instead)")
    start, run = time.perf_counter(), build(cfg)
    train_under_control(run, splits)
    seconds = time.perf_counter() - start
    return run.net, (f"freshly trained for this page: {steps} steps of SGD with m = {cfg.batch_size}, α = {cfg.lr:g}, "
                     f"on the first {N:,} training images ({N / 60000:.2f} of an epoch), in {seconds:.1f} s")


def resumed(path):
    """The network of the checkpoint at `path` (python -m scratchnet.train --save), and a line saying what it is."""
    cfg = resumed_config(path, {})
    arrays, meta = load_checkpoint(path)
    net = network(cfg, np)
    state = restore(net, optimizer(cfg, net, cfg.lr), arrays, meta, path)
    return net, (f"loaded from {path}: {state.epoch} epochs of {cfg.optimizer} with m = {cfg.batch_size}, "
                 f"α = {cfg.lr:g}")


def network_and_digit(data_dir, resume, digit):
    """The network to draw, test digit `digit` as a batch of one (x (1, 784), y (1,)), and a line about the network."""
    require_matplotlib("--html")
    cfg = replace(SHORT_RUN, data_dir=data_dir)
    splits = load_data(cfg, np)  # SHORT_RUN's training images, every test image
    x_test, y_test = splits[1]
    if not 0 <= digit < len(x_test):
        raise UsageError(f"--digit {digit}: the test set holds digits 0 to {len(x_test) - 1}")
    net, about = resumed(resume) if resume else short_run(cfg, splits)
    x_test = x_test.astype(net.dtype)
    accuracy, _ = evaluate(net, x_test, y_test, 1000)
    line = (f"The tutorial's {'-'.join(map(str, net.sizes))} network ({net.activation[2]}, {net.loss}, {net.dtype}), "
            f"{about}. Test accuracy: {100 * accuracy:.1f}% of the {len(x_test):,} test images.")
    return net, x_test[digit:digit + 1], y_test[digit:digit + 1], line


def digit_line(digit, net, s):
    """What the page says of the digit: its label, the prediction, the cost."""
    label, predicted = int(s["y",].value[0]), int(to_numpy(s["a", net.L].value)[0].argmax())
    C = float(s["loss",].value)
    verdict = "right" if label == predicted else "wrong"
    p_y = f", so a^[L] gives the label p = e^(−C) = {np.exp(-C):.3f}" if net.loss == "cross-entropy" else ""
    return (f"Test digit {digit}: label {label}, predicted {predicted} ({verdict}); its cost C = {C:.4f}{p_y}. "
            "Below, its one forward and one backward pass (m = 1).")


def png_uri(values, cmap, vmin, vmax):
    """A 2-D array as a PNG data URI, one pixel per entry, coloured by `cmap` over [vmin, vmax]; NaN transparent.

    The PNG holds a palette of LEVELS colours of the map and one byte an entry (a quarter of RGBA's size).
    """
    from matplotlib import colormaps
    from PIL import Image

    values = np.asarray(values, dtype=np.float64)
    t = np.clip((values - vmin) / ((vmax - vmin) or 1.0), 0, 1)
    index = np.where(np.isnan(values), LEVELS, np.round(np.nan_to_num(t) * (LEVELS - 1))).astype(np.uint8)
    palette = (colormaps[cmap](np.linspace(0, 1, LEVELS))[:, :3] * 255).round().astype(np.uint8)
    image = Image.frombytes("P", index.shape[::-1], index.tobytes())
    image.putpalette([*palette.ravel().tolist(), 0, 0, 0])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, transparency=LEVELS)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def gradient_css(cmap):
    """The colour map as a CSS linear-gradient, for the scale bar under each picture."""
    from matplotlib import colormaps

    stops = ", ".join(f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f}) {100 * t:.0f}%"
                      for t in np.linspace(0, 1, 11) for r, g, b, _ in [colormaps[cmap](t)])
    return f"linear-gradient(to right, {stops})"


def colour_scale(values, signed):
    """(cmap, vmin, vmax): signed values on a red–blue map centred on 0, others from 0 to their largest."""
    top = float(np.abs(values).max()) or 1.0
    return ("RdBu_r", -top, top) if signed else ("magma_r", 0.0, top)


def as_grid(vector):
    """A vector of n units as a picture: one row when n ≤ STRIP_COLUMNS, else rows of STRIP_COLUMNS (NaN padded)."""
    n = len(vector)
    if n <= STRIP_COLUMNS:
        return vector[None, :]
    rows = -(-n // STRIP_COLUMNS)
    return np.concatenate([vector, np.full(rows * STRIP_COLUMNS - n, np.nan)]).reshape(rows, STRIP_COLUMNS)


def math_html(text):
    """Plain-text notation as HTML: ^[l] raised, _j lowered."""
    raised = re.sub(r"\^\[([^\]]+)\]", r"<sup>[\1]</sup>", html.escape(text))
    return re.sub(r"</sup>_(\w)\b", r"</sup><sub>\1</sub>", raised)


def fmt(number):
    return f"{number:.3g}".replace("-", "−")


def picture(values, signed, shape_note, pixelated=True, aspect=None, scale=None):
    """The <img> of one quantity and its scale bar; scale (cmap, vmin, vmax) fixes the colours (else colour_scale)."""
    cmap, vmin, vmax = scale or colour_scale(values, signed)
    image = values if values.ndim == 2 else as_grid(values)
    style = f' style="aspect-ratio: {aspect:.3g}"' if aspect else ""
    middle = "<span>0</span>" if vmin < 0 < vmax else ""
    return (f'<img class="{"pixels" if pixelated else "smooth"}"{style} alt="{html.escape(shape_note)}" '
            f'src="{png_uri(image, cmap, vmin, vmax)}">'
            f'<div class="scale" style="background: {gradient_css(cmap)}"></div>'
            f'<div class="ticks"><span>{fmt(vmin)}</span>{middle}<span>{fmt(vmax)}</span></div>')


def unit_values(values):
    """The numbers of a short vector (≤ 16 units, the output layer), unit j beside its value, under its strip."""
    if len(values) > 16:
        return ""
    cells = "".join(f"<span><b>{j}</b> {v:.3f}</span>".replace("-", "−") for j, v in enumerate(values))
    return f'<div class="units">{cells}</div>'


def code_link(link, page_dir):
    """The lines under a title: the file and lines the notes link (as a link to them), and those lines of code."""
    if link is None:
        return '<p class="code">(docs/backprop.md is not beside this copy of scratchnet: no link to the code)</p>'
    href = html.escape(os.path.relpath(link.path, page_dir) + f"#L{link.first}"
                       + (f"-L{link.last}" if link.last != link.first else ""))
    source = html.escape("\n".join(line.split("  # ")[0].strip() for line in link.lines()))  # the tag is the title
    return (f'<p class="code"><a href="{href}">{html.escape(link.label)}</a></p>'
            f'<pre>{source}</pre>')


def panel(kind, step, body, code, note):
    """One figure: its equation and tag as title, its code (code_link's HTML), its picture, a caption."""
    tag = f'<span class="tag">{html.escape(step.tag)}</span> ' if step.tag else ""
    shape = "×".join(map(str, to_numpy(step.value).shape))
    return (f'<figure class="panel" data-panel="{kind}"><figcaption><h3>{tag}{math_html(step.equation)}</h3>'
            f'{code}</figcaption>{body}'
            f'<p class="note">shape ({shape}). {math_html(note)}</p></figure>')


def index_steps(steps):
    """explain.trace's steps keyed by what they are: ("x",), ("z", l), ("a", l), ("delta", l), ("db", l), …"""
    found = {}
    for step in steps:
        a_of = re.match(r"a\^\[(\d+)\]", step.equation)
        if step.key is not None:
            found[step.key] = step
        elif step.section == "forward" and a_of:
            found[("a", int(a_of[1])) if a_of[1] != "1" else ("x",)] = step
        elif step.code == "y":
            found["y",] = step
    return found


def linked(links, name, page_dir):
    """code_link's HTML for the link PANEL_LINKS names."""
    return code_link(find_link(links, *PANEL_LINKS[name]), page_dir)


def layer_row(l, net, s, links, page_dir):
    """The four panels of layer l: z^[l], a^[l] (forward), δ^[l], |∂C/∂W^[l]| (backward)."""
    z, a, delta = (to_numpy(s[key, l].value)[0] for key in ("z", "a", "delta"))
    dW = np.abs(to_numpy(s["dW", l].value))
    active = f"{int((a > 0).sum())} of {len(a)} units have a^[{l}] > 0." if net.activation[l] == "relu" else ""
    bp3 = find_link(links, *PANEL_LINKS["db"])
    bp3 = f"(BP3), {bp3.label}" if bp3 else "(BP3)"
    rows, cols = dW.shape
    return [
        panel("z", s["z", l], picture(z, True, f"z^[{l}]") + unit_values(z), linked(links, "z", page_dir),
              "Red above 0, blue below."),
        panel("a", s["a", l], picture(a, bool((a < 0).any()), f"a^[{l}]") + unit_values(a),
              linked(links, "a", page_dir), active),
        panel("delta", s["delta", l], picture(delta, True, f"δ^[{l}]") + unit_values(delta),
              linked(links, net.loss if l == net.L else "delta", page_dir),
              f"∂C/∂b^[{l}] = δ^[{l}] {bp3}: for one digit the bias gradient is this very picture."),
        panel("dW", s["dW", l], picture(dW, False, f"|∂C/∂W^[{l}]|", pixelated=False, aspect=min(cols / rows, 4.0)),
              linked(links, "dW", page_dir),
              f"|∂C/∂W^[{l}]|: row j for unit j of layer {l}, column k for unit k of layer {l - 1}. For one digit "
              f"an outer product, dark only where both δ^[{l}]_j and a^[{l - 1}]_k are not 0."),
    ]


CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 16px; font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f;
       background: #fff; }
h1 { font-size: 1.45rem; margin: .2rem 0 .4rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
p { margin: .3rem 0; } .lead { max-width: 75ch; }
.agree { padding: .4rem .6rem; background: #eef6ee; border-left: 4px solid #3a7d44; font-family: ui-monospace,
         monospace; font-size: .85rem; overflow-wrap: anywhere; }
.grid { display: grid; gap: 12px; grid-template-columns: repeat(4, minmax(0, 1fr)); }
.hero { grid-template-columns: repeat(2, minmax(0, 340px)); }
.panel { margin: 0; padding: 10px; border: 1px solid #d8d8de; border-radius: 8px; background: #fafafc;
         min-width: 0; }
.panel h3 { font-size: .9rem; font-weight: 600; margin: 0 0 .2rem; overflow-wrap: anywhere; }
.tag { color: #a3303f; }
.code { font-size: .78rem; margin: 0; } .code a { color: #2854a8; }
pre { font-size: .7rem; margin: .2rem 0 .5rem; padding: .3rem; background: #f0f0f4; border-radius: 4px;
      white-space: pre-wrap; overflow-wrap: anywhere; }
img { display: block; width: 100%; height: auto; background: #e4e4ea; }
img.pixels { image-rendering: pixelated; }
.scale { height: 8px; margin-top: 4px; border-radius: 2px; }
.ticks { display: flex; justify-content: space-between; font-size: .72rem; color: #555; }
.units { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); grid-auto-flow: column;
         grid-template-rows: repeat(5, auto); gap: 0 4px; margin-top: 4px;
         font: .68rem ui-monospace, monospace; white-space: nowrap; } .units b { color: #777; }
.note { font-size: .78rem; color: #444; margin: .3rem 0 0; }
.layer { font-size: .95rem; margin: 1rem 0 .4rem; }
.heads { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; font-weight: 600; color: #555; }
@media (max-width: 1000px) { .grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } .heads { display: none; } }
@media (max-width: 560px) {
  body { padding: 10px; font-size: 14px; }
  .grid { grid-template-columns: minmax(0, 1fr); } .hero { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .heads, .hero pre { display: none; }
}
"""


def write_page(path, steps, net, about, digit, agreement):
    """Write the page of one traced pass (explain.trace of test digit `digit`, m = 1) to `path`, atomically.

    about: network_and_digit's line on the network; agreement: explain's line on autograd.
    """
    text = render_page(steps, net, about, digit, agreement, os.path.dirname(os.path.abspath(path)))
    with atomic_write(path, "w") as f:
        f.write(text)
    return text


def render_page(steps, net, about, digit, agreement, page_dir):
    """The page's HTML: what it shows, the digit and ∂C/∂x, the layers; links relative to page_dir."""
    s = index_steps(steps)
    lines = [about, digit_line(digit, net, s)]
    links = code_links()
    x, dx = to_numpy(s["x",].value)[0], to_numpy(s["input_gradient",].value)[0]
    side = int(round(np.sqrt(len(x))))
    if side * side == len(x):  # an image: draw it as one
        x, dx = x.reshape(side, side), dx.reshape(side, side)
    hero = [
        panel("x", s["x",], picture(x, False, "the digit", scale=("gray", 0.0, 1.0)), "",
              "The input: the test digit's pixels/255."),
        panel("dx", s["input_gradient",], picture(dx, True, "∂C/∂x"), linked(links, "dx", page_dir),
              "Where the cost would change the most: brightening a red pixel raises C, a blue one lowers it."),
    ]
    body = ["<h1>Backpropagation through one digit</h1>", *(f'<p class="lead">{math_html(t)}</p>' for t in lines),
            f'<p class="agree">{html.escape(agreement)}</p>',
            "<h2>The digit x = a<sup>[1]</sup> and the gradient ∂C/∂x</h2>",
            '<div class="grid hero">', *hero, "</div>",
            "<h2>Layer by layer: z<sup>[l]</sup>, a<sup>[l]</sup> forward, δ<sup>[l]</sup>, ∂C/∂W<sup>[l]</sup> "
            "backward</h2>",
            '<div class="heads"><span>forward ↓ l = 2 … L</span><span>backward ↑ l = L … 2</span></div>']
    for l in range(2, net.L + 1):
        kind = "output" if l == net.L else "hidden"
        body += [f'<h3 class="layer">Layer {l} ({kind}, n<sub>{l}</sub> = {net.sizes[l - 1]}, σ = '
                 f'{net.activation[l]})</h3>', '<div class="grid">', *layer_row(l, net, s, links, page_dir), "</div>"]
    body.append('<p class="note">Made by <code>python -m scratchnet.explain --html</code>, or by <code>python '
                "-m torch_ref.explain --html</code> with autograd's agreement line. The equations are those of "
                "docs/backprop.md; every value is the engine's own (network.py, losses.py).</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Backpropagation through one digit</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
