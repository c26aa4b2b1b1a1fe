"""Running a submission in a child process kept apart from the grader, and reading back what each call did.

The child (scratchnet/grade/child.py) is sent each call's function and arguments, never an expected value.
It sends back records through the data-only channel (scratchnet/grade/channel.py), which the grader holds
to byte limits (per record: what the call's answer and arguments can need; per submission: MAX_SUBMISSION)
and to a schema (scratchnet/grade/records.py); a record off the schema is that call's outcome, never an
exception here. scratchnet/grade/watch.py watches one child (its clocks, when it gets each call's
arguments); scratchnet/grade/isolation.py keeps it apart; the audit hook in the child refuses the modules
of scratchnet/grade/policy.py's RUN_TIME and opening the grader's files; what it refuses comes back as `policy`.

Time: each call has time_limit seconds (the child's alarm; the parent kills it a little later), from the
"start" record of that call: each call starts once, so progress records cannot extend it. The whole
submission, restarts included, has one budget that nothing extends, and RLIMIT_CPU. When the parent kills
a child for one call, that call is recorded as timed out and a fresh child runs the calls that remain,
without that function. Every live child is in LIVE: stop_all() (the grader's Ctrl-C, SIGTERM) kills them.
"""

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

import scratchnet
import scratchnet.activations
from scratchnet.activations import ACTIVATIONS
from scratchnet.grade.channel import Reader, encode, pack
from scratchnet.grade.execute import NotRun, TimedOut, exit_text
from scratchnet.grade.formats import printable
from scratchnet.grade.isolation import environment, stop
from scratchnet.grade.policy import RUN_TIME
from scratchnet.grade.records import Batch
from scratchnet.grade.records import apply as apply_records
from scratchnet.grade.watch import Outbox, Steps, above_stdio, watch

MAX_OUTPUT = 20_000          # characters of the submission's own output kept for the report
MAX_SUBMISSION = 64 << 20    # bytes one submission may send the grader, in all
CHILD = str(pathlib.Path(__file__).with_name("child.py"))
FUNCTION_NAMES = {fn: fn.__name__ for pair in ACTIVATIONS.values() for fn in pair}
LIVE = {}                    # {Popen: marker token} of the children running now
_LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()  # set by interrupt(): no new child starts


class Interrupted(BaseException):
    """The grader is stopping (Ctrl-C, SIGTERM): raised in a worker instead of starting a child."""


def forbidden_modules(allow=()):
    """The modules the child's audit hook refuses: policy.RUN_TIME less those allowed (--allow MODULE)."""
    return sorted(RUN_TIME - set(allow))


@dataclass(frozen=True)
class Limits:
    time_limit: float = 10.0   # seconds per call
    memory_mb: int = 1024      # address space a submission may add
    budget: float = 120.0      # seconds for the whole submission, restarts included


@dataclass(frozen=True)
class Guard:
    """How submissions are held: the isolation (None: isolation.detect()), one submission's budget, the names
    allowed beyond policy.py's (modules or built-ins), and the Limits of each call."""

    isolation: object = None
    budget: float = Limits.budget
    allow: tuple = ()
    time_limit: float = Limits.time_limit
    memory_mb: int = Limits.memory_mb

    def limits(self):
        return Limits(self.time_limit, self.memory_mb, self.budget)


class Held(NamedTuple):
    """How run_submission holds one submission: its limits, the isolation, the policy of its audit hook
    ({"forbidden_modules": [...], "forbidden_paths": [...]})."""

    limits: Limits
    isolation: object
    policy: dict


@dataclass
class SandboxRun:
    """What happened to one submission: the import's outcome (None: it loaded), one outcome per call, its output."""

    import_outcome: object
    outcomes: list
    defined: set
    output: str = ""
    seconds: float = 0.0
    policy: list = field(default_factory=list)  # what the exercise does not allow and the submission tried
    fault: str = None          # the child's own failure (the grader's, not the student's)
    private_tmp: bool = None   # did the child get a private /tmp


def run_submission(source, filename, calls, names, held):
    """Run `calls` (Call objects, `names` their argument names) on the submission, held as `held` (a Held);
    never raises for its faults."""
    limits = held.limits
    start, budget_end = time.perf_counter(), time.monotonic() + limits.budget
    run = SandboxRun(None, [None] * len(calls), set())
    skipped, output = set(), []
    while True:
        todo = [i for i, c in enumerate(calls) if run.outcomes[i] is None and c.function not in skipped]
        watched = _child(_job(source, filename, [calls[i] for i in todo], held),
                         _max_record([calls[i] for i in todo]), limits, held.isolation, budget_end)
        done = apply_records(watched.records, Batch(todo, calls, names, limits, filename), run)
        current = watched.current
        if current is None and not run.fault and not watched.killed:  # stopped before the submission ran: ours
            last = watched.output.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            run.fault = f"the child stopped before loading the file (exit status {watched.status}: {last[0][:300]})"
        else:
            output.append(watched.output)
        if watched.killed == "budget":
            _stopped_everything(run, limits, current)
            break
        if current == "import" and (watched.killed or not done and run.import_outcome is None):
            run.import_outcome = _why(watched, limits)
        if run.fault or run.import_outcome is not None or current in (None, "import") or (
                current in done and not watched.killed):
            break
        stopped = todo[current]  # killed past its limit, or the process died in this call
        if run.outcomes[stopped] is None:
            run.outcomes[stopped] = _why(watched, limits, " during this call")
        skipped.add(calls[stopped].function)
    _not_run(run, calls, skipped, watched.status)
    run.output = _fenced_text(b"".join(output))
    run.seconds = time.perf_counter() - start
    return run


