"""What a submission may use: the one list, checked in its source here and, at run time, in the child.

The exercise is to write backprop: a submission may import numpy and the standard library's math (and a few
modules that hold no code to run or inspect: typing, functools, itertools, collections, dataclasses,
__future__). It may not delegate the work (the reference engine scratchnet and torch_ref, an autodiff library),
run code it builds (exec, eval, compile, __import__, importlib), nor reach the grader's process or files (open,
numpy's file readers, os, sys, gc, inspect, ctypes, dunder attributes such as __subclasses__). A teacher who
permits more passes `--allow NAME` (a module or a built-in), once per name.

    problems = source_problems(submission, allow=("scipy",))   # ["not allowed in this exercise: …", …]
    child_policy(allow)   # plain data for the child's audit hook (scratchnet/grade/child.py)

The source check reads the syntax tree, so it sees `import torch` in a function body as well as at the top;
what it cannot see (a name built from strings, a module that imports another) the child's audit hook refuses
when it happens, from the same lists.
"""

import ast
import threading

ALLOWED_MODULES = ("numpy", "math", "typing", "functools", "itertools", "collections", "dataclasses", "__future__")
REFERENCE = "the reference engine: the exercise is to write backprop yourself"
AUTODIFF = "an automatic-differentiation library: the exercise is to write the gradients yourself"
REACHES = "it reaches into the grader's process or files"
FORBIDDEN_MODULES = {  # module → why, for the modules a submission was seen to reach for, and their kin
    **dict.fromkeys(("scratchnet", "torch_ref"), REFERENCE),
    **dict.fromkeys(("torch", "jax", "jaxlib", "autograd", "tensorflow", "keras", "mygrad", "micrograd",
                     "tinygrad", "chainer", "mxnet", "theano", "flax", "paddle", "cupy"), AUTODIFF),
    **dict.fromkeys(("importlib", "runpy", "code", "codeop", "builtins", "marshal", "pickle"),
                    "it runs code the file did not write"),
    **dict.fromkeys(("os", "sys", "gc", "inspect", "ctypes", "subprocess", "socket", "shutil", "pathlib", "io",
                     "signal", "threading", "multiprocessing", "traceback", "resource", "mmap"), REACHES),
}
RUN_TIME = frozenset({*(name for name, why in FORBIDDEN_MODULES.items() if why in (REFERENCE, AUTODIFF)),
                      "sympy", "ctypes", "gc", "inspect", "pickle", "marshal"})
"""What the child's audit hook refuses to import (scratchnet/grade/child.py). Not os, sys, io, threading and the
like: NumPy and the child have loaded them before the submission runs, so importing them again is no event; the
source check above refuses them."""
FORBIDDEN_BUILTINS = {
    **dict.fromkeys(("exec", "eval", "compile", "__import__"), "it runs code the file did not write"),
    **dict.fromkeys(("open", "globals", "locals", "vars", "getattr", "setattr", "delattr", "breakpoint", "input",
                     "__builtins__", "__loader__", "__spec__", "__file__"), REACHES),
}
FILE_READERS = ("load", "loadtxt", "genfromtxt", "fromfile", "fromregex", "memmap", "DataSource", "ctypeslib", "f2py")
ALLOWED_DUNDERS = ("__init__", "__name__", "__doc__", "__call__", "__len__", "__main__")


_PARSING = threading.Lock()


def parse(source):
    """ast.parse, one thread at a time: CPython 3.11 keeps the depth of the syntax tree it is building in one
    counter per interpreter, and two threads building trees at once (--jobs grades submissions in threads)
    fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905)."""
    with _PARSING:
        return ast.parse(source)


def source_problems(submission, allow=()):
    """One line for each use the policy refuses, in the order of the source: "not allowed in this exercise: …"."""
    allowed = set(allow)
    problems = []
    for node in ast.walk(parse(submission.source)):
        refused = _refused(node, allowed)
        if refused:
            what, why = refused
            where = submission.line_name(node.lineno)
            problems.append(((node.lineno, node.col_offset), f"not allowed in this exercise: {what} ({where}): {why}"))
    return [line for _, line in sorted(problems)]


def _refused(node, allowed):
    """(what, why) when node uses something the policy refuses, else None."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or "."]
        for name in names:
            top = name.split(".")[0]
            if top not in ALLOWED_MODULES and top not in allowed and name not in allowed:
                why = FORBIDDEN_MODULES.get(top, f"a submission may import {', '.join(ALLOWED_MODULES[:2])} only")
                return f"import {name}", why
    elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS and node.id not in allowed:
        return node.id, FORBIDDEN_BUILTINS[node.id]
    elif isinstance(node, ast.Attribute):
        if node.attr in FILE_READERS and node.attr not in allowed:
            return f".{node.attr}", "it reads files, and a submission reads none"
        if node.attr.startswith("__") and node.attr.endswith("__") and node.attr not in ALLOWED_DUNDERS:
            return f".{node.attr}", REACHES
    return None


def child_policy(allow=()):
    """The lists as plain data (tuples of names) for the child's run-time audit hook: what it may import at all,
    what it must refuse and why, the built-ins it must not call."""
    allowed = set(allow)
    return {"allowed_modules": tuple(sorted(set(ALLOWED_MODULES) | allowed)),
            "forbidden_modules": tuple(sorted((name, why) for name, why in FORBIDDEN_MODULES.items()
                                              if name not in allowed)),
            "forbidden_builtins": tuple(sorted(name for name in FORBIDDEN_BUILTINS if name not in allowed))}


def handout_text():
    """The policy as the hand-out states it."""
    return ("Use NumPy and math only. The grader refuses, naming the line, anything that is not backprop written\n"
            "by you: the reference (scratchnet, torch_ref), autodiff libraries (torch, jax, autograd, tensorflow,\n"
            "mygrad, …), exec/eval/compile, __import__ and importlib, and reading files.")
