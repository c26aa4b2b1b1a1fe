"""`python -m scratchnet.gradcheck` as a user runs it: the per-quantity table, pass/fail and the exit status.

The default run (the tutorial's 784-512-512-10) passes every row against torch autograd and central
differences; so do a small float32 run and a batch of 64, where h is halved around ReLU kinks; a planted
wrong dW[3] fails that row and only it, with exit status 1; without torch, the finite-difference columns
alone are shown after a one-line note; bad flags give one line and exit status 2; every flag has its help.
In float32 each row says how far it lies from its float64 value against what rounding allows: a tolerance
failure that rounding explains is said so and passes; σ′ by cancellation is said to be beyond rounding.

    python -m pytest tests/test_gradcheck_cli.py
"""

import re
import subprocess
import sys

import numpy as np

from scratchnet import Network
from scratchnet.activations import sigmoid
from scratchnet.gradcheck import build_parser, check, rounding_notes

from conftest import REPO
from helpers import blocking

ROWS = ["loss", "dW[2]", "dW[3]", "dW[4]", "db[2]", "db[3]", "db[4]", "delta[2]", "delta[3]", "delta[4]",
        "input gradient"]
NUMBER = r"(\d\.\de[+-]\d\d|—)"
BLOCK_TORCH = blocking("torch")


def run(*args, code=None):
    command = [sys.executable, "-m", "scratchnet.gradcheck", *args] if code is None else [sys.executable, "-c", code]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def table(stdout, with_torch=True, float32=False):
    """{row name: (numbers…, method, [Δ/bound,] result)} from the printed table, checking the header on the way."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("quantity"))
    assert ("torch max|Δ|" in lines[head]) == with_torch, lines[head]
    assert ("Δ/bound" in lines[head]) == float32, lines[head]
    assert "fd max|Δ|" in lines[head] and "fd rel" in lines[head] and lines[head].endswith("result")
    numbers = 4 if with_torch else 2
    rounding = r"(?P<rounding>\d[\d.e+-]*) +" if float32 else ""
    pattern = r"(?P<name>loss|(?:dW|db|delta)\[\d\]|input gradient) +" + rf"{NUMBER} +" * numbers + \
        r"(?P<method>—|entrywise|direction)(?: h/\d+)?(?: kink)? +" + rounding + r"(?P<result>pass|FAIL|rounding)"
    rows = {}
    for line in lines[head + 1:]:
        if not line:
            break
        match = re.fullmatch(pattern, line)
        assert match, line
        rows[match["name"]] = match
    return rows


def test_default_run_checks_the_tutorial_model_and_passes():
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("gradient check: sizes 784-512-512-10, relu, cross-entropy, float64, batch 8")
    rows = table(done.stdout)
    assert list(rows) == ROWS
    assert all(row["result"] == "pass" for row in rows.values())
    assert rows["loss"]["method"] == "—"
    assert rows["dW[2]"]["method"] == "direction" and rows["db[4]"]["method"] == "entrywise"
    assert done.stdout.rstrip().endswith("all 11 rows pass")


def test_small_float32_run_passes():
    done = run("--sizes", "10", "8", "8", "4", "--batch-size", "3", "--dtype", "float32",
               "--activation", "sigmoid", "--loss", "quadratic", "--seed", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = table(done.stdout, float32=True)
    assert list(rows) == ROWS and all(row["result"] == "pass" for row in rows.values())
    assert all(row["method"] == "entrywise" for name, row in rows.items() if name != "loss")
    assert all(float(row["rounding"]) <= 1 for row in rows.values())
    assert "Δ/bound: max |float32 − float64| / what float32 rounding allows" in done.stdout


def float32_check(activation, loss, x_scale, sigma_prime=None):
    """check() of a 20-16-16-5 float32 network on 8 inputs uniform in ±x_scale; sigma_prime replaces σ′ in
    every float32 layer (the float64 values the rounding column compares with keep the engine's)."""
    net = Network([20, 16, 16, 5], activation=activation, loss=loss, dtype="float32", seed=0)
    if sigma_prime is not None:
        net.sigma_prime = dict.fromkeys(net.sigma_prime, sigma_prime)
    rng = np.random.default_rng(1)
    x = (rng.uniform(-1, 1, (8, 20)) * x_scale).astype(np.float32)
    rows, _ = check(net, x, rng.integers(0, 5, 8))
    return {row.name: row for row in rows}, rounding_notes(rows)


def test_a_float32_tolerance_failure_that_rounding_explains_is_said_and_passes():
    """|x| ≤ 1000: dW[4] is off autograd by more than atol 1e-6, and by 0.006 of what rounding allows."""
    rows, notes = float32_check("relu", "quadratic", 1000)
    assert not rows["dW[4]"].torch_ok and rows["dW[4]"].rounding <= 1 and rows["dW[4]"].result == "rounding"
    assert all(row.passed for row in rows.values())
    assert len(notes) == 1 and notes[0].startswith("dW[4]: outside the fixed tolerance, but within float32 rounding")


def textbook_sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)


