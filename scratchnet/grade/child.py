"""The sandbox's child process: load one submission, make its calls, send back what each did, as data.

    python -I scratchnet/grade/child.py RESULTS_FD CALLS_FD      (started by scratchnet/grade/sandbox.py)

CALLS_FD brings channel records (scratchnet/grade/channel.py): first the job (the source, the function of
each call, the limits, the policy), then each call's arguments, one record each, sent by the grader only
when this process starts that call and has sent the outcome of the one before: a call's answer is often
a later call's argument (forward's a and z are backward's), and is never here before that call is judged.
The grader keeps every expected value. Run as a
script in isolated mode, this process imports the standard library, NumPy and channel.py, never scratchnet.
In order: read the job; build σ and σ′ from the engine's activations.py text; import what a submission may
use; mount a private /tmp where it has a mount namespace; set RLIMIT_AS (its size now plus memory_mb),
RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_CORE and, as another user, RLIMIT_NPROC; drop to that user when given
one; install the audit hook (`Child._hook`); then load the submission and make
the calls, each under an alarm of time_limit seconds. Every record is written to RESULTS_FD at once:
"start" before each step (the parent's per-call clock), then "import", "defined", one "call" per call
(its outcome and its arguments as they are after it, for the parent's check of in-place changes),
"policy" for what the exercise does not allow, "fault" when this file itself fails.
"""

import ctypes
import linecache
import os
import resource
import signal
import sys
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import channel  # noqa: E402  (this folder's channel.py, loaded alone: not the scratchnet package)
import numpy as np  # noqa: E402

del sys.path[0]
# what a submission may import, imported now: the interpreter's files may be unreadable to the user it becomes
import bisect, cmath, collections, contextlib, copy, dataclasses, datetime, decimal, enum, fractions, functools  # noqa: E401, E402, F401, I001
import glob, heapq, io, itertools, json, math, numbers, operator, pathlib, pprint, random, re, statistics  # noqa: E401, E402, F401, I001
import string, struct, textwrap, threading, time, typing, warnings  # noqa: E401, E402, F401, I001
import numpy.linalg, numpy.random  # noqa: E401, E402, F401, I001
SOCKET_OR_PROCESS = ("os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
                     "subprocess.Popen", "socket.connect", "socket.bind", "socket.sendto", "pty.spawn", "os.setsid",
                     "sys.setprofile", "sys.settrace")  # noted: the submission fails, the OS isolation holds
REFUSED = ("os.kill", "os.killpg", "signal.pthread_kill", "ctypes.")  # signalling the grader, raw memory, C calls


class CallTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that the student's `except Exception` cannot swallow it."""


def _alarm(signum, frame):
    raise CallTimeout


class Child:
    def __init__(self, fd, inbox, job):
        self.fd, self.inbox, self.job = fd, inbox, job
        self.policy = set()
        names = {"get_xp": lambda *arrays: np}
        exec(compile(job["activations"], "<scratchnet/activations.py>", "exec"), names)
        self.functions = {k: v for k, v in names.items() if isinstance(v, types.FunctionType) and k != "get_xp"}
        self.calls = job["calls"]  # the function of each call

    def send(self, record, arrays=()):
        data = channel.pack(record, arrays)
        while data:
            data = data[os.write(self.fd, data):]

    def run(self):
        job = self.job
        linecache.cache[job["filename"]] = (len(job["source"]), None, job["source"].splitlines(True), job["filename"])
        code = compile(job["source"], job["filename"], "exec")
        self.send({"kind": "isolation", "private_tmp": _private_tmp(job)})
        _limit(job)
        _drop_privileges(job)
        sys.addaudithook(self._hook(code))
        module = types.ModuleType("submission")
        module.__file__ = job["filename"]
        self.send({"kind": "start", "step": "import"})
        outcome = self._guarded(lambda: exec(code, module.__dict__))
        self.send({"kind": "import", "outcome": outcome})
        if outcome is not None:
            return
        defined = {function for function in self.calls if callable(getattr(module, function, None))}
        self.send({"kind": "defined", "names": sorted(defined)})
        timed_out = set()
        for i, function in enumerate(self.calls):
            fn = getattr(module, function, None)
            if function not in defined or function in timed_out:
                continue
            self.send({"kind": "start", "step": i})
            args = self._arguments(i)
            if args is None:
                return
            results = []
            outcome = self._guarded(lambda fn=fn, args=args, results=results:
                                    results.append(channel.encode((fn(*args), args))))
            if outcome is None:
                (_, (value, after)), arrays = results[0]  # the tree of the pair (result, args)
                outcome = {"returned": value}
            else:
                after, arrays = channel.encode(args)
            timed_out.update([function] if "timeout" in outcome else [])
            self.send({"kind": "call", "index": i, "outcome": outcome, "after": after}, arrays)

    def _arguments(self, i):
        """Call i's arguments, from the grader; None (and a policy record) when the channel was tampered with."""
        try:
            record, arrays = channel.read_one(self.inbox)
            if record["kind"] != "args" or record.get("index") != i:
                raise channel.ChannelError(f"arguments of another call than {i}")
            return channel.to_value(record["tree"], arrays, self.functions)
        except Exception:  # the submission read from (or otherwise meddled with) the grader's channel itself
            self.send({"kind": "policy", "what": "reading the channel on which the grader sends the calls"})
            return None

    def _guarded(self, action):
        """Run action under the alarm; None when it returned, else what stopped it, as a record's outcome."""
        signal.setitimer(signal.ITIMER_REAL, self.job["time_limit"])
        try:
            action()
            return None
        except CallTimeout:
            return {"timeout": self.job["time_limit"]}
        except MemoryError:
            return {"memory": self.job["memory_mb"]}
        except BaseException as e:  # whatever the student's code raised is data
            return {"raised": [type(e).__name__[:100], str(e)[:500], self._frames(e)]}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _frames(self, error):
        """The frames of error's traceback that lie in the student's file: [line, function, source line]."""
        lines = self.job["source"].splitlines()
        return [[n, frame.f_code.co_name[:100], lines[n - 1].strip()[:200] if 0 < n <= len(lines) else ""]
                for frame, n in traceback.walk_tb(error.__traceback__)
                if frame.f_code.co_filename == self.job["filename"]][-20:]

    def _hook(self, code):
        """The audit hook: refuse the forbidden imports, opening the grader's files, compiling or running code
        the student made, signals and ctypes; note process and socket use. Each is sent once as a "policy"
        record, which fails the submission."""
        forbidden, paths, filename = set(self.job["forbidden_modules"]), tuple(self.job["forbidden_paths"]), \
            self.job["filename"]
        first_exec = [code]

        def note(what, error=None):
            if what not in self.policy and len(self.policy) < 20:
                self.policy.add(what)
                self.send({"kind": "policy", "what": what})
            if error is not None:
                raise error(f"not allowed in this exercise: {what}")

        def hook(event, args):
            if event == "import" and _forbidden(args[0], forbidden):
                note(f"import {args[0]}", ImportError)
            elif event == "open" and isinstance(args[0], (str, bytes)) and _under(args[0], paths):
                note(f"opening {os.fsdecode(args[0])}", PermissionError)
            elif event == "exec" and first_exec and args[0] is first_exec[0]:
                first_exec.clear()
            elif event in ("exec", "compile", "code.__new__") and _by_student(filename):
                note(f"{'eval/exec' if event == 'exec' else event} of code made at run time", PermissionError)
            elif event.startswith(REFUSED) and not (event.startswith("ctypes.") and "ctypes" not in forbidden):
                note(event, PermissionError)  # ctypes calls pass only where the teacher allows ctypes
            elif event.startswith(SOCKET_OR_PROCESS):
                note(event.split(".")[0] + " use (" + event + ")")
        return hook


