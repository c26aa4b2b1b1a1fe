"""The sandbox's child process: load the submission, make its calls, write down what happened.

    python -m scratchnet.grade.child JOB RESULTS PROGRESS_FD      (started by scratchnet/grade/sandbox.py)

JOB is a pickle {source, filename, folder, calls: [(Call, argument names)], time_limit, memory_mb}. Before
the import and before each call the child writes "start i" to PROGRESS_FD, so that the parent knows which
function runs when it must stop a child that ignores its alarm. Each outcome is appended to RESULTS as one
pickle record, flushed at once: what was written survives a kill. The student's prints go to stdout and
stderr, which the parent captures. Limits: RLIMIT_AS (address space) at the current size plus
memory_mb, and an alarm of time_limit seconds on the import and on each call.
"""

import os
import pickle
import resource
import signal
import sys
import types

from scratchnet.grade.execute import Raised, TimedOut, own_frames, run_call


class CallTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that the student's `except Exception` cannot swallow it."""


def _alarm(signum, frame):
    raise CallTimeout


def limit_memory(memory_mb):
    """Cap the address space at what the process uses now plus memory_mb MiB (Linux; elsewhere no cap)."""
    try:
        with open("/proc/self/status") as f:
            vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return
    limit = (vm_kib << 10) + (memory_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(job_path, results_path, progress_fd):
    with open(job_path, "rb") as f:
        job = pickle.load(f)
    sys.path.insert(0, job["folder"])
    signal.signal(signal.SIGALRM, _alarm)
    limit_memory(job["memory_mb"])
    with open(results_path, "ab") as results:
        def record(*item):
            pickle.dump(item, results)
            results.flush()

        module = types.ModuleType("submission")
        module.__file__ = job["filename"]
        os.write(progress_fd, b"start import\n")
        outcome = _guarded(lambda: _load(module, job), job)
        record("import", outcome)
        if outcome is not None:
            return
        record("defined", [name for name in {call.function for call, _ in job["calls"]}
                           if callable(getattr(module, name, None))])
        timed_out = set()
        for i, (call, names) in enumerate(job["calls"]):
            fn = getattr(module, call.function, None)
            if not callable(fn) or call.function in timed_out:
                continue
            os.write(progress_fd, f"start {i}\n".encode())
            outcome = _guarded(lambda fn=fn, call=call, names=names: run_call(fn, call, names, job["filename"]), job)
            if isinstance(outcome, TimedOut):
                timed_out.add(call.function)
            record("call", i, outcome)


def _load(module, job):
    exec(compile(job["source"], job["filename"], "exec"), module.__dict__)


def _guarded(action, job):
    """Run action under the alarm; a time-out, a MemoryError or any exception becomes an outcome."""
    signal.setitimer(signal.ITIMER_REAL, job["time_limit"])
    try:
        return action()
    except CallTimeout:
        return TimedOut(job["time_limit"])
    except MemoryError:
        return Raised("MemoryError", f"more than {job['memory_mb']} MiB", [])
    except (Exception, SystemExit) as e:  # raised while loading the module: its own frames only
        return Raised(type(e).__name__, str(e)[:500], own_frames(e, job["filename"]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
