"""One forward and one backward pass of a small network, printed step by step in the tutorial's notation.

    python -m scratchnet.explain                                      # 4-3-3-2, ReLU, cross-entropy, m = 2
    python -m scratchnet.explain --sizes 2 3 2 --loss quadratic --activation sigmoid --batch-size 1
    python -m scratchnet.explain --markdown --out worked_example.md   # the same as a handout (Markdown, LaTeX)
    python -m scratchnet.explain --html runs/backprop.html --digit 7  # one MNIST digit's pass, drawn as a page
    python -m scratchnet.explain --help
    python -m torch_ref.explain                                       # the same, torch autograd's values beside

Each a^[l], z^[l], δ^[l], ∂C/∂W^[l] and ∂C/∂b^[l] is printed with its shape, its equation and tag, and
the code that computes it, in the order of docs/backprop.md. Every value is read from the engine
(Network.forward, cost, backward, input_gradient and the a, z, delta it keeps): this file computes nothing.
`python -m torch_ref.explain` (the same flags, needs torch) passes torch_ref.autograd's oracle to main here
(scratchnet.checking.oracle), and autograd's values are printed beside the engine's with the largest difference;
without it a one-line note says how to see them.
"""

import argparse
import re
import sys
from dataclasses import dataclass

import numpy as np

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.backend import to_numpy
from scratchnet.checking.agreement import TOLERANCE
from scratchnet.checks import check_seed
from scratchnet.errors import UsageError
from scratchnet.losses import LOSSES
from scratchnet.network import Network
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import run_cli
from scratchnet.shell.fileio import atomic_write, check_outputs
from scratchnet.shell.memory import check_memory, memory_needed


@dataclass
class Quantity:
    """One printed quantity: the tag and equation it applies, the code that computes it, its value.

    `key` names the same quantity in torch_ref.autograd's answer, e.g. ("delta", 3); None for the
    quantities autograd does not return (W, b, a^[l]).
    """

    section: str
    tag: str
    equation: str
    code: str
    value: np.ndarray
    key: tuple = None
    torch: np.ndarray = None


def trace(net, x, y):
    """Run one forward and one backward pass of `net` on (x, y); return every quantity as a Quantity, in order."""
    L = net.L
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    steps = []
    for l in range(2, L + 1):
        steps.append(Quantity("parameters", "", f"W^[{l}]", f"W[{l}]", net.W[l]))
        steps.append(Quantity("parameters", "", f"b^[{l}]", f"b[{l}]", net.b[l]))
    steps.append(Quantity("forward", "", "a^[1] = x", "a[1]", net.a[1]))
    for l in range(2, L + 1):
        steps.append(Quantity("forward", "", f"z^[{l}] = W^[{l}] a^[{l - 1}] + b^[{l}]",
                              f"a[{l - 1}] @ W[{l}].T + b[{l}]", net.z[l], ("z", l)))
        steps.append(Quantity("forward", "", f"a^[{l}] = σ(z^[{l}]),  σ = {net.activation[l]}",
                              f"sigma[{l}](z[{l}])", net.a[l]))
    steps.append(Quantity("cost", "", "y, the labels", "y", y))
    if net.loss == "cross-entropy":
        cost = f"C = −(1/m) Σ_i log p_i[y_i],  p = softmax(z^[{L}])"
        bp1 = f"δ^[{L}] = (p − onehot(y)) / m"
        bp1_code = f"cross_entropy(z[{L}], y)"
    else:
        cost = f"C = (1/m) Σ_i ½ ‖y^{{i}} − a^[{L}]_i‖²"
        bp1 = f"δ^[{L}] = σ′(z^[{L}]) ⊙ (a^[{L}] − y) / m"
        bp1_code = f"quadratic(a[{L}], z[{L}], y, sigma_prime[{L}])"
    steps.append(Quantity("cost", "", cost, f"net.cost(y)  ({net.loss})", C, ("loss",)))
    for l in range(L, 1, -1):
        if l == L:
            steps.append(Quantity("backward", "(BP1)", bp1, bp1_code, net.delta[l], ("delta", l)))
        else:
            steps.append(Quantity("backward", "(BP2)", f"δ^[{l}] = σ′(z^[{l}]) ⊙ (W^[{l + 1}])ᵀ δ^[{l + 1}]",
                                  f"sigma_prime[{l}](z[{l}]) * (delta @ W[{l + 1}])", net.delta[l], ("delta", l)))
        steps.append(Quantity("backward", "(BP3)", f"∂C/∂b^[{l}] = δ^[{l}], summed over the batch",
                              "delta.sum(axis=0)", db[l], ("db", l)))
        steps.append(Quantity("backward", "(BP4)", f"∂C/∂W^[{l}] = δ^[{l}] (a^[{l - 1}])ᵀ, summed over the batch",
                              f"delta.T @ a[{l - 1}]", dW[l], ("dW", l)))
    steps.append(Quantity("backward", "", "∂C/∂a^[1] = (W^[2])ᵀ δ^[2], the gradient with respect to x",
                          "delta[2] @ W[2]", net.input_gradient(), ("input_gradient",)))
    return steps


