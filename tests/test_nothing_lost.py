"""Nothing lost, parts 2 and 3: the commands used as a hostile user would, each case as the issues reproduced it,
then the table of part 3 (ROWS: every command × every hostile condition; a new command joins by adding a row).

Every case runs the real command in a fresh interpreter (argument checks that stop before any work run in this
one) and checks the one line it prints, its exit status, and that no file the user had was changed (SHA-256
before and after). The signal, full-disk and pipe tests run with each step the default can choose (BlasStep
where numpy's OpenBLAS is found, the fallback FusedStep, ReferenceStep), forced in turn.
Device nodes and FIFOs are made in a temporary folder (never the real /dev), the full disk is a real 1 MiB
tmpfs and the read-only one a real read-only tmpfs (root only, skipped elsewhere), signals are real signals
(sent by the test, or by the run to itself at a chosen step), pipes are real pipes.

    python -m pytest tests/test_nothing_lost.py
"""

import fcntl
import hashlib
import json
import os
import pathlib
import pty
import shlex
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest

from scratchnet.run.checkpoint import load_checkpoint

from conftest import REPO
from helpers import blocking

SMALL = ["--train-size", "640", "--test-size", "100", "--hidden", "16", "--epochs", "1"]  # 10 steps an epoch

# Python run before the command: every backward pass sleeps a little (so a signal lands mid-epoch), and at
# step AT (counted over the run) the process sends itself SIGNAL: a real signal at a known place.
SIGNAL_AT = """
import os, signal, sys, time
import numpy as np
import scratchnet.fast.choose as choose
from scratchnet.fast.fused import FusedStep
from scratchnet.fast.fused_cpu import BlasStep
from scratchnet.step import ReferenceStep
count = [0]
def signalling(real_step):
    def step(self, x, y):
        count[0] += 1
        if type(self).__name__ != "{kind}":  # the step this cell forces, or the test would prove nothing
            sys.stderr.write(f"the run trains with {{type(self).__name__}}, not {kind}\\n")
            os._exit(99)
        if count[0] == {at}:
            os.kill(os.getpid(), signal.{signal})  # a real signal, in the middle of step {at}
        time.sleep({sleep})
        return real_step(self, x, y)
    return step
for kind in (ReferenceStep, BlasStep, FusedStep):  # every step the default can choose
    kind.step = signalling(kind.step)
if "{kind}" == "FusedStep":  # the fallback where numpy's OpenBLAS is not found: FusedStep on np.matmul
    choose.cpu.cpu_blas = lambda *args, **kwargs: None  # scratchnet.fast.blas, as choose looks it up
"""

# The three steps the default run can choose (scratchnet.fast.choose): each cell forces one. ReferenceStep by its
# flag, FusedStep by hiding numpy's BLAS from the choice, BlasStep where that BLAS is found (skipped elsewhere).
STEPS = {"ReferenceStep": ["--step", "reference"], "FusedStep": [], "BlasStep": []}


@pytest.fixture(params=list(STEPS))
def step(request):
    """(kind, flags): the step a signal test trains with."""
    if request.param == "BlasStep":
        from scratchnet.fast.blas import blas_line, cpu_blas

        if cpu_blas() is None:
            pytest.skip(f"BlasStep needs numpy's OpenBLAS: {blas_line()}")
    return request.param, STEPS[request.param]


def signal_at(step, at, signame, sleep):
    return SIGNAL_AT.format(kind=step[0], at=at, signal=signame, sleep=sleep)


