"""Calling one student function on one Call: its result as plain data, what it raised, what it modified.

Used in the sandbox's child process for the student's code, and in the grader's own process for the
mutants of the reference (trusted code) so that both are seen through the same eyes. A result is kept as a
tree of tagged tuples that any process can unpickle without the student's module:

    ("array", ndarray)  ("number", float, type name)  ("none",)  ("other", type name)
    ("list", [..])  ("tuple", [..])  ("dict", {key: ..})
"""

import copy
import signal
import traceback
from dataclasses import dataclass, field

import numpy as np

MAX_ELEMENTS = 1_000_000  # a returned array larger than this is described, not copied back


@dataclass
class Returned:
    value: tuple
    mutated: list = field(default_factory=list)  # names of the input arrays the call modified, e.g. "a[2]"


@dataclass
class Raised:
    type: str
    message: str
    frames: list          # the student's own frames only: (file, line, function, source line)
    mutated: list = field(default_factory=list)


@dataclass
class TimedOut:
    seconds: float


@dataclass
class NotRun:
    reason: str


SIGNAL_TEXT = {"SIGSEGV": "a segmentation fault", "SIGBUS": "a bus error", "SIGFPE": "a floating-point exception",
               "SIGILL": "an illegal instruction", "SIGABRT": "an abort"}


def exit_text(status):
    """How a process that ended with `status` (Popen.returncode) stopped, in words: a signal by its name."""
    if status is None or status >= 0:
        return f"the process stopped (exit status {status})"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        return f"the process was killed by signal {-status}"
    if name in SIGNAL_TEXT:
        return f"the process crashed with {SIGNAL_TEXT[name]} ({name})"
    return f"the process was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")


def run_call(fn, call, names, filename):
    """Call fn on copies of call.args; return Returned or Raised. `filename`: whose frames a traceback keeps."""
    args = copy.deepcopy(call.args)
    before = copy.deepcopy(args)
    try:
        result = fn(*args)
    except Exception as e:  # the student's error is data here; KeyboardInterrupt and SystemExit are not caught
        return Raised(type(e).__name__, str(e)[:500], own_frames(e, filename), changed(args, before, names, call))
    if call.function == "sgd_update" and result is None:
        result = (args[0], args[1])  # updated in place, as the hand-out does
    return Returned(describe(result), changed(args, before, names, call))


def own_frames(error, filename):
    """The frames of `error`'s traceback that lie in the student's file, innermost last."""
    return [(f.filename, f.lineno, f.name, (f.line or "").strip())
            for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]


def describe(value, depth=0):
    """value as a tree of tagged tuples (see the module docstring), arrays copied."""
    if depth > 4:
        return ("other", type(value).__name__)
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.size > MAX_ELEMENTS:
            return ("other", f"array of dtype {value.dtype} and shape {value.shape}")
        return ("array", value.copy())
    if isinstance(value, (bool, np.bool_)):
        return ("other", type(value).__name__)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return ("number", float(value), type(value).__name__)
    if value is None:
        return ("none",)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__ if type(value) in (list, tuple) else "tuple",
                [describe(v, depth + 1) for v in value[:64]])
    if isinstance(value, dict):
        return ("dict", {k if isinstance(k, (int, np.integer)) else repr(k)[:40]: describe(v, depth + 1)
                         for k, v in list(value.items())[:64]})
    return ("other", type(value).__name__)


def changed(args, before, names, call):
    """Names of the arrays (and dicts) among args that differ from their copies, except those call.may_change."""
    found = []
    for name, now, then in zip(names, args, before, strict=False):
        if name not in call.may_change:
            found += _differences(name, now, then)
    return found


def _differences(name, now, then):
    if isinstance(then, np.ndarray):
        same = isinstance(now, np.ndarray) and now.shape == then.shape and np.array_equal(now, then, equal_nan=True)
        return [] if same else [name]
    if isinstance(then, dict):
        if not isinstance(now, dict) or set(now) != set(then):
            return [f"{name} (entries added or removed)"]
        return [d for k in then for d in _differences(f"{name}[{k}]", now[k], then[k])]
    return []