NO_ORACLE = "autograd's values are not shown: scratchnet never imports torch; python -m torch_ref.explain (the " \
            "same flags) shows them beside (it needs torch: pip install -e '.[test]')."


def add_autograd(steps, ref):
    """Fill each step's `torch` with the oracle's answer `ref` (a scratchnet.checking.oracle.Gradients)."""
    answers = {"z": ref.z, "delta": ref.delta, "dW": ref.dW, "db": ref.db}
    for step in steps:
        if step.key == ("loss",):
            step.torch = ref.C
        elif step.key == ("input_gradient",):
            step.torch = ref.input_gradient
        elif step.key is not None:
            step.torch = answers[step.key[0]][step.key[1]]


def traced(net, x, y, oracle):
    """trace(net, x, y) with the oracle's values added, and the note to print when there is no oracle ("")."""
    steps = trace(net, x, y)
    if oracle is None:
        return steps, NO_ORACLE
    add_autograd(steps, oracle(net, x, y))
    return steps, ""


def max_difference(step):
    """max |scratchnet − torch| over the entries of one quantity."""
    return float(np.abs(to_numpy(step.value).astype(np.float64) - np.asarray(step.torch, dtype=np.float64)).max())


def array_lines(value, precision):
    """The printed rows of an array (one line per row), or the number itself for a 0-d value."""
    value = to_numpy(value)
    if value.dtype.kind == "f":
        value = value + 0.0  # −0.0 (from σ′ = 0 times a negative number) prints as 0.0, as torch's does
    if value.ndim == 0:
        return [f"{float(value):.{precision + 2}f}"]
    text = np.array2string(value, precision=precision, floatmode="fixed", suppress_small=True, sign=" ",
                           max_line_width=10_000)
    return text.splitlines()


