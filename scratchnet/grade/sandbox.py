"""Running a submission in a child process kept apart from the grader, and reading back what each call did.

The child (scratchnet/grade/child.py) is sent each call's function and arguments, never an expected value.
It sends back records through the data-only channel (scratchnet/grade/channel.py), which the grader holds
to byte limits (per record: what the call's answer and arguments can need; per submission: MAX_SUBMISSION)
and to a schema; a record off the schema is that call's outcome, never an exception here. What keeps the
child apart is scratchnet/grade/isolation.py's; the audit hook in the child refuses FORBIDDEN_MODULES and
reading the grader's files, and what it refuses comes back as `policy`.

Time: each call has time_limit seconds (the child's alarm; GRACE later the parent kills it), from the
"start" record of that call: each call starts once, so progress records cannot extend it. The whole
submission, restarts included, has one budget that nothing extends, and RLIMIT_CPU. When the parent kills
a child for one call, that call is recorded as timed out and a fresh child runs the calls that remain,
without that function. Every live child is in LIVE: stop_all() (the grader's Ctrl-C, SIGTERM) kills them.
"""

import fcntl
import os
import pathlib
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

import scratchnet
import scratchnet.activations
from scratchnet.activations import ACTIVATIONS
from scratchnet.grade.channel import ChannelError, Reader, encode, pack, to_tree
from scratchnet.grade.execute import NotRun, Raised, TimedOut, changed, returned
from scratchnet.grade.formats import printable
from scratchnet.grade.isolation import environment, stop

MAX_OUTPUT = 20_000          # characters of the submission's own output kept for the report
MAX_SUBMISSION = 64 << 20    # bytes one submission may send the grader, in all
GRACE = 2.0                  # seconds past the limit before the parent kills a child that ignores its alarm
STARTUP = 30.0               # seconds the child may take to start Python and NumPy before the import begins
CHILD = str(pathlib.Path(__file__).with_name("child.py"))
FORBIDDEN_MODULES = frozenset({"scratchnet", "torch", "jax", "jaxlib", "autograd", "tensorflow", "keras", "mygrad",
                               "micrograd", "tinygrad", "mxnet", "chainer", "theano", "paddle", "flax", "cupy", "sympy",
                               "ctypes", "gc", "inspect", "pickle", "marshal"})  # torch_ref: a torch_… sibling
FUNCTION_NAMES = {fn: fn.__name__ for pair in ACTIVATIONS.values() for fn in pair}
LIVE = {}                    # {Popen: marker token} of the children running now
_LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()  # set by interrupt(): no new child starts


class Interrupted(BaseException):
    """The grader is stopping (Ctrl-C, SIGTERM): raised in a worker instead of starting a child."""


def forbidden_modules(allow=()):
    """The modules a submission may not import: FORBIDDEN_MODULES less those allowed (--allow MODULE)."""
    return sorted(FORBIDDEN_MODULES - set(allow))


@dataclass(frozen=True)
class Limits:
    time_limit: float = 10.0   # seconds per call
    memory_mb: int = 1024      # address space a submission may add
    budget: float = 120.0      # seconds for the whole submission, restarts included


@dataclass(frozen=True)
class Guard:
    """How submissions are held: the isolation (None: isolation.detect()), one submission's budget, modules allowed."""

    isolation: object = None
    budget: float = Limits.budget
    allow: tuple = ()


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


@dataclass
class _Watched:
    records: list = field(default_factory=list)
    current: object = None     # the last step started: "import", a call's index in the job, or None
    killed: str = None         # None, "time" (one step overran), "budget" (the whole submission), "channel"
    broken: str = None         # what the channel reader refused
    output: bytes = b""
    status: int = 0


