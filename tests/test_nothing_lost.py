"""Nothing lost, part 2: the commands used as a hostile user would, each case as the issue reproduced it.

Every case runs the real command in a fresh interpreter and checks the one line it prints, its exit status,
and that no file the user had was changed (SHA-256 before and after). Device nodes and FIFOs are made in a
temporary folder (never the real /dev), the full disk is a real 1 MiB tmpfs (root only, skipped elsewhere),
signals are real signals (sent by the test, or by the run to itself at a chosen step), pipes are real pipes.

    python -m pytest tests/test_nothing_lost.py
"""

import fcntl
import hashlib
import json
import os
import pty
import shlex
import signal
import stat
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pytest

from scratchnet.run.checkpoint import load_checkpoint

from conftest import REPO

SMALL = ["--train-size", "640", "--test-size", "100", "--hidden", "16", "--epochs", "1"]  # 10 steps an epoch

# Python run before the command: every backward pass sleeps a little (so a signal lands mid-epoch), and at
# step AT (counted over the run) the process sends itself SIGNAL: a real signal at a known place.
SIGNAL_AT = """
import os, signal, time
import numpy as np
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.step import ReferenceStep
count = [0]
def signalling(real_step):
    def step(self, x, y):
        count[0] += 1
        if count[0] == {at}:
            os.kill(os.getpid(), signal.{signal})  # a real signal, in the middle of step {at}
        time.sleep({sleep})
        return real_step(self, x, y)
    return step
for kind in (ReferenceStep, BlasStep):  # whichever the run trains with (SGD: the fused step on the CPU)
    kind.step = signalling(kind.step)
"""


def command(module, args, prelude=""):
    if not prelude:
        return [sys.executable, "-m", module, *args]
    entry = {"scratchnet.train": "scratchnet.train", "torch_ref.train": "torch_ref.train",
             "torch_ref.compare": "torch_ref.compare"}[module]
    code = (f"import sys\n{prelude}\nfrom scratchnet.shell.console import run_cli\nfrom {entry} import cli\n"
            "run_cli(cli, sys.argv[1:])\n")
    return [sys.executable, "-c", code, *args]


def run(module, *args, prelude="", cwd=REPO, env=None, **kwargs):
    """The command in a fresh interpreter that imports this tree's scratchnet, wherever it runs."""
    env = {**(env or os.environ), "PYTHONPATH": str(REPO)}
    return subprocess.run(command(module, args, prelude), cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env, **kwargs)


def train(*args, **kwargs):
    return run("scratchnet.train", *args, **kwargs)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def one_line(done, code):
    """The run's stderr is one line and its status is `code`; returns the line."""
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def small(mnist_dir):
    return [*SMALL, "--data-dir", mnist_dir]


# 1. resuming from a copy ----------------------------------------------------------------------------------

def test_resuming_a_copy_writes_the_copy_and_says_so(small, tmp_path):
    ckpt, copy = tmp_path / "ckpt.npz", tmp_path / "copy.npz"
    assert train(*small, "--save", str(ckpt)).returncode == 0
    copy.write_bytes(ckpt.read_bytes())
    assert train("--resume", str(ckpt), "--epochs", "2").returncode == 0  # ckpt.npz moves on to epoch 2
    later = sha256(ckpt)
    done = train("--resume", str(copy), "--epochs", "3")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"resuming {copy} (epoch 1 done): checkpoints go to {copy}"
    assert sha256(ckpt) == later, "a file that is not the one resumed was overwritten"
    assert load_checkpoint(str(copy))[1]["state"]["epoch"] == 3
    other = tmp_path / "elsewhere.npz"
    done = train("--resume", str(copy), "--epochs", "4", "--save", str(other))
    assert done.stderr.splitlines()[0] == f"resuming {copy} (epoch 3 done): checkpoints go to {other}"
    assert load_checkpoint(str(other))[1]["state"]["epoch"] == 4 and sha256(ckpt) == later


# 2. one file for two outputs -------------------------------------------------------------------------------