def _why(watched, limits, during=""):
    if watched.killed == "time":
        return TimedOut(limits.time_limit)
    if watched.broken:
        return NotRun(f"not graded: {watched.broken}{during}")
    return NotRun(f"{exit_text(watched.status)}{during}")


def _stopped_everything(run, limits, current):
    reason = f"not run: the submission used up its {limits.budget:g} s in all"
    if current == "import" and run.import_outcome is None:
        run.import_outcome = NotRun(reason.replace("not run: ", ""))
    for i, outcome in enumerate(run.outcomes):
        if outcome is None:
            run.outcomes[i] = NotRun(reason)


def _not_run(run, calls, skipped, status):
    for i, call in enumerate(calls):
        if run.outcomes[i] is None and call.function in skipped:
            run.outcomes[i] = NotRun("not run: this function timed out or stopped the process earlier")
        elif run.outcomes[i] is None and call.function in run.defined:
            run.outcomes[i] = NotRun(f"not run: {exit_text(status)}")
        elif run.outcomes[i] is None:
            run.outcomes[i] = NotRun("not defined")


def _job(source, filename, calls, held):
    """What the child is sent: the job (the calls' functions, no argument, no expected value), and one record
    of arguments per call, each sent when the child may have it (Outbox)."""
    limits, isolation = held.limits, held.isolation
    job = pack({"kind": "job", "source": source, "filename": filename, "calls": [c.function for c in calls],
                "time_limit": limits.time_limit, "memory_mb": limits.memory_mb, "cpu_seconds": limits.budget,
                "user": isolation.user, "namespaces": bool(isolation.prefix), "activations": _activations(),
                **held.policy})
    return job, [_arguments(i, call) for i, call in enumerate(calls)]


def _arguments(i, call):
    tree, arrays = encode(call.args, FUNCTION_NAMES)
    return pack({"kind": "args", "index": i, "tree": tree}, arrays)


def _activations():
    """The engine's σ and σ′ as source text, without its imports (the child supplies get_xp = NumPy)."""
    text = pathlib.Path(scratchnet.activations.__file__).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("from scratchnet"))


def grader_paths(*more):
    """What the child may not open: the grader's package, in a checkout the whole repository, and `more`."""
    package = pathlib.Path(scratchnet.__file__).resolve().parent
    near = package.parent if (package.parent / "pyproject.toml").exists() else package
    return sorted({os.path.realpath(p) for p in [near, *more] if os.path.exists(p)})


def _max_record(calls):
    """Bytes of arrays one call's record may carry: twice what its answer and arguments hold in float64, plus
    64 KiB. What the grader keeps of a submission is bounded by the sum over its calls."""
    def size(value):
        if isinstance(value, np.ndarray):
            return value.size * 8
        return sum(map(size, value.values() if isinstance(value, dict) else value)) if isinstance(
            value, (dict, tuple, list)) else 0
    return 2 * max((size(c.args) + size(c.expected) for c in calls), default=0) + (64 << 10)


def _child(job, max_record, limits, isolation, budget_end):
    """Start one child, send it the job, watch it until it ends; then kill whatever is left of it."""
    if STOPPING.is_set():
        raise Interrupted
    with tempfile.TemporaryDirectory(prefix="scratchnet-grade-") as home:
        if isolation.user:
            os.chown(home, isolation.user[1], isolation.user[2])
        env, token = environment(home)
        read_end, write_end = map(above_stdio, os.pipe())   # records, child to grader
        calls_read, calls_write = map(above_stdio, os.pipe())  # the job and the calls, grader to child
        try:
            proc = subprocess.Popen([*isolation.prefix, sys.executable, "-I", CHILD, str(write_end), str(calls_read)],
                                    cwd=home, env=env, pass_fds=(write_end, calls_read), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            os.close(write_end)
            os.close(calls_read)
        with _LIVE_LOCK:
            LIVE[proc] = token
        try:
            if STOPPING.is_set():
                raise Interrupted
            return watch(proc, token, read_end, Reader(max_record, MAX_SUBMISSION),
                         Steps(Outbox(calls_write, *job), limits), budget_end)
        finally:
            stop(proc, token)
            with _LIVE_LOCK:
                LIVE.pop(proc, None)
            os.close(read_end)
            os.close(calls_write)
            proc.stdout.close()


def _fenced_text(output):
    """The student's output as text for the report: control characters shown escaped, at most MAX_OUTPUT kept."""
    text = output.decode(errors="replace")
    if len(text) > MAX_OUTPUT:
        text = text[:MAX_OUTPUT] + f"\n[… {len(text) - MAX_OUTPUT} more characters of output not kept]\n"
    return printable(text)


def stop_all():
    """Kill every child running now, and what it left (the grader was interrupted)."""
    with _LIVE_LOCK:
        live = list(LIVE.items())
    for proc, token in live:
        stop(proc, token)


def interrupt(pool):
    """Stop grading now (Ctrl-C, SIGTERM): further signals ignored, no new child, every child killed, the workers
    waited for (each removes its temporary folder)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    STOPPING.set()
    stop_all()
    pool.shutdown(wait=True, cancel_futures=True)
    stop_all()