def stop_line(done, code):
    """The one line a stopped run prints, its status `code`; an info line naming the forced step is allowed."""
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("training step: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


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


def test_a_checkpoint_on_a_full_disk_keeps_the_old_one_and_saves_elsewhere(step, small, full_fs, tmp_path):
    ckpt = full_fs / "ckpt.npz"
    ckpt.write_bytes(b"the previous checkpoint")
    before = sha256(ckpt)
    done = train(*small, *step[1], "--hidden", "512", "--save", str(ckpt), env={**os.environ, "TMPDIR": str(tmp_path)},
                 prelude=signal_at(step, 0, "SIGINT", 0))
    line = stop_line(done, 1)
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
    line = stop_line(train(*small, flag, str(out)), 1)
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
    (lambda m, a: m["state"].update(batch=500), "state.batch is 500, not an integer in [0, 10]"),
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
def test_a_signal_mid_epoch_saves_and_says_how_to_resume(signame, code, said, step, small, tmp_path):
    ckpt = tmp_path / "with space" / "c.npz"
    done = train(*small, *step[1], "--save", str(ckpt), prelude=signal_at(step, 4, signame, 0.01))
    line = stop_line(done, code)
    resume = f"python -m scratchnet.train --resume {shlex.quote(str(ckpt))}"
    assert line == f"{said} ({signame}) in epoch 1 after step 4: saved {ckpt}; resume with: {resume}"
    # the printed command, pasted into a shell, with the interpreter running this suite (not the PATH's python)
    pasted = shlex.quote(sys.executable) + resume.removeprefix("python") + f" --data-dir {shlex.quote(small[-1])}"
    resumed = subprocess.run(pasted, shell=True, cwd=REPO, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(str(ckpt))[1]["state"]["epoch"] == 1


@pytest.mark.parametrize("signame", ["SIGHUP", "SIGINT"])
def test_a_signal_the_run_was_started_ignoring_stays_ignored(signame, small, tmp_path):
    """nohup starts a command with SIGHUP ignored, a script's `… &` with SIGINT ignored: the user asked for the run
    to outlive the terminal, or the script's Ctrl-C. The run trains to the end, saving nothing early."""
    ckpt = tmp_path / "c.npz"
    ignored = f"import signal\nsignal.signal(signal.{signame}, signal.SIG_IGN)\n"  # before run_cli, as nohup does
    prelude = ignored + signal_at(("ReferenceStep",), 3, signame, 0.01)
    done = train(*small, "--step", "reference", "--save", str(ckpt), prelude=prelude)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr  # no "hung up …" line, no traceback
    assert done.stdout.rstrip().endswith("Done!")
    assert load_checkpoint(str(ckpt))[1]["state"]["epoch"] == 1


def test_a_signal_sent_from_outside_is_honoured(step, small, tmp_path):
    ckpt = tmp_path / "c.npz"
    p = subprocess.Popen(command("scratchnet.train", [*small, *step[1], "--save", str(ckpt)],
                                 signal_at(step, 0, "SIGINT", 0.2)),
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "Epoch 1\n"
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=600)
    err = "".join(line for line in err.splitlines(True) if not line.startswith("training step: "))
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


def test_ctrl_c_during_the_last_test_is_honoured(step, small, tmp_path):
    ckpt = tmp_path / "c.npz"
    done = train(*small, *step[1], "--save", str(ckpt), prelude=signal_at(step, 0, "SIGINT", 0) + EVALUATE_THEN_SIGNAL)
    line = stop_line(done, 130)
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


def test_a_second_ctrl_c_while_saving_still_says_what_was_saved(step, small, tmp_path):
    ckpt = tmp_path / "c.npz"
    prelude = signal_at(step, 3, "SIGINT", 0) + SAVE_TWICE_INTERRUPTED
    line = stop_line(train(*small, *step[1], "--save", str(ckpt), prelude=prelude), 130)
    assert line.startswith(f"interrupted (SIGINT) in epoch 1 after step 3: saved {ckpt}; resume with: ")
    assert load_checkpoint(str(ckpt))[1]["state"]["batch"] == 3


def test_ctrl_c_without_save_never_overwrites_an_earlier_interrupted_run(step, small, tmp_path):
    (tmp_path / "runs").mkdir()
    earlier = tmp_path / "runs" / "interrupted.npz"
    earlier.write_bytes(b"an earlier run's checkpoint")
    before = sha256(earlier)
    line = stop_line(train(*small, *step[1], cwd=tmp_path, prelude=signal_at(step, 2, "SIGINT", 0)), 130)
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
    prelude = signal_at(("ReferenceStep",), 5, "SIGINT", 0.05)
    p = subprocess.Popen(command("scratchnet.train", [*small, "--step", "reference", "--save", str(tmp_path / "c.npz")],
                                 prelude),
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


# every command: each module with a __main__ block explains itself on --help and refuses a flag it lacks ----------

def entry_points():
    """Every `python -m` module of the three packages: found by its __main__ block, so a new one is tested too."""
    found = []
    for package in ("scratchnet", "torch_ref", "benchmarks"):
        for path in sorted((REPO / package).rglob("*.py")):
            if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
                parts = path.relative_to(REPO).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__main__" else parts))
    return found


INTERNAL = ("scratchnet.grade.child",)  # started by the grader with file descriptors: it says so, and what to run


@pytest.mark.parametrize("module", entry_points())
def test_every_command_explains_itself_and_refuses_a_flag_it_lacks(module):
    if module.startswith("torch_ref"):
        pytest.importorskip("torch")
    with ThreadPoolExecutor(2) as pool:  # the two runs side by side: each is mostly an interpreter's start-up
        helped, refused = pool.map(lambda flag: hostile(module, [flag], capture_output=True, text=True),
                                   ["--help", "--no-such-flag"])
    if module in INTERNAL:
        for done in (helped, refused):
            assert "python -m scratchnet.grade --help" in one_line(done, 1)
        return
    assert helped.returncode == 0 and helped.stdout.startswith(f"usage: python -m {module}"), helped
    assert helped.stderr == "", helped.stderr
    line = one_line(refused, 2)  # the unknown flag named, or first what the command needs (argparse's order)
    assert "--no-such-flag" in line or "required" in line, line


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


# Part 3: the table, command × hostile condition ---------------------------------------------------------------
#
# Each row of ROWS is a command; each column a hostile condition, run on every row it applies to. A new command
# joins by adding one row. The rule in every cell: one line (or none, where the user discarded the stream), the
# right exit status, no traceback, no hang, no file left behind. Cheap cells fail before any work; the runs that
# do work are tiny (64 samples, one hidden layer of 4) and share the setups (a checkpoint, a data folder holding
# a FIFO, a read-only file system) at module scope.

TINY = ["--train-size", "64", "--test-size", "32", "--hidden", "4", "--epochs", "1", "--data-dir", "{data}"]
GRADER = "grader: helper C"  # the grader's own cases are another helper's: marked, not fixed here


@dataclass(frozen=True)
class Row:
    """One command: a quick complete run of it, and the flags each hostile column aims at.

    Arguments may hold {data} (the MNIST folder), {tmp} (a fresh folder), {ckpt} (a tiny checkpoint) and
    {hw} (the exercise's hand-out, a submission that grades as not yet implemented)."""

    run: tuple = ()          # a run that finishes in seconds; None: none is cheap (it stays out of those columns)
    code: int = 0            # that run's exit status
    pipe_code: int = 141     # its status when stdout's reader is gone (128 + SIGPIPE)
    outputs: tuple = ()      # output flags: the first meets every bad path, the others a too-long name
    folder_out: bool = False  # the output flag names a folder (exercise, benchmarks.run)
    inputs: tuple = ()       # flags that read a file, each given a FIFO, a device and a folder
    mnist: bool = False      # reads MNIST from --data-dir: given a data folder where one file is a FIFO
    numbers: tuple = ()      # numeric flags, each given nan, inf, a huge and a negative value
    accepted: tuple = ()     # (flag, value) pairs that are meant to be accepted (a long run, an unused setting)
    torch: bool = False      # needs torch: without it, one line that says how to install it
    xfail: tuple = ()        # columns that fail for a reason owned elsewhere (GRADER)
    few: bool = False        # each run costs seconds (torch's import): one cell per column, the rest is shared code

    def args(self, paths, extra=()):
        return [a.format(**paths) for a in (*self.run, *extra)]


TRAIN_NUMBERS = ("--epochs", "--batch-size", "--lr", "--momentum", "--weight-decay", "--eps", "--dropout",
                 "--lr-step-epochs", "--lr-gamma", "--hidden", "--seed", "--threads", "--train-size", "--test-size",
                 "--save-every")
# Huge values that mean a long run, or a setting the chosen optimizer or schedule does not read (sgd, no schedule)
LONG_OR_UNUSED = (("--epochs", "huge"), ("--lr-step-epochs", "huge"), ("--save-every", "huge"), ("--eps", "huge"),
                  ("--lr-gamma", "huge"), ("--lr", "huge"), ("--weight-decay", "huge"))

ROWS = {
    "scratchnet.train": Row(run=TINY, outputs=("--save", "--metrics-out", "--plot", "--plot-samples"),
                            inputs=("--resume",), mnist=True, numbers=TRAIN_NUMBERS, accepted=LONG_OR_UNUSED),
    "scratchnet.gradcheck": Row(run=("--sizes", "4", "3", "2", "--batch-size", "2"),
                                numbers=("--sizes", "--batch-size", "--seed")),
    "scratchnet.explain": Row(run=("--sizes", "3", "2", "2"), outputs=("--out",),
                              numbers=("--sizes", "--batch-size", "--seed")),
    "scratchnet.explain --html": Row(run=("--html", "{tmp}/page.html", "--resume", "{ckpt}", "--data-dir", "{data}"),
                                     outputs=("--html",), inputs=("--resume",), mnist=True, numbers=("--digit",)),
    "scratchnet.exercise": Row(run=("--out", "{tmp}/hw", "--layout", "rows"), pipe_code=0, outputs=("--out",),
                               folder_out=True),
    "scratchnet.grade": Row(run=("{hw}",), code=1, outputs=("--gradescope",), inputs=("FILE",),
                            numbers=("--cases", "--seed", "--time-limit", "--memory-mb", "--jobs"),
                            ),
    "scratchnet.fast": Row(run=()),
    "scratchnet.teaching.doclinks": Row(run=(), pipe_code=0, inputs=("--doc",)),  # silent when every link holds
    "torch_ref.train": Row(run=TINY, outputs=("--metrics-out",), mnist=True, torch=True, few=True),
    "torch_ref.compare": Row(run=(*TINY, "--steps", "1"), outputs=("--metrics-out",), torch=True, few=True,
                             numbers=("--steps",), accepted=(("--steps", "huge"),)),
    "torch_ref.gradcheck": Row(run=None, torch=True),
    "torch_ref.explain": Row(run=None, outputs=("--out",), torch=True),
    "torch_ref.grade": Row(run=None, torch=True),
    "benchmarks.run": Row(run=("--out", "", "--data-dir", "{data}"), code=2, pipe_code=2, outputs=("--out",),
                          folder_out=True, numbers=("--repeats", "--busy-repeats", "--busy-steps",
                                                                "--threads"),
                          accepted=(("--repeats", "huge"), ("--busy-repeats", "huge"), ("--busy-steps", "huge"))),
}


def cells(column, applies):
    """The (row name, …) cells of `column`: every row it applies to, xfailed where the row says so."""
    found = []
    for name, row in ROWS.items():
        for case in applies(row):
            marks = [pytest.mark.xfail(reason=GRADER, strict=False)] if column in row.xfail else []
            found.append(pytest.param(name, *case, marks=marks, id="-".join([name, *map(str, case)])))
    return found


def entry(name):
    module, *flags = name.split()
    return module, flags


@pytest.fixture(scope="module")
def shared(mnist_dir, tmp_path_factory):
    """What cells read: the MNIST folder, a tiny checkpoint, the exercise's hand-out, a data folder with a FIFO."""
    root = tmp_path_factory.mktemp("shared")
    ckpt = root / "tiny.npz"
    done = run("scratchnet.train", *[a.format(data=mnist_dir) for a in TINY], "--save", str(ckpt))
    assert done.returncode == 0, done.stderr
    assert run("scratchnet.exercise", "--out", str(root / "hw"), "--layout", "rows").returncode == 0
    fifo_data = root / "fifo-data" / "MNIST" / "raw"
    fifo_data.mkdir(parents=True)
    for f in (pathlib.Path(mnist_dir) / "MNIST" / "raw").iterdir():
        (fifo_data / f.name).symlink_to(f)
    (fifo_data / "t10k-labels-idx1-ubyte").unlink()
    os.mkfifo(fifo_data / "t10k-labels-idx1-ubyte")  # the case: one file of the data folder a FIFO
    return {"data": mnist_dir, "ckpt": str(ckpt), "hw": str(root / "hw" / "backprop_rows.py"),
            "fifo_data": str(root / "fifo-data")}


@pytest.fixture
def paths(shared, tmp_path):
    return {**shared, "tmp": str(tmp_path)}


def hostile(module, args, **kwargs):
    """The command in a fresh interpreter with stdin empty; a hang is a failure, not a stuck suite."""
    env = {**kwargs.pop("env", os.environ), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=kwargs.pop("cwd", REPO), env=env, timeout=120,
                          stdin=subprocess.DEVNULL, **kwargs)


# streams: closed before the start (`>&-`, `2>&-`: discarded, as >/dev/null would), or a reader gone away

@pytest.mark.parametrize("name,stream", cells("streams", lambda r: [] if r.run is None else [("broken pipe",)] if r.few
                                              else [("stdout closed",), ("stderr closed",), ("broken pipe",)]))
def test_streams_closed_or_gone(name, stream, paths):
    row, (module, _) = ROWS[name], entry(name)
    args = row.args(paths)
    if stream == "broken pipe":
        read, write = os.pipe()
        os.close(read)
        done = hostile(module, args, stdout=write, stderr=subprocess.PIPE, text=True)
        os.close(write)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == row.pipe_code, done.stderr
        said = [line for line in done.stderr.splitlines() if not line.startswith("training step: ")]  # issue 23
        assert said == [] or row.pipe_code != 141, done.stderr
        return
    fd = 1 if stream == "stdout closed" else 2
    done = hostile(module, args, capture_output=True, text=True, preexec_fn=lambda: os.close(fd))
    assert done.returncode == row.code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert (done.stdout if fd == 1 else done.stderr) == ""


# outputs that cannot be made: refused in one line, before any work, nothing left behind

BAD_OUTPUTS = ("too long", "in /proc", "empty", "read-only fs", "folder", "device")


@pytest.fixture(scope="module")
def read_only_fs(tmp_path_factory):
    """A real read-only tmpfs (root only: chmod does not stop root), unmounted afterwards."""
    mount = tmp_path_factory.mktemp("ro")
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root (and chmod does not stop root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def bad_output(kind, row, tmp, request):
    """A path of `kind` for an output flag (a folder's for --out DIR), and the words its one line must hold."""
    if kind == "too long":  # the name fits NAME_MAX (255); the temporary name written beside it does not
        return str(tmp / ("m" * (256 if row.folder_out else 240))), "too long"
    if kind == "in /proc":
        return "/proc/nothing-lost-out", "not writable"
    if kind == "empty":
        return "", "empty"
    if kind == "read-only fs":
        return str(request.getfixturevalue("read_only_fs") / "out"), "Read-only file system"
    if kind == "folder":  # where the flag wants a folder, a file is the wrong kind
        (tmp / "taken").mkdir() if not row.folder_out else (tmp / "taken").write_text("a file")
        return str(tmp / "taken"), "is a file" if row.folder_out else "is a folder"
    node = tmp / "node"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7)) if os.geteuid() == 0 else os.mkfifo(node)
    return str(node), "give a folder" if row.folder_out else "not a regular file"


def output_cells(row):
    found = [(flag, kind) for i, flag in enumerate(row.outputs) for kind in (BAD_OUTPUTS if i == 0 else ["too long"])]
    found = found[:1] if row.few else found
    # an empty optional output means "none" (their --help: default none), only a folder flag must be given
    return [(flag, kind) for flag, kind in found if kind != "empty" or row.folder_out]


@pytest.mark.parametrize("name,flag,kind", cells("outputs", output_cells))
def test_an_output_that_cannot_be_made_is_refused_before_any_work(name, flag, kind, paths, tmp_path, request):
    row, (module, _) = ROWS[name], entry(name)
    path, words = bad_output(kind, row, tmp_path, request)
    before = sorted(os.listdir(tmp_path))
    args = row.args(paths) if row.run is not None else []
    done = hostile(module, [*args, flag, path], capture_output=True, text=True)
    line = one_line(done, 2)
    assert flag in line and words in line, line
    assert sorted(os.listdir(tmp_path)) == before, "a refused output left a file behind"


# inputs that are no regular file: a FIFO must not hang (it is refused), nor a device be read for ever

@pytest.mark.parametrize("name,flag,kind", cells("inputs", lambda r: [(flag, kind) for flag in r.inputs for kind in
                                                                      ("FIFO", "device", "folder")]
                                                 + ([("--data-dir", "FIFO inside")] if r.mnist else [])))
def test_an_input_that_is_no_regular_file_is_refused(name, flag, kind, paths, tmp_path):
    row, (module, _) = ROWS[name], entry(name)
    node = tmp_path / "node"
    if kind == "FIFO":
        os.mkfifo(node)
    elif kind == "device":
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 5)) if os.geteuid() == 0 else pytest.skip("mknod: root")
    elif kind == "folder":
        node.mkdir()
    args = row.args(paths)
    if kind == "FIFO inside":
        args += ["--data-dir", paths["fifo_data"]]
        words = "t10k-labels-idx1-ubyte is a FIFO"
    elif flag == "FILE":  # the grader's submission: graded as what it is, its own report (score 0), exit 1
        done = hostile(module, [str(node)], capture_output=True, text=True)
        assert done.returncode == 1 and not done.stderr.strip(), (done.returncode, done.stderr)
        assert f"{node}: " in done.stdout and ("not a regular file" in done.stdout or "a folder" in done.stdout)
        return
    else:
        args += [flag, str(node)]
        words = f"{flag} {node} is a"
    line = one_line(hostile(module, args, capture_output=True, text=True), 1 if kind == "FIFO inside" else 2)
    assert words in line, line


