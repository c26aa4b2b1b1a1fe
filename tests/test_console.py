"""What every command shows: scratchnet.shell.console's progress bar, closed pipes and encodings, on real streams.

A closed reader is a real pipe whose read end is closed before the command writes; the encodings are
real environment variables (PYTHONIOENCODING, LC_ALL with UTF-8 mode off) given to a fresh interpreter.
Run: python -m pytest tests/test_console.py -q
"""

import io
import os
import signal
import subprocess
import sys

import pytest

from scratchnet.errors import ScratchnetError
from scratchnet.shell import console
from scratchnet.shell.console import Progress, run_cli

from conftest import REPO

COMMANDS = {  # commands of the issue, with arguments that make them print without MNIST (each run costs torch's import)
    "scratchnet.train": ["--help"],
    "scratchnet.gradcheck": ["--sizes", "4", "3", "2", "--batch-size", "2"],
    "scratchnet.explain": [],
    "torch_ref.compare": ["--help"],
}


def run_module(module, args, **kwargs):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, timeout=300, **kwargs)


@pytest.mark.parametrize("module", COMMANDS)
def test_a_reader_gone_away_ends_the_command_quietly(module):
    """`python -m … | head -0`: the read end of the pipe is closed before the command writes a byte."""
    read, write = os.pipe()
    os.close(read)
    done = run_module(module, COMMANDS[module], stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    assert done.stderr == ""
    if COMMANDS[module] == ["--help"]:  # argparse itself ignores a failed write of its help and exits 0
        assert done.returncode in (0, 141)
    else:
        assert done.returncode == 141  # 128 + SIGPIPE, as a shell shows for `yes | head -1`


def test_head_one_in_a_shell_pipeline():
    """The issue's own command, through a shell: train's help cut by head -1."""
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m scratchnet.train --help | head -1; "
                                         "echo \"status ${PIPESTATUS[0]}\" >&2"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("usage: python -m scratchnet.train")
    assert done.stderr.strip() in ("status 0", "status 141")  # 0 when help fits in the pipe before head exits


@pytest.mark.parametrize("module,env", [(module, {"LC_ALL": "C", "PYTHONUTF8": "0"}) for module in COMMANDS]
                         + [("scratchnet.explain", {"PYTHONIOENCODING": "latin-1"})])
def test_a_stream_that_cannot_encode_greek_gets_ascii_spellings(module, env):
    environ = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_CTYPE", "PYTHONIOENCODING")}
    done = run_module(module, COMMANDS[module], capture_output=True, env={**environ, **env})
    assert done.returncode in (0, 1), done.stderr.decode("latin-1")  # gradcheck without torch fails rows: 1
    assert b"Traceback" not in done.stderr and b"UnicodeEncodeError" not in done.stderr
    text = done.stdout.decode("latin-1")
    assert "?" * 3 not in text
    assert "alpha" in text or "sigma" in text or "<=" in text


def test_ascii_spellings():
    text = "α ≤ σ′(z^[l]) ⊙ (W^[l+1])ᵀ δ, β₂ᵗ, 10⁴, √v̂, ✓".encode("ascii", errors=console.ERRORS).decode()
    assert text == "alpha <= sigma'(z^[l]) (.) (W^[l+1])^T delta, beta2^t, 10^4, sqrt v^, ?"


class Terminal(io.StringIO):
    """A stderr that says it is a terminal; its width comes from COLUMNS."""

    def isatty(self):
        return True

    def fileno(self):
        raise io.UnsupportedOperation("no file descriptor")


@pytest.mark.parametrize("columns", [10, 20, 40, 57, 80, 200])
def test_the_bar_never_wraps(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = Terminal()
    bar = Progress(938, "epoch 2/5", stream=stream)
    for done in (0, 287, 938):
        bar.update(done)
        drawn = stream.getvalue().rsplit("\r\x1b[K", 1)[1]
        assert len(drawn) <= columns - 1, drawn
        assert f"{done}/938" in drawn or columns < 20
    bar.close()


def test_a_message_never_glues_to_the_bar(monkeypatch, capsys):
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)

    def main(argv):
        Progress(938, "epoch 2/5", stream=stream).update(287)
        console.info("a status line")
        Progress(938, "epoch 2/5", stream=stream).update(288)
        raise ScratchnetError("interrupted in epoch 2 after step 288")

    with pytest.raises(SystemExit) as caught:
        run_cli(main)
    assert caught.value.code == 1
    lines = stream.getvalue().split("\n")
    assert lines[0].endswith("\r\x1b[Ka status line")
    assert lines[1].endswith("\r\x1b[Kerror: interrupted in epoch 2 after step 288")
    assert lines[2] == ""


@pytest.mark.parametrize("signame,line", [("SIGTERM", "terminated (SIGTERM)"), ("SIGHUP", "hung up (SIGHUP)"),
                                          ("SIGINT", "interrupted (SIGINT)")])
def test_a_signal_stops_any_command_with_one_line(signame, line):
    """Outside a training run's loop (which saves first, tests/test_nothing_lost.py), as Ctrl-C does."""
    code = ("import time\nfrom scratchnet.shell.console import run_cli\n"
            "def main(argv):\n    print('ready', flush=True)\n    time.sleep(60)\nrun_cli(main)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(getattr(signal, signame))
    _, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (128 + getattr(signal, signame), line + "\n")


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_the_command_was_started_ignoring_stays_ignored(signame):
    """`nohup cmd` starts cmd with SIGHUP ignored, a script's `cmd &` with SIGINT ignored: the user's wish, kept."""
    signum = getattr(signal, signame)
    code = ("import time\nfrom scratchnet.shell.console import run_cli\n"
            "def main(argv):\n    print('ready', flush=True)\n    time.sleep(1)\n    print('done')\nrun_cli(main)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=lambda: signal.signal(signum, signal.SIG_IGN))  # as nohup does
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signum)
    out, err = p.communicate(timeout=60)
    assert (p.returncode, out, err) == (0, "done\n", "")