@pytest.mark.parametrize("outputs,message", [
    (["--save", "{d}/same.npz", "--metrics-out", "{d}/same.npz"],
     "--metrics-out {d}/same.npz and --save {d}/same.npz are the same file"),
    (["--plot-samples", "{d}/x.png", "--plot", "{d}/x_predictions.png"],
     "--plot {d}/x_predictions.png and --plot-samples (its predictions grid) {d}/x_predictions.png are the same "
     "file"),
    (["--metrics-out", "{d}/m.json", "--plot", "{d}/./m.json"], "are the same file"),
    (["--resume", "{d}/old.npz", "--metrics-out", "{d}/old.npz"], "--resume {d}/old.npz and --metrics-out"),
])
def test_one_file_for_two_outputs_is_refused_before_any_work(outputs, message, small, tmp_path):
    old = tmp_path / "old.npz"
    assert train(*small, "--save", str(old)).returncode == 0
    before = {p.name: sha256(p) for p in tmp_path.iterdir()}
    line = one_line(train(*small, *[a.format(d=tmp_path) for a in outputs]), 2)
    assert message.format(d=tmp_path) in line
    assert {p.name: sha256(p) for p in tmp_path.iterdir()} == before


# 3. outputs that are not regular files ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["character device", "FIFO"])
@pytest.mark.parametrize("flag", ["--save", "--metrics-out", "--plot"])
def test_an_output_that_is_not_a_regular_file_is_refused_and_kept(kind, flag, small, tmp_path):
    node = tmp_path / "node"
    if kind == "FIFO":
        os.mkfifo(node)
    elif os.geteuid() == 0:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # /dev/full's numbers, in a temporary folder
    else:
        pytest.skip("os.mknod of a device needs root")
    mode = os.stat(node).st_mode
    line = one_line(train(*small, flag, str(node)), 2)
    assert line == f"error: {flag} {node} is a {kind}, not a regular file: writing would replace it; give a file path"
    assert os.stat(node).st_mode == mode


