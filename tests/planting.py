"""Planting a bug in a copy of the repository and running the suite's own tests there, after a control run.

A catalogue (tests/test_suite_catches_*.py) lists bugs, each a one-string edit of one source file and the test
node ids that must catch it. One copy per catalogue: the control run of all the catalogue's tests on the
unplanted copy must pass; then each bug is written into its file, its tests run in a fresh pytest
(`-x -q -p no:cacheprovider`, the `planted` hypothesis profile: 25 examples, derandomized, so a catch is
reproducible), and the file is restored. A catch counts only when the named test fails and its failure
text names the bug's quantity (`shows`, a regular expression: "delta[3]" on a line of its own, "W[2] after
step"); any other failure, or a pass, is reported with the run's output.

load_engine plants in-process instead: a fresh Network class from the edited sources, for tests that
check one fixed case (tests/test_dropout.py's dropout bugs).
"""

import contextlib
import importlib.util
import linecache
import os
import re
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass

from conftest import REPO


@dataclass
class Plant:
    file: str     # the file to edit, relative to the repository root (e.g. "scratchnet/losses.py")
    old: str      # the correct code, found exactly once
    new: str      # the bug
    tests: tuple  # the node ids that must catch it (the first one fails)
    shows: str    # a regular expression the failure text must match: the quantity the bug makes wrong


ANY_LAYER = r"\[\d+\]"
# The plugins a planted run loads: hypothesis' and pytest-timeout's, none of the others installed beside them (a
# fresh pytest that loads every plugin found starts in ~3 s, nbmake's grammar alone 1.3 s; with these, 0.7 s)
PLUGINS = ["-p", "_hypothesis_pytestplugin"] + (["-p", "pytest_timeout"] if importlib.util.find_spec("pytest_timeout")
                                                else [])


def quantity(name):
    """The regular expression of a quantity named as assert_close names it, on a line of its own ("dW[3]"), as
    pytest shows it ("E       dW[3]", or "    | dW[3]" in one of hypothesis' distinct failures). "dW[l]" names the
    quantity in whichever layer the shrunk network shows first (that depends on the hypothesis profile)."""
    pattern = re.escape(name).replace(re.escape("[l]"), ANY_LAYER)
    return rf"(?m)^[E|\s]*{pattern}\s*$"