def run_submission(source, filename, calls, names, limits, isolation, policy):
    """Run `calls` (Call objects, `names` their argument names) on the submission; never raises for its faults.

    policy: {"forbidden_modules": [...], "forbidden_paths": [...]} for the child's audit hook.
    """
    start, budget_end = time.perf_counter(), time.monotonic() + limits.budget
    run = SandboxRun(None, [None] * len(calls), set())
    skipped, output = set(), []
    while True:
        todo = [i for i, c in enumerate(calls) if run.outcomes[i] is None and c.function not in skipped]
        watched = _child(_job(source, filename, [calls[i] for i in todo], limits, isolation, policy),
                         _max_record([calls[i] for i in todo]), limits, isolation, budget_end)
        done = _apply(watched.records, todo, calls, names, run, limits, filename)
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
    return NotRun(f"the process stopped (exit status {watched.status}){during}")


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
            run.outcomes[i] = NotRun(f"not run: the process stopped (exit status {status})")
        elif run.outcomes[i] is None:
            run.outcomes[i] = NotRun("not defined")


def _job(source, filename, calls, limits, isolation, policy):
    """What the child is sent: the job (the calls' functions, no argument, no expected value), and one record
    of arguments per call, each sent when the child may have it (_Outbox)."""
    job = pack({"kind": "job", "source": source, "filename": filename, "calls": [c.function for c in calls],
                "time_limit": limits.time_limit, "memory_mb": limits.memory_mb, "cpu_seconds": limits.budget,
                "user": isolation.user, "namespaces": bool(isolation.prefix), "activations": _activations(),
                **policy})
    return job, [_arguments(i, call) for i, call in enumerate(calls)]


def _arguments(i, call):
    tree, arrays = encode(call.args, FUNCTION_NAMES)
    return pack({"kind": "args", "index": i, "tree": tree}, arrays)


class _Outbox:
    """The pipe to the child, written without blocking: the job at once, each call's arguments on release."""

    def __init__(self, fd, job, calls):
        self.fd, self.pending, self.calls = fd, bytearray(job), calls
        os.set_blocking(fd, False)

    def release(self, i):
        self.pending += self.calls[i]

    def flush(self):
        try:
            del self.pending[:os.write(self.fd, self.pending[:1 << 16])]
        except BlockingIOError:
            pass
        except OSError:  # the child is gone
            self.pending.clear()


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
        read_end, write_end = map(_above_stdio, os.pipe())   # records, child to grader
        calls_read, calls_write = map(_above_stdio, os.pipe())  # the job and the calls, grader to child
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
            return _watch(proc, token, read_end, Reader(max_record, MAX_SUBMISSION), _Outbox(calls_write, *job),
                          limits, budget_end)
        finally:
            stop(proc, token)
            with _LIVE_LOCK:
                LIVE.pop(proc, None)
            os.close(read_end)
            os.close(calls_write)
            proc.stdout.close()


def _above_stdio(fd):
    """fd, or a copy of it numbered 3 or more (when the grader was started with stdin, stdout or stderr closed)."""
    if fd > 2:
        return fd
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 3)
    os.close(fd)
    return high


def _watch(proc, token, fd, reader, outbox, limits, budget_end):
    """Drain the child's output and records until both end, sending each call's arguments when the child may
    have them; kill it when a step or the budget runs out."""
    watched, output, steps = _Watched(), bytearray(), _Steps(outbox, limits)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "output")
    sel.register(fd, selectors.EVENT_READ, "records")
    exited, reading = None, 2
    while reading:
        outbox.flush()
        for key, _ in sel.select(timeout=0.01 if outbox.pending else 0.1):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                reading -= 1
            elif key.data == "output":
                output += chunk[:max(4 * MAX_OUTPUT - len(output), 0)]
            else:
                watched.records += [item for item in reader.feed(chunk) if steps.keep(item)]
        step_end, watched.current = steps.end, steps.current
        now = time.monotonic()
        watched.killed = ("channel" if reader.broken else "budget" if now > budget_end
                          else "time" if now > step_end else None)
        if watched.killed:
            break
        if exited is None and proc.poll() is not None:
            exited = now
            stop(proc, token)  # whatever it left running holds the pipes open
        elif exited is not None and now > exited + 1.0:
            break
    sel.close()
    stop(proc, token)
    watched.broken, watched.output, watched.status = reader.broken, bytes(output), proc.returncode
    return watched


