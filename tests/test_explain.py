"""`python -m scratchnet.explain`, the traced forward and backward pass, against the engine and autograd.

Compared: the equation tags of the output with the order of docs/backprop.md (layer by layer from L:
δ^[l] by (BP1) or (BP2), then (BP3), (BP4)); every printed value with an independent run of the engine
(Network.forward, cost, backward) on the same seeded network and batch; the Markdown handout with the
text; autograd's column (when torch is installed) with the engine's values, and its verdict (a planted
difference beyond the autograd tolerance of scratchnet.checking.agreement is called one); bad flags with
one-line errors.

    python -m pytest tests/test_explain.py
"""

import re
import subprocess
import sys

import numpy as np
import pytest

from scratchnet.explain import autograd_line, main, make_batch, trace, traced
from scratchnet.network import Network
from torch_ref.explain import main as explain_with_torch

from conftest import REPO
from helpers import blocking

BLOCK_TORCH = blocking("torch")


def run_explain(*args, block_torch=False, module="scratchnet.explain"):
    code = (BLOCK_TORCH if block_torch else "") + "from scratchnet.shell.console import run_cli\n" \
        f"from {module} import main\nrun_cli(main, sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", "import sys\n" + code, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def expected_tags(L):
    return ["BP1", "BP3", "BP4"] + ["BP2", "BP3", "BP4"] * (L - 2)


def engine_values(sizes, activation, loss, m, seed):
    """Every quantity the trace shows, in its order, from an independent run of the engine."""
    net = Network(sizes, activation=activation, loss=loss, dtype="float64", seed=seed)
    x, y = make_batch(net, m, seed)
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    L = net.L
    values = [(f"{name}[{l}]", p[l]) for l in range(2, L + 1) for name, p in (("W", net.W), ("b", net.b))]
    values.append(("a[1]", net.a[1]))
    values += [(f"{name}[{l}]", q[l]) for l in range(2, L + 1) for name, q in (("z", net.z), ("a", net.a))]
    values += [("y", y), ("C", C)]
    values += [(f"{name}[{l}]", q[l]) for l in range(L, 1, -1)
               for name, q in (("delta", net.delta), ("db", db), ("dW", dW))]
    values.append(("input gradient", net.input_gradient()))
    return values


@pytest.mark.parametrize("sizes,activation,loss,m", [
    ([4, 3, 3, 2], "relu", "cross-entropy", 2),
    ([3, 5, 4, 3, 2], "tanh", "quadratic", 3),
    ([2, 3], "sigmoid", "quadratic", 1),
])
def test_trace_holds_the_engines_values_exactly(sizes, activation, loss, m):
    net = Network(sizes, activation=activation, loss=loss, dtype="float64", seed=5)
    x, y = make_batch(net, m, seed=5)
    steps = trace(net, x, y)
    expected = engine_values(sizes, activation, loss, m, seed=5)
    assert len(steps) == len(expected)
    for step, (name, value) in zip(steps, expected, strict=True):
        np.testing.assert_array_equal(step.value, value, err_msg=f"{name}: {step.equation}")
    assert [s.tag.strip("()") for s in steps if s.tag] == expected_tags(len(sizes))


def printed_blocks(text):
    """(header line, numbers printed under it) for every step of the text output."""
    blocks = []
    for line in text.splitlines():
        if "code:" in line:
            blocks.append((line, []))
        elif line.startswith("       ") and blocks:
            blocks[-1][1].extend(float(v) for v in re.findall(r"-?\d+\.\d+|-?\d+", line))
    return blocks


def test_printed_values_are_the_engines_without_torch():
    """With torch blocked: the one-line note, the tags in order, and every number is the engine's, rounded."""
    done = run_explain("--sizes", "4", "3", "3", "2", "--seed", "0", block_torch=True)
    assert done.returncode == 0, done.stderr
    assert "python -m torch_ref.explain (the same flags) shows them" in done.stdout
    assert "torch autograd" not in done.stdout
    tags = re.findall(r"^\((BP\d)\)", done.stdout, flags=re.MULTILINE)
    assert tags == expected_tags(4)
    blocks = printed_blocks(done.stdout)
    expected = engine_values([4, 3, 3, 2], "relu", "cross-entropy", 2, seed=0)
    assert len(blocks) == len(expected)
    for (header, numbers), (name, value) in zip(blocks, expected, strict=True):
        np.testing.assert_allclose(numbers, np.ravel(value), atol=5e-5 if np.ndim(value) else 5e-7,
                                   err_msg=f"{name}: {header}")


