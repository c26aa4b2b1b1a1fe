"""What keeps a submission's child process apart from the grader, as far as this machine allows.

Always: the child starts in its own session and process group, with an allow-listed environment (PATH,
HOME of its own empty folder, a UTF-8 locale, one BLAS thread, a marker), and Python's isolated mode; when
it ends, however it ends, its whole group is killed and every process still carrying its marker with it
(`stop`), so a double fork cannot outlive it. Where util-linux's `unshare` works (as root, or with
unprivileged user namespaces), the child also gets its own PID namespace (everything in it dies with it,
and /proc shows only it), no network, and its own mount namespace, in which it mounts a private /tmp. When
the grader runs as root, the child drops to an unprivileged user (`nobody`, or --user NAME) before the
submission loads: it cannot read the grader's files or /proc entries nor write the installed package, and
RLIMIT_NPROC bounds its processes. `Isolation.describe()` is the line the report prints.
"""

import functools
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass

from scratchnet.errors import UsageError

NAMESPACES = ("--fork", "--pid", "--kill-child", "--mount-proc", "--net", "--mount")
MARKER = "SCRATCHNET_SANDBOX"


@dataclass(frozen=True)
class Isolation:
    """prefix: the unshare command the child runs under ([] when none works); user: (name, uid, gid) or None."""

    prefix: tuple = ()
    user: tuple = None

    def describe(self, private_tmp=None):
        """The report's line: what held, and what this machine did not give; private_tmp: did the mount work."""
        given, missing = ["own session and process group", "allow-listed environment"], []
        if self.user:
            given.insert(1, f"own user {self.user[0]}")
        else:
            missing.append("own user (only a grader run as root can give one)")
        if self.prefix:
            given += ["own PID namespace", "no network"]
        else:
            missing.append("PID namespace, no network, private /tmp (unshare of util-linux is missing or refused)")
        if private_tmp:
            given.append("private /tmp")
        elif self.prefix:
            missing.append("private /tmp (the mount failed)")
        return "isolation: " + ", ".join(given) + (f"; not on this machine: {', '.join(missing)}" if missing else "")


def detect(user=None, namespaces=True):
    """The isolation this machine gives; user: the account to run as when root (default nobody)."""
    root = os.geteuid() == 0
    if user is not None and not root:
        raise UsageError(f"--user {user}: only a grader running as root can run submissions as another user")
    account = None
    if root:
        try:
            entry = pwd.getpwnam(user or "nobody")
        except KeyError:
            raise UsageError(f"--user {user or 'nobody'}: no such user on this machine; give an unprivileged "
                             "account") from None
        if entry.pw_uid == 0:
            raise UsageError(f"--user {entry.pw_name}: that is root; give an unprivileged account")
        account = (entry.pw_name, entry.pw_uid, entry.pw_gid)
    return Isolation(_namespaces(root) if namespaces else (), account)


@functools.lru_cache(maxsize=2)
def _namespaces(root):
    """The unshare prefix that works here, tried once: () when unshare is missing or refused."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    prefix = (unshare, *(() if root else ("--user", "--map-root-user")), *NAMESPACES, "--")
    try:
        ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else ()


def environment(home):
    """The child's whole environment, and its marker (a fresh token)."""
    token = secrets.token_hex(8)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           MARKER: token}
    return env, token


def stop(proc, token):
    """Kill the child's process group, then every process that still carries its marker; reap the child."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(5):  # a process may fork while it is being killed
        if not _kill_marked(token):
            break
    proc.wait()


def _kill_marked(token):
    """SIGKILL every process whose environment holds MARKER=token; how many there were."""
    mark, found = f"{MARKER}={token}".encode(), 0
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else ()):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                marked = mark in f.read().split(b"\0")
        except OSError:
            continue
        if marked and int(pid) != os.getpid():
            found += 1
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return found