class _Steps:
    """The child's steps as the grader lets them go: the import, then each call in order, a call's arguments
    released only once the call before it has its outcome back; each step on its own clock."""

    def __init__(self, outbox, limits):
        self.outbox, self.limits = outbox, limits
        self.current, self.last, self.awaiting, self.imported = None, -1, None, False
        self.end = time.monotonic() + STARTUP

    def keep(self, item):
        """Act on one record from the child; True when it is a record for _apply (not a "start")."""
        record = item[0] if isinstance(item, tuple) else getattr(item, "record", None)  # an oversized one keeps it
        record = record if isinstance(record, dict) else {}
        kind, step = record.get("kind"), record.get("step")
        if kind == "import":
            self.imported = True
        elif kind == "call" and record.get("index") == self.awaiting:
            self.awaiting = None
        if kind != "start":
            return True
        if step == "import" and self.current is None:
            self._start("import")
        elif (type(step) is int and self.imported and self.awaiting is None
              and self.last < step < len(self.outbox.calls)):
            self.last = self.awaiting = step
            self._start(step)
            self.outbox.release(step)
        return False

    def _start(self, step):
        self.current, self.end = step, time.monotonic() + self.limits.time_limit + GRACE


def _apply(records, todo, calls, names, run, limits, filename):
    """Record what each child record says in `run`; the indices (into todo) of the calls done."""
    done = set()
    for item in records:
        record, arrays = item if isinstance(item, tuple) else (getattr(item, "record", None), [])
        record = record if isinstance(record, dict) else {}
        index = record.get("index")
        index = index if type(index) is int and 0 <= index < len(todo) and index not in done else None
        try:
            if isinstance(item, ChannelError):
                raise item
            _one_record(record, arrays, index, todo, calls, names, run, limits, filename)
        except ChannelError as e:
            if index is None:
                continue  # nothing to pin it on: the call it belongs to ends up "not run"
            run.outcomes[todo[index]] = NotRun(f"sent back something the grader cannot read: {e}")
        if record.get("kind") == "call" and index is not None:
            done.add(index)
    return done


def _one_record(record, arrays, index, todo, calls, names, run, limits, filename):
    kind = record["kind"]
    if kind == "call" and index is not None:
        call = calls[todo[index]]
        run.outcomes[todo[index]] = _outcome(record.get("outcome"), record.get("after"), arrays, call,
                                             names[todo[index]], limits, filename)
    elif kind == "import":
        outcome = record.get("outcome")
        run.import_outcome = None if outcome is None else _outcome(outcome, None, arrays, None, (), limits, filename)
    elif kind == "defined" and isinstance(record.get("names"), list):
        run.defined.update(n for n in record["names"] if isinstance(n, str))
    elif kind == "policy" and isinstance(record.get("what"), str) and len(run.policy) < 20:
        run.policy.append(record["what"][:200])
    elif kind == "fault" and isinstance(record.get("message"), str):
        run.fault = record["message"][:500]
    elif kind == "isolation" and run.private_tmp is None:
        run.private_tmp = record.get("private_tmp") is True


def _outcome(outcome, after, arrays, call, names, limits, filename):
    """A call's (or the import's, call None) outcome from its record; ChannelError when it is off the schema."""
    if not (isinstance(outcome, dict) and len(outcome) == 1):
        raise ChannelError("an outcome that is not one of returned, raised, timeout, memory")
    (kind, value), = outcome.items()
    after = to_tree(after, arrays) if call is not None else None
    if kind == "returned" and call is not None:
        return returned(call, names, to_tree(value, arrays), after)
    if kind == "raised" and isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value[:2]):
        frames = [(filename, f[0], str(f[1])[:100], str(f[2])[:200]) for f in value[2][:20]
                  if isinstance(f, list) and len(f) == 3 and type(f[0]) is int] if isinstance(value[2], list) else []
        return Raised(value[0][:100], value[1][:500], frames, changed(call, names, after) if call else [])
    if kind == "timeout":
        return TimedOut(limits.time_limit)
    if kind == "memory":
        return Raised("MemoryError", f"more than {limits.memory_mb} MiB", [])
    raise ChannelError(f"an outcome of unknown kind {kind[:40]!r}")


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