def test_a_float32_precision_loss_is_said_to_be_beyond_rounding():
    """σ′ = σ(1 − σ) at saturated units (|x| ≤ 100) passes the fixed tolerances, but not the rounding bound."""
    rows, notes = float32_check("sigmoid", "quadratic", 100, textbook_sigmoid_prime)
    failed = [name for name, row in rows.items() if not row.passed]
    assert "delta[2]" in failed and all(rows[name].torch_ok and rows[name].rounding > 10 for name in failed)
    assert len(notes) == len(failed) and all("times what float32 rounding explains: beyond rounding" in note
                                             for note in notes)
    assert all(row.rounding <= 1 for row in float32_check("sigmoid", "quadratic", 100)[0].values())


def test_relu_kinks_are_stepped_around():
    """With 64 samples, ±hv crosses some of the 65,536 hidden ReLU kinks: h is halved for those rows."""
    done = run("--batch-size", "64", "--seed", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = table(done.stdout)
    assert all(row["result"] == "pass" for row in rows.values())
    assert any("h/" in row[0] for row in rows.values()), done.stdout


def test_a_wrong_gradient_fails_its_row_and_the_exit_status():
    code = """
import sys
from scratchnet.network import Network
from scratchnet.gradcheck import main
right = Network.backward
def doubled_dW3(self, delta_L):
    dW, db = right(self, delta_L)
    dW[3] = 2 * dW[3]
    return dW, db
Network.backward = doubled_dW3
sys.exit(main(["--sizes", "30", "20", "20", "5"]))
"""
    done = run(code=code)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = table(done.stdout)
    assert [name for name, row in rows.items() if row["result"] == "FAIL"] == ["dW[3]"]
    assert done.stdout.rstrip().endswith("FAILED: dW[3]")


def test_without_torch_only_finite_differences_are_shown():
    code = BLOCK_TORCH + """
from scratchnet.gradcheck import main
status = main(["--sizes", "30", "20", "20", "5"])
assert not any(name == "torch" or name.startswith("torch.") for name in sys.modules)
sys.exit(status)
"""
    done = run(code=code)
    assert done.returncode == 0, done.stdout + done.stderr
    notes = [line for line in done.stdout.splitlines() if line.startswith("torch is not available")]
    assert len(notes) == 1 and notes[0].endswith("showing the finite-difference columns only"), done.stdout
    rows = table(done.stdout, with_torch=False)
    assert list(rows) == ROWS and all(row["result"] == "pass" for row in rows.values())


def test_bad_flags_give_one_line_and_status_2():
    for args, message in ((["--batch-size", "0"], "--batch-size must be at least 1"),
                          (["--sizes", "5"], "need at least two layers"),
                          (["--dtype", "float16"], "invalid choice")):
        done = run(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_every_flag_has_help():
    parser = build_parser()
    flags = [action for action in parser._actions if action.option_strings != ["-h", "--help"]]
    assert {f.option_strings[0] for f in flags} >= {"--sizes", "--dtype", "--batch-size", "--seed"}
    for action in flags:
        assert action.help and len(action.help) > 10, action.option_strings
    done = run("--help")
    assert done.returncode == 0 and "python -m scratchnet.gradcheck" in done.stdout
    assert "(default 8)" in done.stdout