def _forbidden(module, forbidden):
    """module, or its package, is in `forbidden`, or a sibling named like one (torch → torch_anything)."""
    top = module.partition(".")[0]
    return top in forbidden or top.partition("_")[0] in forbidden


def _under(path, prefixes):
    """path lies in one of the folders `prefixes`, or in another process's /proc entry."""
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (ValueError, OSError):
        return True
    other = real.split("/")[1:3]
    if other[:1] == ["proc"] and other[1:] and other[1].isdigit() and int(other[1]) != os.getpid():
        return True
    return any(real == p or real.startswith(p + os.sep) for p in prefixes)


def _by_student(filename):
    """The Python code that triggered the event (the frame below the hook's) is the student's, or made at run time."""
    caller = sys._getframe(2).f_code.co_filename
    return caller == filename or not caller.startswith(("/", "<frozen"))


def _private_tmp(job):
    """Mount a tmpfs on /tmp where this process has its own mount namespace; make HOME inside it. True if done."""
    if not job["namespaces"]:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"size=64m,mode=1777") != 0:
        return False
    home = "/tmp/home"
    os.mkdir(home, 0o700)
    if job["user"]:
        os.chown(home, job["user"][1], job["user"][2])
    os.chdir(home)
    os.environ["HOME"] = home
    return True


def _limit(job):
    """RLIMIT_AS at the size now plus memory_mb; RLIMIT_CPU; 16 MiB files; no core; NPROC as another user."""
    with open("/proc/self/status") as f:
        vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    address = (vm_kib << 10) + (job["memory_mb"] << 20)
    resource.setrlimit(resource.RLIMIT_AS, (address, address))
    cpu = int(job["cpu_seconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file past the limit: an OSError, not a silent kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if job["user"]:
        resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    signal.signal(signal.SIGALRM, _alarm)


def _drop_privileges(job):
    """Become job["user"] = (name, uid, gid) for good, when given one (the grader runs as root)."""
    if not job["user"]:
        return
    _, uid, gid = job["user"]
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"could not become uid {uid}")


def main(fd, calls_fd):
    try:
        inbox = os.fdopen(calls_fd, "rb")
        job, _ = channel.read_one(inbox)
        Child(fd, inbox, job).run()
    except BaseException as e:  # this file's own failure: a record for the grader, never the student's output
        message = "".join(traceback.format_exception_only(type(e), e)).strip()[:500]
        try:
            os.write(fd, channel.pack({"kind": "fault", "message": message}))
        except OSError:
            pass
        os._exit(3)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) != 3 or not all(arg.isdigit() for arg in sys.argv[1:]):
        sys.exit("scratchnet/grade/child.py is the grader's child process, started by python -m scratchnet.grade "
                 "with two file descriptors; run python -m scratchnet.grade --help")
    main(int(sys.argv[1]), int(sys.argv[2]))
