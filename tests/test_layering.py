"""The layout's boundaries, read from the imports (ast) of every scratchnet module, and the house rule that keeps
each side a clean reading: scratchnet never imports torch, nor torch_ref.

LAYERS below is the one table of what may import what: each layer of scratchnet (the engine at the top level,
each folder, the commands) and the layers it may import, every one of them lower in the table, so that nothing
below imports what is above it. Each folder's __init__ docstring says the same in its "May import:" line, and a
test holds the two together. One rule per boundary: the engine imports nothing but scratchnet.errors; the shell
imports only scratchnet.errors; the grader imports nothing from the run nor from teaching. Also: every scratchnet
module imported in a fresh interpreter where `import torch` fails, and a step run; no way into torch_ref in any
scratchnet source (torch's oracle is passed in, scratchnet.checking.oracle); `python -m scratchnet.explain`'s
trace loads no run, fast path, MNIST or teaching module (only --html needs them).

    python -m pytest tests/test_layering.py
"""

import ast
import pkgutil
import re
import subprocess
import sys

import pytest

import scratchnet

from conftest import REPO
from helpers import blocking

BLOCK_TORCH = blocking("torch")
SCRATCHNET = REPO / "scratchnet"
FOLDERS = ("shell", "checking", "grade", "mnist", "fast", "run", "teaching")
COMMANDS = ("train", "gradcheck", "explain", "exercise")

# layer: the layers it may import (besides itself), each one of those before it. Lowest first.
LAYERS = {
    "errors": (),
    "shell": ("errors",),
    "engine": ("errors",),
    "checking": ("errors", "engine"),
    "grade": ("errors", "shell", "engine", "checking"),
    "mnist": ("errors", "shell"),
    "fast": ("errors", "shell", "engine"),
    "run": ("errors", "shell", "engine", "mnist", "fast"),
    "teaching": ("errors", "shell", "engine", "mnist", "run"),
    "commands": ("errors", "shell", "engine", "checking", "grade", "mnist", "fast", "run", "teaching"),
}