class PlantedCopy:
    """The repository's code and tests, copied under `folder` (data/ linked, not copied), to plant bugs in."""

    def __init__(self, folder):
        self.root = folder / "repo"
        for name in ("scratchnet", "torch_ref", "tests", "benchmarks"):
            shutil.copytree(REPO / name, self.root / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(REPO / "pyproject.toml", self.root / "pyproject.toml")
        if (REPO / "data").exists():
            os.symlink((REPO / "data").resolve(), self.root / "data")

    def run(self, tests, timeout=600):
        """A fresh pytest on `tests` in the copy: (exit status, its output)."""
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *PLUGINS, *tests],
                              cwd=self.root, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(self.root), "HYPOTHESIS_PROFILE": "planted",
                                   "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
        return done.returncode, done.stdout + done.stderr

    @contextlib.contextmanager
    def planted(self, plant, catalogue):
        """The copy with `plant` written into its file; the file is restored afterwards."""
        path = self.root / plant.file
        source = path.read_text(encoding="utf-8")
        count = source.count(plant.old)
        assert count == 1, (f"planted bug not applied: {plant.old!r} occurs {count} times in {plant.file}; "
                            f"the source changed, so update this bug's strings in {catalogue}")
        path.write_text(source.replace(plant.old, plant.new), encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(source, encoding="utf-8")

    def control(self, plants):
        """Run every test the catalogue names on the unplanted copy: all must pass, or no catch means anything."""
        tests = sorted({test for plant in plants for test in plant.tests})
        status, output = self.run(tests)
        assert status == 0, f"the control run of the named tests fails on the unmodified code:\n{output[-3000:]}"

    def assert_caught(self, plant, catalogue):
        """Plant, run the named tests, and require the first to fail with the quantity in its failure text."""
        with self.planted(plant, catalogue):
            status, output = self.run(plant.tests)
        failed = f"FAILED {plant.tests[0]}"
        assert status == 1 and failed in output, (
            f"{plant.tests[0]} did not fail with the bug planted (exit {status}):\n{output[-3000:]}")
        assert re.search(plant.shows, output), (
            f"{plant.tests[0]} failed, but its failure does not name the bug's quantity {plant.shows!r}:\n"
            f"{output[-3000:]}")



@contextlib.contextmanager
def planted_in_process(plant, catalogue):
    """This process's engine with `plant` written into one of its modules (network.py, losses.py), restored after.

    The edited source runs as a fresh module; then every function of the file is rebound, in every loaded module
    that holds it (scratchnet.network's cross_entropy, ...), to the fresh one, and every class of the file
    (Network) gets the fresh class's methods in place, so that each holder of a reference (scratchnet.Network,
    conftest's cases, the oracles' float64 copies) runs the planted code. The source goes to linecache: a
    traceback shows the planted line.
    """
    path = REPO / plant.file
    source = path.read_text(encoding="utf-8")
    count = source.count(plant.old)
    assert count == 1, (f"planted bug not applied: {plant.old!r} occurs {count} times in {plant.file}; "
                        f"the source changed, so update this bug's strings in {catalogue}")
    name = plant.file.removesuffix(".py").replace("/", ".")
    edited = source.replace(plant.old, plant.new)
    filename = f"<planted {plant.file}>"
    linecache.cache[filename] = (len(edited), None, edited.splitlines(True), filename)
    fresh = types.ModuleType(name)
    exec(compile(edited, filename, "exec"), fresh.__dict__)
    live, undo = sys.modules[name], []
    try:
        for attr, old in list(vars(live).items()):
            new = getattr(fresh, attr, None)
            if isinstance(old, types.FunctionType) and old.__module__ == name:
                for module in list(sys.modules.values()):
                    if getattr(module, attr, None) is old:
                        undo.append((module, attr, old))
                        setattr(module, attr, new)
            elif isinstance(old, type) and old.__module__ == name:
                for method, value in vars(new).items():
                    if isinstance(value, (types.FunctionType, classmethod, staticmethod, property)):
                        undo.append((old, method, vars(old)[method]))
                        setattr(old, method, value)
        yield
    finally:
        for owner, attr, old in reversed(undo):
            setattr(owner, attr, old)
        linecache.cache.pop(filename, None)


@dataclass
class Bug:
    """A bug planted in-process by load_engine (tests/test_dropout.py's dropout bugs)."""

    file: str          # network.py or losses.py
    old: str           # the correct code, found exactly once
    new: str           # the bug
    torch_names: str   # the first quantity the torch comparison reports
    fd_names: str      # the first quantity the central differences report


def fresh_module(name, source):
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def load_engine(bug=None):
    """A fresh Network class from the engine's source files, with `bug` planted when given."""
    engine = REPO / "scratchnet"
    sources = {name: (engine / name).read_text(encoding="utf-8") for name in ("losses.py", "network.py")}
    if bug is not None:
        count = sources[bug.file].count(bug.old)
        assert count == 1, (f"planted bug not applied: {bug.old!r} occurs {count} times in scratchnet/{bug.file}; "
                            "the engine changed, so update this bug's strings")
        sources[bug.file] = sources[bug.file].replace(bug.old, bug.new)
    losses = fresh_module("planted_losses", sources["losses.py"])
    network = fresh_module("planted_network", sources["network.py"])
    for name in ("cross_entropy", "quadratic"):  # Network.cost calls these names of its module
        assert hasattr(network, name), f"network.py no longer imports {name}: update load_engine"
        setattr(network, name, getattr(losses, name))
    return network.Network