def test_a_symlinked_output_writes_the_file_it_points_to(small, tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("{}")
    link.symlink_to(real)
    assert train(*small, "--metrics-out", str(link)).returncode == 0
    assert link.is_symlink() and json.loads(real.read_text())["epochs"][0]["epoch"] == 1


# 4. a full disk -------------------------------------------------------------------------------------------



def fill(folder, leave=0):
    """Fill the file system of `folder` until `leave` bytes or fewer are free."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
                if os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize <= leave:
                    break
        except OSError:
            pass


def test_a_checkpoint_on_a_full_disk_keeps_the_old_one_and_saves_elsewhere(small, full_fs, tmp_path):
    ckpt = full_fs / "ckpt.npz"
    ckpt.write_bytes(b"the previous checkpoint")
    before = sha256(ckpt)
    done = train(*small, "--hidden", "512", "--save", str(ckpt), env={**os.environ, "TMPDIR": str(tmp_path)})
    line = one_line(done, 1)
    assert line.startswith(f"error: could not write {ckpt} (No space left on device); the previous {ckpt} is "
                           "unchanged; the run's state is saved in ")
    rescued = line.split("the run's state is saved in ")[1].split(" instead")[0]
    assert rescued.startswith(str(tmp_path)) and load_checkpoint(rescued)[1]["state"]["epoch"] == 1
    assert f"resume with: python -m scratchnet.train --resume {shlex.quote(rescued)}" in line
    assert sha256(ckpt) == before and sorted(os.listdir(full_fs)) == ["ckpt.npz"]


@pytest.mark.parametrize("flag", ["--metrics-out", "--plot"])
def test_metrics_and_plots_on_a_full_disk_are_one_line(flag, small, full_fs):
    out = full_fs / "out"
    out.write_bytes(b"the previous file")
    before = sha256(out)
    fill(full_fs)
    line = one_line(train(*small, flag, str(out)), 1)
    assert line == f"error: could not write {out} (No space left on device); the previous {out} is unchanged"
    assert sha256(out) == before


# 5. two runs, one checkpoint ------------------------------------------------------------------------------

def test_two_runs_saving_one_checkpoint_every_step_both_finish(mnist_dir, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    args = ["--train-size", "6400", "--test-size", "100", "--hidden", "16", "--epochs", "1", "--data-dir", mnist_dir,
            "--save", str(ckpt), "--save-every", "1"]
    runs = [subprocess.Popen(command("scratchnet.train", args), cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in runs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    assert load_checkpoint(str(ckpt))[1]["state"]["epoch"] == 1
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# 6. checkpoints edited by hand, through the command line ---------------------------------------------------

def edit(path, change):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(meta, arrays)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize("change,message", [
    (lambda m, a: m["state"].update(epoch=0.5), "state.epoch is 0.5, not an integer in [0, 1]"),
    (lambda m, a: m["state"].update(epoch=-2), "state.epoch is -2, not an integer in [0, 1]"),
    (lambda m, a: m["state"].update(step=500), "state.step is 500, not an integer in [0, 10]"),
    (lambda m, a: m["config"].update(hidden="16"), "config.hidden is '16', not a list of ints"),
    (lambda m, a: m["config"].update(lr="fast"), "config.lr is 'fast' (a string), not a number"),
    (lambda m, a: m.pop("config"), "meta has no 'config'"),
    (lambda m, a: m.update(format_version="1"), "format_version is '1' (a string), not an integer"),
    (lambda m, a: m["state"].update(sampler_state={"bit_generator": "PCG64"}), "state.sampler_state is not a PCG64"),
    (lambda m, a: a.update(W2=a["W2"].T.copy()), "W2 has shape (784, 16); the 784-16-10 network implies (16, 784)"),
    (lambda m, a: a.update(W2=a["W2"][:1]), "W2 has shape (1, 784)"),
    (lambda m, a: a.update(b2=np.float32(0)), "b2 has shape ()"),
    (lambda m, a: a.update(W2=a["W2"].astype(np.complex64)), "W2 has dtype complex64, not float32"),
    (lambda m, a: a.update(W3=a["W3"].astype(str)), "W3 has dtype <U"),
    (lambda m, a: a.pop("W3"), "has no array W3"),
])
def test_an_edited_checkpoint_is_one_line_naming_the_field(change, message, small, tmp_path):
    ckpt = tmp_path / "c.npz"
    assert train(*small, "--save", str(ckpt)).returncode == 0
    edit(ckpt, change)
    before = sha256(ckpt)
    line = one_line(train("--resume", str(ckpt), "--epochs", "2"), 1)
    assert line.startswith(f"error: checkpoint {ckpt}: {message}"), line
    assert sha256(ckpt) == before


# 7. seeds -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module,args", [
    ("scratchnet.train", ["--seed", "-1"]), ("torch_ref.train", ["--seed", "-1"]),
    ("torch_ref.train", ["--seed", str(2**70)]), ("scratchnet.train", ["--seed", str(2**70)]),
    ("torch_ref.compare", ["--seed", "-1"]), ("scratchnet.gradcheck", ["--seed", "-1"]),
    ("scratchnet.explain", ["--seed", "-1"]),
])
def test_one_seed_rule_for_every_command(module, args):
    line = one_line(run(module, *args), 2)
    assert line.endswith(f"--seed must be an integer in [0, 2**63 − 1], got {args[1]}")


# 8. a reader gone away, in the middle of training ------------------------------------------------------------

@pytest.mark.parametrize("module", ["scratchnet.train", "torch_ref.train", "torch_ref.compare"])
def test_a_closed_pipe_mid_run_ends_quietly(module, small):
    read, write = os.pipe()
    os.close(read)
    args = [*small, "--steps", "5"] if module == "torch_ref.compare" else small
    done = subprocess.run(command(module, args), cwd=REPO, stdout=write, stderr=subprocess.PIPE, text=True,
                          timeout=600)
    os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


# 10. a model that cannot fit --------------------------------------------------------------------------------

@pytest.mark.parametrize("module,args", [("scratchnet.train", ["--hidden", "200000", "200000"]),
                                         ("torch_ref.train", ["--hidden", "200000", "200000"]),
                                         ("scratchnet.gradcheck", ["--sizes", "784", "200000", "200000", "10"])])
def test_a_model_that_cannot_fit_is_refused_with_its_size(module, args, tmp_path):
    line = one_line(run(module, *args, "--data-dir", str(tmp_path)) if module != "scratchnet.gradcheck"
                    else run(module, *args), 2)
    assert "200000-200000-10 in float" in line and "GiB of memory, and " in line and "GiB is available" in line
    assert not os.listdir(tmp_path), "refused before fetching MNIST"


# 12, 13. signals ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signame,code,said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated"),
                                               ("SIGHUP", 129, "hung up")])
def test_a_signal_mid_epoch_saves_and_says_how_to_resume(signame, code, said, small, tmp_path):
    ckpt = tmp_path / "with space" / "c.npz"
    done = train(*small, "--save", str(ckpt), prelude=SIGNAL_AT.format(at=4, signal=signame, sleep=0.01))
    line = one_line(done, code)
    resume = f"python -m scratchnet.train --resume {shlex.quote(str(ckpt))}"
    assert line == f"{said} ({signame}) in epoch 1 after step 4: saved {ckpt}; resume with: {resume}"
    resumed = subprocess.run(resume + f" --data-dir {shlex.quote(small[-1])}", shell=True, cwd=REPO,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(str(ckpt))[1]["state"]["epoch"] == 1


def test_a_signal_sent_from_outside_is_honoured(small, tmp_path):
    ckpt = tmp_path / "c.npz"
    p = subprocess.Popen(command("scratchnet.train", [*small, "--save", str(ckpt)],
                                 SIGNAL_AT.format(at=0, signal="SIGINT", sleep=0.2)),
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "Epoch 1\n"
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 143 and err.startswith("terminated (SIGTERM) in epoch 1 after step "), err


EVALUATE_THEN_SIGNAL = """
import os, signal
import scratchnet.loop as loop
real_evaluate = loop.evaluate
def evaluate(*args):
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the last epoch is being tested
    return real_evaluate(*args)
loop.evaluate = evaluate
"""


def test_ctrl_c_during_the_last_test_is_honoured(small, tmp_path):
    ckpt = tmp_path / "c.npz"
    done = train(*small, "--save", str(ckpt), prelude=EVALUATE_THEN_SIGNAL)
    line = one_line(done, 130)
    assert "Done!" not in done.stdout
    assert line.startswith(f"interrupted (SIGINT) after epoch 1: saved {ckpt}; resume with: ")
    assert load_checkpoint(str(ckpt))[1]["state"]["epoch"] == 1


SAVE_TWICE_INTERRUPTED = """
real_savez = np.savez
def savez(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C arrives while the first one's checkpoint is written
    return real_savez(*args, **kwargs)
np.savez = savez
"""


def test_a_second_ctrl_c_while_saving_still_says_what_was_saved(small, tmp_path):
    ckpt = tmp_path / "c.npz"
    prelude = SIGNAL_AT.format(at=3, signal="SIGINT", sleep=0) + SAVE_TWICE_INTERRUPTED
    line = one_line(train(*small, "--save", str(ckpt), prelude=prelude), 130)
    assert line.startswith(f"interrupted (SIGINT) in epoch 1 after step 3: saved {ckpt}; resume with: ")
    assert load_checkpoint(str(ckpt))[1]["state"]["step"] == 3


def test_ctrl_c_without_save_never_overwrites_an_earlier_interrupted_run(small, tmp_path):
    (tmp_path / "runs").mkdir()
    earlier = tmp_path / "runs" / "interrupted.npz"
    earlier.write_bytes(b"an earlier run's checkpoint")
    before = sha256(earlier)
    line = one_line(train(*small, cwd=tmp_path, prelude=SIGNAL_AT.format(at=2, signal="SIGINT", sleep=0)), 130)
    assert "saved runs/interrupted-2.npz; resume with: python -m scratchnet.train --resume runs/interrupted-2.npz" \
        in line
    assert sha256(earlier) == before


# 14, 15. divergence -----------------------------------------------------------------------------------------

def test_adam_with_eps_zero_is_refused_in_both_engines():
    for module in ("scratchnet.train", "torch_ref.train"):
        line = one_line(run(module, "--optimizer", "adam", "--eps", "0"), 2)
        assert "--eps must be a positive number, got 0.0" in line


def test_torch_ref_stops_on_divergence_and_writes_valid_json(small, tmp_path):
    out = tmp_path / "m.json"
    line = one_line(run("torch_ref.train", *small, "--hidden", "512", "512", "--lr", "1000", "--metrics-out",
                        str(out)), 1)
    assert line.startswith("error: epoch 1, step ") and line.endswith(
        ": the loss became nan; the learning rate may be too high (--lr 1000)")
    assert not out.exists()  # it stopped in the first epoch, before any metrics


def test_metrics_json_is_json_whatever_the_numbers(tmp_path):
    from scratchnet.run.metrics import write_metrics

    out = tmp_path / "m.json"
    write_metrics({"epochs": [{"train_loss": float("nan"), "test_loss": float("inf"), "seconds": 1.5}]}, out)
    assert json.loads(out.read_text(), parse_constant=pytest.fail) == {
        "epochs": [{"train_loss": None, "test_loss": None, "seconds": 1.5}]}


def test_compare_says_when_both_engines_diverge(small):
    line = one_line(run("torch_ref.compare", *small, "--hidden", "512", "512", "--lr", "1000", "--steps", "50"), 1)
    assert line.startswith("error: step ") and ": both engines diverged (scratchnet: the loss became nan, " in line
    assert line.endswith("torch_ref: the loss became nan), as they should on the same settings: the learning rate "
                         "may be too high (α = 1000 at this step); the comparison stops there")


# 16. the bar in a narrow terminal -------------------------------------------------------------------------

def test_the_bar_in_a_narrow_terminal_and_the_interrupt_line_after_it(small, tmp_path):
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))  # a terminal 40 columns wide
    os.set_blocking(main, False)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    prelude = SIGNAL_AT.format(at=5, signal="SIGINT", sleep=0.05)
    p = subprocess.Popen(command("scratchnet.train", [*small, "--save", str(tmp_path / "c.npz")], prelude),
                         cwd=REPO, stdin=child, stdout=subprocess.DEVNULL, stderr=child, env=env)
    os.close(child)
    p.wait(timeout=600)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    text = seen.decode()
    assert p.returncode == 130, text
    for drawn in text.replace("\r\n", "\n").split("\r\x1b[K"):
        assert len(drawn.rstrip("\n")) <= 39 or drawn.startswith("interrupted"), repr(drawn)
    assert "\r\x1b[Kinterrupted (SIGINT) in epoch 1 after step 5" in text


# 19. torch_ref's --help ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["torch_ref.train", "torch_ref.compare"])
def test_torch_ref_help_shows_only_flags_that_work(module):
    done = run(module, "--help")
    assert done.returncode == 0
    for flag in ("--save", "--save-every", "--resume", "--step", "--plot-samples"):
        assert f"{flag} " not in done.stdout and f"{flag}\n" not in done.stdout, flag
    assert "auto" not in done.stdout.split("\n  --device")[1].split("\n  --")[0]


# 2, 7 for the grader: its --gradescope output and its --seed ------------------------------------------------

def test_the_grader_never_writes_over_a_submission(tmp_path):
    submission = tmp_path / "student.py"
    submission.write_text("LAYOUT = 'scratchnet'\n")
    before = sha256(submission)
    line = one_line(run("scratchnet.grade", str(submission), "--gradescope", str(submission)), 2)
    assert line == (f"error: the submission {submission} and --gradescope {submission} are the same file: "
                    "--gradescope would overwrite what this command reads; give it another path")
    assert sha256(submission) == before
    line = one_line(run("scratchnet.grade", str(submission), "--seed", "-1"), 2)
    assert line == "error: --seed must be an integer in [0, 2**63 − 1], got -1"
