"""The README's commands, and the examples of `python -m scratchnet.train --help`, run as written on a fresh tree.

A fresh tree is a copy of the files git knows (no runs/, no caches), with data/ linked to the fetched MNIST
so that nothing is downloaded. Every `python -m …` command of README.md (code blocks and inline code) and of
scratchnet.train's docstring runs there, in order (the --save example comes before the --resume one), and
must exit 0 without a traceback. To keep the suite short, training commands get `--epochs 1 --train-size 640
--test-size 100` appended, each only where the command does not give that flag itself; the issue's own
example (`--metrics-out runs/m.json --plot runs/curves.png`) also runs exactly as written (slow). Left out:
`pip install` (the suite runs installed), `python -m pytest` (this suite), `--device cuda` where no GPU is.
Beside them: the start is exactly the two set-up commands; every extra the README names is in pyproject.toml,
and its table describes each; the file map names only files that exist, and every module; the other commands
(`python SCRIPT.py`, `jupyter notebook PATH`) and the links name files of the tree.

    python -m pytest tests/test_readme_commands.py
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

import scratchnet.train
from scratchnet import backend

from conftest import REPO

SHORT = {"--epochs": "1", "--train-size": "640", "--test-size": "100"}
TRAINING = ("scratchnet.train", "torch_ref.train", "torch_ref.compare")


def readme_commands():
    """Every `python -m …` command of README.md and of scratchnet.train's docstring, comments dropped, in order."""
    text = (REPO / "README.md").read_text()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        found += block.splitlines()
    found += re.findall(r"`(python -m [^`]+)`", text)
    found += [line.strip() for line in scratchnet.train.__doc__.splitlines() if line.strip().startswith("python -m")]
    commands = []
    for line in found:
        for part in line.split("#")[0].split("&&"):
            part = part.strip()
            if part.startswith("python -m") and not part.startswith(("python -m pip", "python -m pytest")):
                if part not in commands:
                    commands.append(part)
    return commands


def shortened(command):
    """The command with SHORT's flags appended where it trains and does not give them itself (or resumes)."""
    words = shlex.split(command)
    if words[2] not in TRAINING or "--help" in words:
        return words
    extra = [] if "--resume" in words else [w for flag, value in SHORT.items() if flag not in words
                                            for w in (flag, value)]
    if "--resume" in words and "--epochs" not in words:
        extra = ["--epochs", "2"]
    return words + extra


@pytest.fixture(scope="module")
def fresh_tree(tmp_path_factory, mnist_dir):
    """A copy of the files git tracks (and new ones it does not ignore), data/ linked to the fetched MNIST."""
    tree = tmp_path_factory.mktemp("fresh")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file() and not source.is_symlink() and name != "data":
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    os.symlink(mnist_dir, tree / "data")
    assert not (tree / "runs").exists()
    return tree


def run_in(tree, words, as_written=None):
    """words in `tree`; as_written (the README's own line, globs and redirections included) through bash."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if as_written is not None:
        line = " ".join(as_written.split()).replace("python -m", f"{shlex.quote(sys.executable)} -m", 1)  # one line
        return subprocess.run(["bash", "-c", line],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    return subprocess.run([sys.executable, *words[1:]], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=900)


def expected_status(words):
    """0, but 1 for the grader: its exit status for a submission that fails, as the hand-out's TODO stubs do."""
    return 1 if words[2] == "scratchnet.grade" else 0


def test_the_readme_shows_commands():
    commands = readme_commands()
    assert "python -m scratchnet.train --metrics-out runs/m.json --plot runs/curves.png" in commands
    assert commands.index("python -m scratchnet.train --save runs/ckpt.npz") < \
        commands.index("python -m scratchnet.train --resume runs/ckpt.npz --epochs 8")


def test_every_readme_command_works_on_a_fresh_tree(fresh_tree):
    pytest.importorskip("matplotlib")
    failed = []
    for command in readme_commands():
        words = shortened(command)
        if "cuda" in words and backend.cupy is None:
            continue  # --device cuda without CuPy: one line saying so, tested in test_device.py
        done = run_in(fresh_tree, words, as_written=command if words == shlex.split(command) else None)
        if done.returncode != expected_status(words) or "Traceback" in done.stderr:
            failed.append(f"{shlex.join(words)} → exit {done.returncode}: {done.stderr.strip()[-300:]}")
    assert not failed, "\n".join(failed)
    assert (fresh_tree / "runs" / "curves.png").exists() and (fresh_tree / "runs" / "mnist_predictions.png").exists()


@pytest.mark.slow
def test_the_issues_example_as_written(fresh_tree):
    """Five epochs of the tutorial's model: the command the issue saw fail on a fresh checkout."""
    pytest.importorskip("matplotlib")
    shutil.rmtree(fresh_tree / "runs", ignore_errors=True)
    example = "python -m scratchnet.train --metrics-out runs/m.json --plot runs/curves.png"
    done = run_in(fresh_tree, shlex.split(example))
    assert done.returncode == 0, done.stderr
    assert (fresh_tree / "runs" / "m.json").exists() and (fresh_tree / "runs" / "curves.png").exists()


def readme():
    return (REPO / "README.md").read_text()


def test_the_start_is_exactly_two_commands_one_trains_one_tests():
    first_block = re.search(r"```sh\n(.*?)```", readme(), re.S)[1]
    train, test = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert train == "python -m pip install -e . && python -m scratchnet.train"
    assert test == 'python -m pip install -e ".[test]" && python -m pytest'


def test_every_extra_the_readme_names_is_in_pyproject_and_each_is_described():
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = {name for group in re.findall(r"\.\[([a-z,]+)\]", readme()) for name in group.split(",")}
    assert named and named <= extras, named - extras
    table = readme().split("## Extras")[1].split("\n## ")[0]
    assert {row.split("`")[1] for row in table.splitlines() if row.startswith("| `")} == extras


def file_map():
    """The paths the README's file map names: one line a file or folder, nested by two spaces a level."""
    block = readme().split("## Files")[1].split("```")[1]
    paths, folders = [], []
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        names = re.split(r"\s{2,}", line.strip())[0].split(", ")
        del folders[depth:]
        paths += ["/".join([*folders, name]).rstrip("/") for name in names]
        if names[0].endswith("/"):
            folders.append(names[0].rstrip("/"))
    return paths


def test_the_file_map_names_files_that_exist_and_every_module():
    named = file_map()
    assert [path for path in named if not (REPO / path).exists()] == []
    modules = [str(path.relative_to(REPO)) for package in ("scratchnet", "torch_ref")
               for path in sorted((REPO / package).rglob("*.py")) if path.name not in ("__init__.py", "__main__.py")]
    assert [module for module in modules if module not in named] == []


def test_the_commands_that_are_not_python_m_name_what_exists():
    """`python SCRIPT.py`, `jupyter notebook PATH` and the links name files of the tree."""
    text = readme()
    scripts = re.findall(r"python ((?:docs|notebooks|tests)/[\w/]+\.py)", text)
    notebooks = re.findall(r"jupyter notebook (\S+)", text)
    links = [link for link in re.findall(r"\]\(([^)#\s]+)", text) if not link.startswith("http")]
    assert scripts and notebooks and links
    assert [path for path in scripts + notebooks + links if not (REPO / path).exists()] == []