def module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module):
    """The layer of a scratchnet module: errors, a folder's name, commands, or engine (the other top-level ones)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in FOLDERS:
        return parts[1]
    if len(parts) > 1 and parts[1] in (*COMMANDS, "errors"):
        return "commands" if parts[1] in COMMANDS else "errors"
    return "engine"  # scratchnet's own __init__ (Network, SGD, …) is the engine's face


def imported(path):
    """The scratchnet modules that the source at `path` imports, anywhere in it (deferred imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {resolved for name in names if name.split(".")[0] == "scratchnet" for resolved in [resolve(name)]}


def resolve(name):
    """The module that `name` (a module, or a name imported from one) is or lives in."""
    while name.count(".") and not (REPO / f"{name.replace('.', '/')}.py").exists() \
            and not (REPO / name.replace(".", "/") / "__init__.py").exists():
        name = name.rsplit(".", 1)[0]
    return name


EDGES = [(module_name(path), target) for path in sorted(SCRATCHNET.rglob("*.py")) for target in imported(path)]


def crossings(source_layer):
    """(module, what it imports, that one's layer) for every import of `source_layer` into another layer."""
    return [(m, t, layer(t)) for m, t in EDGES if layer(m) == source_layer and layer(t) != source_layer]


def test_the_table_is_layered():
    """Each layer imports only layers before it in LAYERS: no circles, nothing below importing what is above."""
    order = list(LAYERS)
    assert set(order) == {"errors", "engine", "commands", *FOLDERS}
    upward = [(name, lower) for name, lowers in LAYERS.items() for lower in lowers
              if order.index(lower) >= order.index(name)]
    assert not upward, f"a layer may import only layers before it: {upward}"


def test_the_modules_were_read():
    assert ("scratchnet.train", "scratchnet.run.build") in EDGES
    assert {layer(m) for m, _ in EDGES} == set(LAYERS) - {"errors"}  # scratchnet.errors imports nothing


@pytest.mark.parametrize("source", list(LAYERS))
def test_each_layer_imports_only_what_the_table_allows(source):
    wrong = [f"{m} imports {t} ({there})" for m, t, there in crossings(source) if there not in LAYERS[source]]
    assert not wrong, f"{source} may import only {', '.join(LAYERS[source]) or 'nothing'}:\n" + "\n".join(wrong)


def test_the_engine_imports_nothing_from_the_folders():
    """The engine a student reads: numpy, each other and scratchnet.errors, nothing from fast/, run/, mnist/,
    shell/, teaching/, grade/ (nor checking/)."""
    wrong = [f"{m} imports {t}" for m, t, there in crossings("engine") if there != "errors"]
    assert not wrong, "\n".join(wrong)


def test_the_shell_imports_only_errors():
    wrong = [f"{m} imports {t}" for m, t, there in crossings("shell") if there != "errors"]
    assert not wrong, "\n".join(wrong)


def test_the_grader_imports_nothing_from_the_run_nor_teaching():
    wrong = [f"{m} imports {t}" for m, t, there in crossings("grade") if there in ("run", "teaching", "commands")]
    assert not wrong, "\n".join(wrong)


MAY_IMPORT = re.compile(r"^May import: (?P<names>.*?)\.(\s|$)", re.MULTILINE)
@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folders_docstring_says_what_it_may_import(folder):
    """The "May import: a, b, c." line of the folder's __init__ docstring names exactly its layers in LAYERS."""
    doc = ast.get_docstring(ast.parse((SCRATCHNET / folder / "__init__.py").read_text())) or ""
    match = MAY_IMPORT.search(doc)
    assert match, f"scratchnet/{folder}/__init__.py: no line 'May import: ….' in its docstring"
    said = {name.strip().removesuffix("/") for name in match["names"].replace(" and ", ", ").split(",")} - {""}
    said = {"errors" if name == "scratchnet.errors" else name for name in said}
    assert said == set(LAYERS[folder]), f"{folder}: the docstring says {sorted(said)}, the table {LAYERS[folder]}"


def test_explain_without_html_loads_no_run_fast_path_mnist_or_teaching():
    """The 4-3-3-2 trace is the engine's: python -m scratchnet.explain imports nothing a training run needs."""
    code = """
import runpy, sys
sys.argv = ["explain"]
try:
    runpy.run_module("scratchnet.explain", run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
loaded = sorted(m for m in sys.modules if m.startswith(("scratchnet.run", "scratchnet.fast", "scratchnet.mnist",
                                                        "scratchnet.teaching")))
print("loaded:", loaded)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(BP4)" in done.stdout, "the trace was printed"
    assert done.stdout.strip().endswith("loaded: []"), done.stdout.strip().splitlines()[-1]


def test_scratchnet_never_imports_torch():
    modules = [m.name for m in pkgutil.walk_packages(scratchnet.__path__, "scratchnet.")]
    assert {"scratchnet.network", "scratchnet.run.build", "scratchnet.grade.grader"} <= set(modules)
    code = BLOCK_TORCH + "\n".join(f"import {m}" for m in modules) + """
import numpy as np
from scratchnet import Network, SGD
net = Network([4, 3, 2])
net.forward(np.ones((2, 4), dtype=np.float32))
SGD(net, lr=0.1).step(*net.backward(net.cost(np.array([0, 1]))[1]))
assert not any(name == "torch" or name.startswith("torch.") for name in sys.modules)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


BACK_EDGE = re.compile(r"\bimport_module\b|\b__import__\b|\bimportlib\b"          # a module found by name
                       r"|^\s*(from|import)\s+torch_ref\b|[\"']torch_ref[.\"']",  # or imported, or named in a string
                       re.MULTILINE)


REFUSES_THEM = SCRATCHNET / "grade" / "policy.py"  # the names a submission may not use: torch_ref, importlib, …


def test_scratchnet_has_no_way_into_torch_ref():
    sources = sorted(path for path in SCRATCHNET.rglob("*.py") if path != REFUSES_THEM)
    assert "torch_ref" in REFUSES_THEM.read_text(), "the grader's policy names torch_ref among what it refuses"
    assert any(path.name == "gradcheck.py" for path in sources)
    found = [f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}: {match.group(0)}"
             for path in sources for text in [path.read_text()] for match in BACK_EDGE.finditer(text)]
    assert not found, "scratchnet reaches into torch_ref (pass the oracle in instead):\n" + "\n".join(found)


MAX_LINES, MAX_PARAMETERS = 45, 6
MIRRORS = {  # functions whose parameters mirror a signature defined elsewhere, or the model's keyword settings
    ("scratchnet/fast/cublas.py", "gemm"),  # cublasSgemm's own arguments, in its order
    ("scratchnet/fast/kernels.py", "softmax_cross_entropy"),  # the CUDA kernel's arguments
    ("scratchnet/fast/kernels.py", "_softmax_cross_entropy_numpy"),  # the same, its NumPy spelling
    ("scratchnet/network.py", "__init__"),  # Network(sizes, activation=, loss=, dtype=, seed=, xp=, dropout=, rng=)
}


def long_functions(roots):
    """'path:line name: n lines, k parameters' for every function over MAX_LINES lines or MAX_PARAMETERS
    parameters (self and cls not counted) under the given folders of the repository."""
    found = []
    for path in sorted(p for root in roots for p in (REPO / root).rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (where, node.name) in MIRRORS:
                continue
            args = node.args
            names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a]
            count = len([name for name in names if name not in ("self", "cls")])
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES or count > MAX_PARAMETERS:
                found.append(f"{where}:{node.lineno} {node.name}: {lines} lines, {count} parameters")
    return found


def test_no_function_is_over_a_screen_or_six_parameters():
    """STYLE.md: a function that needs more than ~6 parameters, or more than a screen, is two functions or an
    object. scratchnet/, torch_ref/ and benchmarks/."""
    found = long_functions(["scratchnet", "torch_ref", "benchmarks"])
    assert not found, "\n".join(found)


def test_the_size_rule_can_fail(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "pkg").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "pkg" / "m.py").write_text(f"def long():\n{body}\n\ndef wide(a, b, c, d, e, f, g):\n    pass\n")
    assert [f.split(":", 1)[1] for f in long_functions(["pkg"])] == ["1 long: 46 lines, 0 parameters",
                                                                     "49 wide: 2 lines, 7 parameters"]