# numbers: nan, inf, a huge and a negative value for every numeric flag, refused in one line naming the flag

VALUES = {"nan": "nan", "inf": "inf", "huge": str(2**70), "negative": "-1"}
NEEDS = {"--save-every": ["--save", "{tmp}/s.npz"]}


def number_cells(row):
    return [(flag, value) for flag in row.numbers for value in VALUES if (flag, value) not in row.accepted]


@pytest.fixture
def in_process():
    """run_cli in this interpreter (argument checks cost no start-up), its signal handlers restored after."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("name,flag,value", cells("numbers", number_cells))
def test_a_number_out_of_range_is_refused_in_one_line(name, flag, value, paths, in_process, capsys):
    import importlib

    from scratchnet.shell.console import run_cli

    module, flags = entry(name)
    found = importlib.import_module(module)
    if not any(hasattr(found, f) for f in ("cli", "main")):  # a package's command: python -m pkg runs pkg.__main__
        found = importlib.import_module(module + ".__main__")
    entry_point = next(getattr(found, f) for f in ("cli", "main") if hasattr(found, f))
    extra = [a.format(**paths) for a in NEEDS.get(flag, [])]
    widths = ["3", VALUES[value], "2"] if flag == "--sizes" else [VALUES[value]]
    given = ROWS[name].args(paths) if flags or name == "scratchnet.grade" else []  # a mode flag, a submission
    args = [*flags[len(given) > 0:], *given, *extra, flag, *widths]
    if ROWS[name].mnist and flag != "--digit":  # accepted by mistake, it stops at the data (a line naming no flag)
        args += ["--data-dir", str(REPO / "pyproject.toml")]
    with pytest.raises(SystemExit) as stopped:
        run_cli(entry_point, args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert stopped.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert flag.strip("-").replace("-", " ") in lines[0].replace("-", " "), lines[0]


# the locale, torch, two interrupts

@pytest.mark.parametrize("name", [name for name, row in ROWS.items() if row.run is not None and not row.few])
def test_under_lc_all_c_every_text_file_is_read_as_utf8(name, paths):
    row, (module, _) = ROWS[name], entry(name)
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_CTYPE", "PYTHONIOENCODING")}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    done = hostile(module, row.args(paths), capture_output=True, env=env)
    err = done.stderr.decode("ascii", errors="replace")
    assert done.returncode == row.code and "Traceback" not in err, err


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory):
    """A folder for PYTHONPATH whose sitecustomize makes torch and torchvision missing, as on a machine without."""
    folder = tmp_path_factory.mktemp("no-torch")
    (folder / "sitecustomize.py").write_text(blocking("torch") + blocking("torchvision"))
    return folder


@pytest.mark.parametrize("name", [name for name, row in ROWS.items() if row.torch])
@pytest.mark.parametrize("args", [[], ["--help"]])
def test_without_torch_one_line_says_how_to_install_it(name, args, without_torch):
    module, flags = entry(name)
    env = {**os.environ, "PYTHONPATH": f"{without_torch}{os.pathsep}{REPO}"}
    done = subprocess.run([sys.executable, "-m", module, *flags, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    line = one_line(done, 1)
    assert "torch_ref needs PyTorch" in line and "pip install torch torchvision" in line, line


def children(pid):
    """The pids of every living descendant of `pid` (from /proc)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(c) for c in f.read().split()]
        except OSError:
            kids = []
        found += kids
        todo += kids
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_benchmark_interrupted_twice_leaves_no_worker_running(mnist_dir, tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "benchmarks.run", "--quick", "--only", "scratchnet", "--out",
                          str(tmp_path / "bench"), "--data-dir", mnist_dir], cwd=REPO, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    for line in p.stderr:
        if line.startswith("building "):  # the workers are started
            break
    time.sleep(1.0)
    workers = children(p.pid)
    assert workers, "the benchmark started no worker"
    p.send_signal(signal.SIGINT)
    time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    p.wait(timeout=60)
    assert (p.returncode, err.strip().splitlines()[-1]) == (130, "interrupted (SIGINT)"), err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 1.0
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if alive(w)], "a worker outlived the benchmark by more than a second"