def test_headers_name_equation_and_shape():
    text = main(["--sizes", "4", "3", "3", "2"])
    for header in ("z^[3] = W^[3] a^[2] + b^[3]      shape (2, 3)", "(BP1)  δ^[4] = (p − onehot(y)) / m",
                   "(BP2)  δ^[2] = σ′(z^[2]) ⊙ (W^[3])ᵀ δ^[3]", "(BP4)  ∂C/∂W^[2] = δ^[2] (a^[1])ᵀ",
                   "(BP3)  ∂C/∂b^[3] = δ^[3], summed over the batch", "∂C/∂a^[1] = (W^[2])ᵀ δ^[2]"):
        assert header in text


def test_torch_column_from_torch_ref_explain():
    text = explain_with_torch(["--sizes", "4", "3", "3", "2"])
    differences = [float(d) for d in re.findall(r"^ {7}.*max \|Δ\| = (\S+)$", text, flags=re.MULTILINE)]
    assert "torch autograd" in text
    assert len(differences) == 3 + 1 + 3 * 3 + 1  # z^[l], C, δ^[l] ∂C/∂b^[l] ∂C/∂W^[l], ∂C/∂a^[1]
    assert max(differences) < 1e-12


def test_markdown_handout(tmp_path, capsys):
    out = tmp_path / "example.md"
    text = main(["--markdown", "--loss", "quadratic", "--out", str(out)])
    assert capsys.readouterr().out == ""
    assert out.read_text() == text
    assert text.startswith("# Backpropagation, worked through by hand")
    assert re.findall(r"\\tag\{(BP\d)\}", text) == expected_tags(4)
    assert r"$$\delta ^{[3]} = \sigma'(z^{[3]}) \odot  (W^{[4]})^\top \delta ^{[4]} \tag{BP2}$$" in text
    assert text.count("```") % 2 == 0 and text.count("$$") % 2 == 0
    assert "shape (2, 3), code `a[1] @ W[2].T + b[2]`" in text


def test_help_names_every_flag():
    done = run_explain("--help")
    assert done.returncode == 0
    for flag in ("--sizes", "--seed", "--activation", "--loss", "--batch-size", "--dtype", "--markdown", "--out"):
        assert flag in done.stdout
    assert "python -m scratchnet.explain --markdown" in done.stdout
    done = run_explain("--help", module="torch_ref.explain")
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m torch_ref.explain"), done.stdout


@pytest.mark.parametrize("args,message", [
    (["--sizes", "4"], "need at least two layers"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--out", "{tmp}/afile/x.md"], "/afile is a file, not a folder; choose another path"),
    (["--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
])
def test_bad_flags_are_one_clear_line(args, message, tmp_path):
    (tmp_path / "afile").write_text("a file where a folder should be")
    done = run_explain(*[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


@pytest.mark.parametrize("dtype, planted, verdict", [("float64", 1e-8, "DISAGREES beyond its tolerance"),
                                                     ("float64", 1e-14, "agrees with every quantity"),
                                                     ("float32", 1e-3, "DISAGREES beyond its tolerance")])
def test_the_autograd_verdict_follows_the_tolerance_table(dtype, planted, verdict):
    """The verdict reads the one autograd tolerance of the quantity's dtype: a planted difference of dW[2]."""
    from torch_ref.autograd import torch_gradients

    net = Network([4, 3, 3, 2], dtype=dtype, seed=0)
    x, y = make_batch(net, 2, 0)
    steps, note = traced(net, x, y, torch_gradients)
    assert note == "" and "agrees with every quantity" in autograd_line(steps, note)
    (dW,) = [step for step in steps if step.key == ("dW", 2)]
    dW.torch = dW.torch + planted * np.abs(dW.torch).max()
    assert verdict in autograd_line(steps, note)
