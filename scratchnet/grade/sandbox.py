"""Running a submission in a child process with limits, and collecting what each call did.

Not a security sandbox: the child is an ordinary Python process with the grader's user rights, limited
only in time (an alarm per call, and a kill by the parent when the alarm is ignored), in address space
(RLIMIT_AS) and in how much of its output is kept. Grade untrusted code inside a container or VM.

When the parent has to kill a child (a call that ran past its limit and ignored the alarm), the call is
recorded as timed out and a fresh child runs the calls that remain, without that function.
"""

import os
import pathlib
import pickle
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import scratchnet
from scratchnet.grade.execute import NotRun, TimedOut, exit_text

MAX_OUTPUT = 20_000  # characters of the submission's own output kept for the report
GRACE = 2.0          # seconds past the limit before the parent kills a child that ignores its alarm
STARTUP = 30.0       # seconds the child may take to start Python and NumPy before the import begins


@dataclass
class SandboxRun:
    """What happened to one submission: the import's outcome (None: it loaded), one outcome per call, its output."""

    import_outcome: object
    outcomes: list
    defined: set
    output: str = ""
    seconds: float = 0.0
    notes: list = field(default_factory=list)


def run_submission(source, filename, folder, calls, names, time_limit=10.0, memory_mb=1024):
    """Run `calls` (Call objects, `names` their argument names) on the submission; never raises for its faults."""
    start = time.perf_counter()
    outcomes = [None] * len(calls)
    skipped = set()
    output = []
    import_outcome = None
    defined, status = set(), 0
    while True:
        todo = [i for i, c in enumerate(calls) if outcomes[i] is None and c.function not in skipped]
        records, current, killed, out, status = _child(source, filename, folder, [(calls[i], names[i]) for i in todo],
                                                       time_limit, memory_mb)
        output.append(out)
        done = set()
        for record in records:
            if record[0] == "import":
                import_outcome = record[1]
            elif record[0] == "defined":
                defined.update(record[1])
            else:
                outcomes[todo[record[1]]] = record[2]
                done.add(record[1])
        if current == "import" and (killed or not records):
            import_outcome = TimedOut(time_limit) if killed else NotRun(exit_text(status))
        if import_outcome is not None or current in (None, "import") or int(current) in done:
            break
        stopped = todo[int(current)]  # killed past its limit, or the process died in this call
        outcomes[stopped] = TimedOut(time_limit) if killed else NotRun(
            f"{exit_text(status)} during this call")
        skipped.add(calls[stopped].function)
    for i, call in enumerate(calls):
        if outcomes[i] is None and call.function in skipped:
            outcomes[i] = NotRun("not run: this function timed out or stopped the process earlier")
        elif outcomes[i] is None and call.function in defined:
            outcomes[i] = NotRun(f"not run: {exit_text(status)}")
        elif outcomes[i] is None:
            outcomes[i] = NotRun("not defined")
    text = "".join(output)
    if len(text) > MAX_OUTPUT:
        text = text[:MAX_OUTPUT] + f"\n[… {len(text) - MAX_OUTPUT} more characters of output not kept]\n"
    return SandboxRun(import_outcome, outcomes, defined, text, time.perf_counter() - start)


def _child(source, filename, folder, calls, time_limit, memory_mb):
    """One child: its records, the last step it started ("import", a call's index, None), killed?, output, status."""
    with tempfile.TemporaryDirectory(prefix="scratchnet-grade-") as tmp:
        job, results = os.path.join(tmp, "job.pkl"), os.path.join(tmp, "results.pkl")
        with open(job, "wb") as f:
            pickle.dump({"source": source, "filename": filename, "folder": folder, "calls": calls,
                         "time_limit": time_limit, "memory_mb": memory_mb}, f)
        read_end, write_end = os.pipe()
        proc = subprocess.Popen([sys.executable, "-m", "scratchnet.grade.child", job, results, str(write_end)],
                                cwd=tmp, env=_child_env(), pass_fds=(write_end,), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        os.close(write_end)
        current, killed, output = _watch(proc, read_end, time_limit)
        os.close(read_end)
        return _records(results), current, killed, output, proc.returncode


def _watch(proc, progress, time_limit):
    """Drain the child's output and progress until it exits; kill it when one step overruns its limit.

    Returns the last step the child started ("import", a call's index as text, or None), whether it was
    killed, and its output.
    """
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "output")
    sel.register(progress, selectors.EVENT_READ, "progress")
    output, pending, current = bytearray(), b"", None
    deadline = time.monotonic() + STARTUP
    open_streams = 2
    while open_streams:
        for key, _ in sel.select(timeout=0.1):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
            elif key.data == "output":
                if len(output) < 4 * MAX_OUTPUT:
                    output += chunk
            else:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if lines:
                    current = lines[-1].split()[1].decode()
                    deadline = time.monotonic() + time_limit + GRACE
        if open_streams and time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            sel.close()
            return current or "import", True, output.decode(errors="replace")
    proc.wait()
    sel.close()
    return current, False, output.decode(errors="replace")


def _records(path):
    """The pickle records the child wrote; a record cut short by a kill is dropped."""
    records = []
    try:
        with open(path, "rb") as f:
            while True:
                records.append(pickle.load(f))
    except (FileNotFoundError, EOFError, pickle.UnpicklingError, ValueError):
        pass
    return records


def _child_env():
    """The parent's environment, one BLAS thread (small matrices), and this scratchnet first on the path."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    root = str(pathlib.Path(scratchnet.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env