def test_a_reader_gone_mid_run_ends_quietly_whatever_the_step(step, small):
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run(command("scratchnet.train", [*small, *step[1]], signal_at(step, 0, "SIGINT", 0)), cwd=REPO,
                          stdout=write, stderr=subprocess.PIPE, text=True, timeout=600)
    os.close(write)
    said = [line for line in done.stderr.splitlines() if not line.startswith("training step: ")]
    assert (done.returncode, said) == (141, [])


# the debatable cases of part 3, decided: refused, each in one line that says what to do instead

def stopped(cli_main, args, capsys):
    from scratchnet.shell.console import run_cli

    with pytest.raises(SystemExit) as stop:
        run_cli(cli_main, args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return stop.value.code, lines[0]


def test_more_samples_than_mnist_holds_are_refused_not_recorded(in_process, capsys):
    from scratchnet.train import cli

    assert stopped(cli, ["--train-size", "70000"], capsys) == (
        2, "error: --train-size must be in [0, 60000] (0 means all 60000), got 70000")
    assert stopped(cli, ["--test-size", "10001"], capsys)[0] == 2


def test_an_empty_data_dir_is_not_taken_for_the_current_folder(in_process, capsys, tmp_path, monkeypatch):
    from scratchnet.train import cli

    monkeypatch.chdir(tmp_path)
    assert stopped(cli, ["--data-dir", "", "--hidden", "4"], capsys) == (
        2, "error: the data folder (--data-dir) is empty: give a folder, . for the current one")
    assert os.listdir(tmp_path) == []


def test_a_read_only_checkpoint_is_not_replaced_on_resume(shared, tmp_path, in_process, capsys):
    from scratchnet.train import cli

    ckpt = tmp_path / "kept.npz"
    ckpt.write_bytes(pathlib.Path(shared["ckpt"]).read_bytes())
    ckpt.chmod(0o444)
    before = sha256(ckpt)
    code, line = stopped(cli, ["--resume", str(ckpt), "--epochs", "2", "--data-dir", shared["data"]], capsys)
    assert code == 2 and line.startswith(f"error: --save {ckpt} is read-only (mode 444): it is not replaced"), line
    assert sha256(ckpt) == before


def test_the_api_refuses_a_list_of_labels_a_layer_left_out_and_complex_input():
    from scratchnet import Network
    from scratchnet.errors import UsageError
    from scratchnet.optim import SGD

    net = Network([3, 2, 2], dtype="float64", seed=0)
    with pytest.raises(UsageError, match="input has dtype complex128: give real numbers"):
        net.forward(np.ones((2, 3), dtype=complex))
    net.forward(np.ones((2, 3)))
    with pytest.raises(UsageError, match=r"cost\(y\): y is a list, not an array: pass np.asarray\(y\)"):
        net.cost([0, 1])
    dW, db = net.backward(net.cost(np.array([0, 1]))[1])
    W2 = net.W[2].copy()
    with pytest.raises(UsageError, match=r"needs the gradients of every layer \[2, 3\]; got dW for \[3\]"):
        SGD(net, lr=0.1).step({3: dW[3]}, db)
    assert np.array_equal(net.W[2], W2)  # refused before any update
