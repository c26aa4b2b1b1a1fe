"""The outcome of one call of a student function, and the same call made on trusted code (the reference's mutants).

A returned value is seen as scratchnet/grade/channel.py's tree of tagged tuples, whichever process made the
call: the student's child sends it through the channel, and `run_call` (used by the grader for the
mutants) builds it with the same encode and to_tree, so that both are seen through the same eyes:

    ("array", ndarray)  ("number", float, type name)  ("none",)  ("other", text)
    ("list", [..])  ("tuple", [..])  ("dict", {key: ..})

In-place changes are found by comparing the arguments the grader sent (call.args) with the same arguments
as they came back after the call.
"""

import copy
import signal
import traceback
from dataclasses import dataclass, field

import numpy as np

from scratchnet.grade.channel import encode, to_tree


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
    """Call fn (trusted code) on copies of call.args; Returned or Raised. `filename`: whose frames a traceback keeps."""
    args = copy.deepcopy(call.args)
    try:
        result = fn(*args)
    except Exception as e:  # the mutant's error is data here
        return Raised(type(e).__name__, str(e)[:500], own_frames(e, filename), changed(call, names, seen(args)))
    return returned(call, names, seen(result), seen(args))


def seen(value):
    """value as the grader sees what a child sends back: a tree of tagged tuples."""
    return to_tree(*encode(value))


def returned(call, names, value, after):
    """The Returned of a call whose result is the tree `value` and whose arguments came back as the tree `after`."""
    if call.function == "sgd_update" and value == ("none",) and after[0] == "tuple":
        value = ("tuple", after[1][:2])  # updated W and b in place, as the hand-out does
    return Returned(value, changed(call, names, after))


def own_frames(error, filename):
    """The frames of `error`'s traceback that lie in the file `filename`, innermost last."""
    return [(f.filename, f.lineno, f.name, (f.line or "").strip())
            for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]


def changed(call, names, after):
    """Names of the arrays (and dicts) among call.args that differ in `after`, except those call.may_change."""
    if after[0] != "tuple":
        return ["its arguments (they did not come back)"]
    found = []
    for name, sent, now in zip(names, call.args, after[1], strict=False):
        if name not in call.may_change:
            found += _differences(name, sent, now)
    return found


def _differences(name, sent, now):
    if isinstance(sent, np.ndarray):
        same = now[0] == "array" and now[1].shape == sent.shape and np.array_equal(now[1], sent, equal_nan=True)
        return [] if same else [name]
    if isinstance(sent, dict):
        if now[0] != "dict" or set(now[1]) != set(sent):
            return [f"{name} (entries added or removed)"]
        return [d for k in sent for d in _differences(f"{name}[{k}]", sent[k], now[1][k])]
    return []