def value_block(step, precision, with_torch):
    """The value lines of one step: scratchnet's, then (when known) torch's beside them and max |Δ|."""
    left = array_lines(step.value, precision)
    if not with_torch or step.torch is None:
        return left
    right = array_lines(step.torch, precision)
    width = max(len(line) for line in left + ["scratchnet"]) + 4
    lines = [f"{'scratchnet':<{width}}torch autograd"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        lines.append(f"{a:<{width}}{b}")
    lines[-1] += f"    max |Δ| = {max_difference(step):.1e}"
    return lines


SECTIONS = {
    "parameters": "Parameters W^[l], b^[l] (l = 2..L), drawn from U(−1/√n_{l−1}, 1/√n_{l−1})",
    "forward": "Forward pass (network.py Network.forward), batch-first: rows are samples",
    "cost": "Cost (losses.py)",
    "backward": "Backward pass (losses.py for (BP1), network.py Network.backward for (BP2)–(BP4))",
}


def describe(net, m, seed):
    """The one-line description of the network and batch that heads both outputs."""
    sizes = "-".join(map(str, net.sizes))
    hidden = "".join(f"σ^[{l}] = {net.activation[l]}; " for l in range(2, net.L))
    output = "a^[L] = z^[L], the logits" if net.loss == "cross-entropy" else "a^[L] = sigmoid(z^[L])"
    return (f"One forward and one backward pass of a {sizes} network (L = {net.L}; {hidden}{output}), "
            f"cost {net.loss}, batch m = {m}, {net.dtype}, seed {seed}")


def render_text(steps, header, note, precision=4):
    """The trace as plain text: one block per step, the tag in the left margin."""
    with_torch = any(step.torch is not None for step in steps)
    out = [header, ""]
    section = None
    for step in steps:
        if step.section != section:
            section = step.section
            out += ["", SECTIONS[section], "-" * len(SECTIONS[section])]
        shape = to_numpy(step.value).shape
        out.append(f"{step.tag:<6} {step.equation}      shape {shape}    code: {step.code}")
        out += ["       " + line for line in value_block(step, precision, with_torch)]
    out.append("")
    if note or with_torch:
        out.append(autograd_line(steps, note))
    return "\n".join(out) + "\n"


def autograd_line(steps, note):
    """The line on autograd: whether every quantity it answers agrees within the one autograd tolerance of the
    quantity's dtype (scratchnet.checking.agreement), the largest difference; or the note saying why there is none."""
    if note:
        return note
    answered = [step for step in steps if step.torch is not None]
    worst = max(max_difference(step) for step in answered)
    agree = all(np.allclose(to_numpy(step.value), step.torch, **TOLERANCE["autograd"][str(to_numpy(step.value).dtype)])
                for step in answered)
    verdict = "agrees with every quantity" if agree else "DISAGREES beyond its tolerance"
    return f"torch autograd (torch_ref.autograd) {verdict}: largest max |Δ| = {worst:.1e}"


LATEX = [  # (regular expression, replacement), applied in order
    (r"\^\[([^\]]+)\]", r"^{[\1]}"),                 # z^[2] → z^{[2]}
    ("σ′", r"\\sigma'"), ("σ", r"\\sigma"), ("δ", r"\\delta "), ("∂", r"\\partial "), ("⊙", r"\\odot "),
    ("ᵀ", r"^\\top"), ("Σ_i", r"\\sum_i"), ("−", "-"), ("½", r"\\tfrac12"), ("‖", r"\\|"), ("²", "^2"),
    ("log ", r"\\log "), ("(softmax|onehot)", r"\\operatorname{\1}"),
    (r"= (relu|sigmoid|tanh|identity)$", r"= \\operatorname{\1}"),
    (r",\s+", r",\\quad "),                             # "δ^[2],  summed …" → "\delta^{[2]},\quad \text{summed …}"
    ("(summed over the batch|the labels)", r"\\text{\1}"),
    ("the gradient with respect to x", r"\\text{the gradient with respect to }x"),
]


def latex(equation):
    """A step's plain-text equation in LaTeX, for the Markdown handout: ^[l] → ^{[l]}, δ → \\delta, …"""
    for pattern, replacement in LATEX:
        equation = re.sub(pattern, replacement, equation)
    return equation


def render_markdown(steps, header, note, command, precision=4):
    """The trace as a Markdown worked example: each step's equation in LaTeX, its values in a code block."""
    with_torch = any(step.torch is not None for step in steps)
    out = ["# Backpropagation, worked through by hand", "",
           f"{header}, produced by `{command}`.",
           "Notation and derivations: `docs/backprop.md`. Every value below is the engine's own (scratchnet's "
           "Network)" + (", with PyTorch autograd's beside it." if with_torch else ".")]
    section = None
    for step in steps:
        if step.section != section:
            section = step.section
            out += ["", f"## {SECTIONS[section]}"]
        tag = rf" \tag{{{step.tag.strip('()')}}}" if step.tag else ""
        shape = to_numpy(step.value).shape
        out += ["", f"$${latex(step.equation)}{tag}$$", "",
                f"shape {shape}, code `{step.code}`", "", "```text",
                *value_block(step, precision, with_torch), "```"]
    out.append("")
    out.append(note or "Autograd agrees with every hand-written value to the last few bits of floating point.")
    return "\n".join(out) + "\n"


def make_batch(net, m, seed):
    """A batch for `net`: x (m, n_1) uniform in [0, 1) like MNIST's pixels/255, integer labels y (m,)."""
    rng = np.random.default_rng([seed, 1])  # the batch's own stream, apart from the weights'
    x = rng.uniform(0, 1, size=(m, net.sizes[0])).astype(net.dtype)
    y = rng.integers(0, net.sizes[-1], size=m)
    return x, y


def build_parser(prog="python -m scratchnet.explain"):
    p = OneLineParser(prog=prog, description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 3, 3, 2], metavar="n",
                   help="layer widths n_1 … n_L, input first (default 4 3 3 2)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds W, b and the batch: an integer in [0, 2**63 − 1] (default 0)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu",
                   help="σ of the hidden layers (default relu)")
    p.add_argument("--loss", choices=LOSSES, default="cross-entropy",
                   help="cost: cross-entropy on the logits, or the quadratic cost ½‖y − σ(z^[L])‖² "
                        "(default cross-entropy)")
    p.add_argument("--batch-size", type=int, default=2, metavar="m",
                   help="samples in the batch, rows of every a^[l] (default 2: shows the sums over the batch)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                   help="floating point type (default float64, so autograd agrees to ~1e-16)")
    p.add_argument("--markdown", action="store_true",
                   help="print a Markdown worked example (equations in LaTeX) a teacher can hand out")
    p.add_argument("--out", default="", metavar="FILE",
                   help="write the output to FILE (e.g. example.md) instead of printing it")
    p.add_argument("--html", default="", metavar="PAGE",
                   help="instead, write PAGE: one MNIST test digit through the tutorial's 784-512-512-10 network, "
                        "every a^[l], z^[l], δ^[l], ∂C/∂W^[l] and ∂C/∂x drawn, one self-contained HTML file "
                        "(needs matplotlib; --sizes and the other network flags do not apply)")
    p.add_argument("--resume", default="", metavar="CKPT",
                   help="with --html: the network of this checkpoint (python -m scratchnet.train --save CKPT); "
                        "without it, a short run trained for the page (100 steps, a few seconds)")
    p.add_argument("--digit", type=int, default=None, metavar="N", help="with --html: test digit N (default 0)")
    p.add_argument("--data-dir", default="data", metavar="DIR",
                   help="with --html: the folder that holds MNIST/raw/ (default data)")
    return p


def html_page(args, oracle):
    """--html: one test digit's pass through a trained network, traced, checked by the oracle, drawn as a page."""
    from scratchnet.teaching import explain_html  # MNIST, a training run and matplotlib: loaded for --html only

    check_outputs([(args.html, "--html")], inputs=[(args.resume, "--resume")])
    digit = args.digit or 0
    net, x, y, about = explain_html.network_and_digit(args.data_dir, args.resume, digit)
    steps, note = traced(net, x, y, oracle)
    agreement = autograd_line(steps, note)
    text = explain_html.write_page(args.html, steps, net, about, digit, agreement)
    print(f"wrote {args.html} ({len(text.encode()):,} bytes): test digit {digit}; {agreement}")
    return text


def main(argv=None, oracle=None, prog="python -m scratchnet.explain"):
    """Parse argv, trace one pass, print it (or write it to --out); return the text.

    oracle: torch_ref.autograd.torch_gradients (what python -m torch_ref.explain passes), or None.
    """
    args = build_parser(prog).parse_args(argv)
    if (args.resume or args.digit is not None) and not args.html:
        raise UsageError("--resume and --digit choose what --html draws: add --html PAGE")
    if args.html and (args.markdown or args.out):
        raise UsageError("--html writes its own page: drop --markdown and --out")
    if args.html:
        return html_page(args, oracle)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    check_seed(args.seed, name="--seed")
    check_outputs([(args.out, "--out")])
    check_memory(memory_needed(args.sizes, args.dtype, args.batch_size),
                 f"--sizes {' '.join(map(str, args.sizes))} with --batch-size {args.batch_size}",
                 "choose a smaller --batch-size or smaller --sizes")
    net = Network(args.sizes, activation=args.activation, loss=args.loss, dtype=args.dtype, seed=args.seed)
    x, y = make_batch(net, args.batch_size, args.seed)
    steps, note = traced(net, x, y, oracle)
    header = describe(net, args.batch_size, args.seed)
    if args.markdown:
        command = " ".join([prog, *(argv if argv is not None else sys.argv[1:])])
        text = render_markdown(steps, header, note, command)
    else:
        text = render_text(steps, header, note)
    if args.out:
        with atomic_write(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return text


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
