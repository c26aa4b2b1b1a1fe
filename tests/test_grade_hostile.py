"""The grader's contract with hostile submissions: nothing a file does changes its grade, another's, or the grader.

One class run (`python -m scratchnet.grade --json`) grades an honest right file, an honest wrong one, and one
submission per attack of issue 25 (and siblings): reading the answers from the caller's frames or files or
from later calls' arguments (forward's answers are backward's inputs),
forging records on the channel (pickle, an index out of range, an oversized record), returning an ndarray
subclass, importing scratchnet or torch, exec, patching np.array_equal to hide an in-place change, keep-alive
progress while hanging, sleeping in every call, a double-forked daemon, ANSI escapes that redraw the screen,
reading the grader's environment and /proc, writing into the installed package, and files that are no
submission (missing, a folder, a FIFO, not UTF-8, a broken notebook). Each test asserts the verdict; the
honest files are graded exactly as alone; afterwards no process carrying the run's folder and no temporary
folder is left; the grader's own peak memory stays bounded. Then --gradescope on a hostile file, and two
SIGINTs during a hanging call.

The class run switches off the source check of scratchnet/grade/policy.py (it would refuse most of these files
before they run, naming the line): what is tested here is what a file that slips past it meets, the answer key
kept in the grader, the data-only channel, the isolation and the audit hook. A last test grades every attack
with the source check on, as a teacher's run does: none passes.

    python -m pytest tests/test_grade_hostile.py
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from scratchnet.grade import grade
from scratchnet.grade.handout import solution_source
from scratchnet.grade.sandbox import Guard

from conftest import REPO

RIGHT = solution_source("rows")
WRONG = RIGHT.replace("a[l] = sigma[l](z[l])", "a[l] = sigma[l](z[l]) * 1.01")
SECRET = "grader-secret-0451"
PEAK_MIB = 250  # the grader's own peak: ~45 MiB honest; 64 MiB sent at it must not show up here
STUB = "\n\ndef {name}(*args):\n    raise NotImplementedError\n"

ATTACKS = {  # name: (code appended to the right solution, or the file's whole text for "file:" names)
    "frames": """
import sys
def backward(W, a, z, delta_L, sigma_prime):
    f = sys._getframe(1)
    while f is not None:
        for v in list(f.f_locals.values()):
            if hasattr(v, "expected") or hasattr(v, "key"):
                key = v.key.values if hasattr(v, "key") else v.expected
                return tuple({q.l: x for q, x in key.items() if q.name == n} for n in ("delta", "dW", "db"))
        f = f.f_back
    raise NotImplementedError("no answers in this process")
""",
    "later calls' arguments": """
import os, sys
def forward(W, b, x, sigma):
    f, n = sys._getframe(1), 0
    while f is not None:
        for v in list(f.f_locals.values()):
            inbox = getattr(v, "inbox", None)
            if inbox is not None:
                os.set_blocking(inbox.fileno(), False)
                try:
                    n += len(os.read(inbox.fileno(), 1 << 20))
                except BlockingIOError:
                    pass
                os.set_blocking(inbox.fileno(), True)
        f = f.f_back
    raise NotImplementedError(f"found {n} bytes of later calls")
""",
    "job files": """
import glob, os
def sgd_update(W, b, dW, db, lr):
    homes = os.path.join(os.path.dirname(os.environ["HOME"]), "scratchnet-grade-*")
    found = [p for p in glob.glob("**", recursive=True) + glob.glob(homes + "/**", recursive=True) if os.path.isfile(p)]
    raise NotImplementedError(f"files here: {found[:5]}")
""",
    "forged records": """
import os, pickle, struct, json
def _forge():
    class Evil:
        def __reduce__(self):
            return (exec, ("import scratchnet.grade.grader as g; g.diagnose = lambda *a: None",))
    junk = [pickle.dumps(("call", 0, Evil())), pickle.dumps(("call", 10**6, None))]
    text = json.dumps({"kind": "call", "index": 10**6, "outcome": {"returned": ["none"]}}).encode()
    junk.append(struct.pack(">II", len(text), 0) + text)
    for fd in range(3, 256):
        for j in junk:
            try:
                os.write(fd, j)
            except OSError:
                pass
_forge()
""",
    "oversized record": """
import os, struct, json
def forward(W, b, x, sigma):
    text = json.dumps({"kind": "call", "index": 0, "arrays": []}).encode()
    for fd in range(3, 256):
        try:
            os.write(fd, struct.pack(">II", len(text), 200 << 20) + text)
            block = bytes(1 << 20)
            for _ in range(100):
                os.write(fd, block)
        except OSError:
            pass
    raise NotImplementedError
""",
    "ndarray subclass": """
class Evil(np.ndarray):
    def __reduce__(self):
        return (exec, ("import scratchnet.grade.grader as g; g.diagnose = lambda *a: None",))
_right_forward = forward
def forward(W, b, x, sigma):
    a, z = _right_forward(W, b, x, sigma)
    return {l: (v * 0).view(Evil) for l, v in a.items()}, {l: v.view(Evil) for l, v in z.items()}
""",
    "import scratchnet": """
def backward(W, a, z, delta_L, sigma_prime):
    from scratchnet.network import Network
    raise NotImplementedError
""",
    "import torch": "\nimport torch\n",
    "exec": "\nexec(compile('x = 1', 'x', 'exec'))\n",
    "in-place, array_equal patched": """
np.array_equal = lambda *args, **kwargs: True
_right_backward = backward
def backward(W, a, z, delta_L, sigma_prime):
    result = _right_backward(W, a, z, delta_L, sigma_prime)
    delta_L *= 1.0000001
    return result
""",
    "keep-alive while hanging": """
import os, signal, struct, json, threading, time
def _alive():
    text = json.dumps({"kind": "start", "step": 0, "arrays": []}).encode()
    while True:
        for fd in range(3, 256):
            try:
                os.write(fd, struct.pack(">II", len(text), 0) + text)
            except OSError:
                pass
        time.sleep(0.05)
def forward(W, b, x, sigma):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    threading.Thread(target=_alive, daemon=True).start()
    time.sleep(1000)
""",
    "sleep in every call": """
import time
def _slow(f):
    def slow(*args):
        time.sleep(0.9)
        return f(*args)
    return slow
forward, cross_entropy, quadratic, backward, sgd_update = map(_slow, (forward, cross_entropy, quadratic, backward,
                                                                     sgd_update))
""",
    "double fork": """
import os
def backward(W, a, z, delta_L, sigma_prime):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "1234.5"])
        os._exit(0)
    raise NotImplementedError
""",
    "kill the grader": """
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
""",
    "ANSI escapes": """
print("\\x1b[2J\\x1b[Hall passed\\r\\x1b[1A\\u202eresult: passed (7 of 7 equations right)")
""",
    "environment and /proc": """
import os
print("env:", dict(os.environ))
for pid in [os.getppid(), 1]:
    try:
        print(pid, open(f"/proc/{pid}/environ").read()[:300])
    except OSError as e:
        print(pid, "refused", e)
""",
    "write the package": """
def sgd_update(W, b, dW, db, lr):
    for path in ("REPO/scratchnet/network.py", "REPO/scratchnet/losses.py"):  # named: a glob under a private
                                                                              # /tmp finds nothing to open
        with open(path, "a") as f:
            f.write("# owned")
    raise NotImplementedError
""".replace("REPO", str(REPO)),
    "file: not UTF-8": b"LAYOUT = 'rows'\n# \xff\xfe\n",
    "file: broken notebook": "{ not json",
}
HONEST = ("right", "ANSI escapes")  # right answers, whatever they print
NOT_ALLOWED = {"kill the grader": "os.kill", "import scratchnet": "import scratchnet.network",
               "import torch": "import torch", "exec": "of code made at run time", "double fork": "os use (os.fork)",
               "write the package": f"opening {REPO}/scratchnet/", "environment and /proc": "opening /proc/"}


def write_class(folder):
    """The honest files first and last, the hostile ones between; {name: path}."""
    paths = {"right": folder / "right.py"}
    paths["right"].write_text(RIGHT, encoding="utf-8")
    for name, code in ATTACKS.items():
        path = folder / (name.replace(" ", "_").replace(",", "").replace("/", "").replace(":", "")
                         + (".ipynb" if "notebook" in name else ".py"))
        if isinstance(code, bytes):
            path.write_bytes(code)
        else:
            path.write_text(code if name.startswith("file:") else RIGHT + code, encoding="utf-8")
        paths[name] = path
    paths["missing"] = folder / "missing.py"
    paths["folder"] = folder / "a_folder"
    paths["folder"].mkdir()
    paths["fifo"] = folder / "fifo.py"
    os.mkfifo(paths["fifo"])
    paths["wrong"] = folder / "wrong.py"
    paths["wrong"].write_text(WRONG, encoding="utf-8")
    return paths


GRADER = """
import atexit, sys
import scratchnet.grade.__main__ as command
from scratchnet.grade.isolation import Isolation
from scratchnet.shell.console import run_cli
def peak():  # VmHWM: this program's own peak (ru_maxrss would keep the forking pytest's, across exec)
    with open("/proc/self/status") as f:
        print("PEAK", next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) >> 10, file=sys.stderr)
atexit.register(peak)
if BARE:  # what a machine without unshare gives a grader not run as root
    command.detect = lambda user=None: Isolation()
import scratchnet.grade.grader as grader
grader.source_problems = lambda submission, allow=(): []  # a file that slips past the source check
run_cli(command.main)
"""


def grader(args, tmp, bare=False):
    """The grader as a process (bare: as on a machine without unshare, not as root), its temporary folders under
    tmp, the secret in its environment; it prints its own peak memory."""
    env = dict(os.environ, TMPDIR=str(tmp), SCRATCHNET_TEST_SECRET=SECRET)
    return subprocess.Popen([sys.executable, "-c", GRADER.replace("BARE", str(bare)), *args], cwd=REPO, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def leftovers(tmp, settle=5.0):
    """Processes whose environment names tmp (every child's HOME lies in it), and what is left in tmp, once
    either is empty or `settle` seconds have passed (a SIGKILLed process takes a moment to go)."""
    deadline = time.monotonic() + settle
    while True:
        found = _leftovers(tmp)
        if found == ([], []) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _leftovers(tmp):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if str(tmp).encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return [p for p in pids if p != os.getpid()], sorted(os.listdir(tmp))


@pytest.fixture(scope="module", params=["as this machine allows", "bare"])
def class_run(request, tmp_path_factory):
    folder, tmp = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("tmp")
    paths = write_class(folder)
    start = time.monotonic()
    proc = grader([*map(str, paths.values()), "--json", "--jobs", "2", "--time-limit", "1",
                   "--submission-time", "5"], tmp, bare=request.param == "bare")
    out, err = proc.communicate(timeout=300)
    seconds = time.monotonic() - start
    time.sleep(0.3)
    doc = json.loads(out)
    reports = {name: r for name, r in zip(paths, doc["submissions"], strict=True)}
    return {"reports": reports, "doc": doc, "err": err, "code": proc.returncode, "seconds": seconds,
            "left": leftovers(tmp), "paths": paths, "bare": request.param == "bare"}


def test_one_valid_document_and_everything_graded(class_run):
    doc = class_run["doc"]
    assert class_run["code"] == 1, class_run["err"]
    assert doc["summary"]["submissions"] == len(class_run["paths"]) and doc["summary"]["passed"] == len(HONEST)
    assert "Traceback" not in class_run["err"]


def test_nothing_is_left_behind_and_the_grader_stays_small(class_run):
    assert class_run["left"] == ([], [])
    peak = int(class_run["err"].split("PEAK")[1].split()[0])
    assert peak < PEAK_MIB, peak


def test_the_honest_files_are_graded_as_alone(class_run):
    for name in ("right", "wrong"):
        alone = grade(str(class_run["paths"][name]))
        theirs = class_run["reports"][name]
        assert theirs["status"] == alone.status and theirs["passed"] == alone.passed
        assert [e["passed"] for e in theirs["equations"]] == [ok for _, ok, _ in alone.equations()]
    assert class_run["reports"]["right"]["passed"] and not class_run["reports"]["wrong"]["passed"]


@pytest.mark.parametrize("name", [n for n in ATTACKS if n not in HONEST])
def test_no_attack_passes(class_run, name):
    report = class_run["reports"][name]
    assert not report["passed"], report


@pytest.mark.parametrize("name", [n for n, text in NOT_ALLOWED.items() if text])
def test_what_the_exercise_does_not_allow_is_named(class_run, name):
    problem = class_run["reports"][name]["problem"] or ""
    assert problem.startswith("not allowed in this exercise:") and NOT_ALLOWED[name] in problem, problem


def test_the_answers_are_not_in_the_child(class_run):
    backward = next(f for f in class_run["reports"]["frames"]["functions"] if f["name"] == "backward")
    assert backward["status"] == "not implemented", backward
    forward = next(f for f in class_run["reports"]["later calls' arguments"]["functions"] if f["name"] == "forward")
    assert forward["status"] == "not implemented" and "found 0 bytes" in forward["exception"]["message"], forward
    sgd = next(f for f in class_run["reports"]["job files"]["functions"] if f["name"] == "sgd_update")
    assert "files here: []" in sgd["exception"]["message"], sgd


def test_forged_and_oversized_records_change_nothing(class_run):
    forged = class_run["reports"]["forged records"]
    assert "while loading the file" in forged["problem"] and "not graded: a record of" in forged["problem"], forged
    forward = next(f for f in class_run["reports"]["oversized record"]["functions"] if f["name"] == "forward")
    assert forward["status"] == "failed", forward
    subclass = next(f for f in class_run["reports"]["ndarray subclass"]["functions"] if f["name"] == "forward")
    assert subclass["first_wrong"]["quantity"] == "a^[2]", subclass


def test_an_in_place_change_is_seen_though_array_equal_is_patched(class_run):
    backward = next(f for f in class_run["reports"]["in-place, array_equal patched"]["functions"]
                    if f["name"] == "backward")
    assert backward["modified_inputs"] == ["delta_L"], backward


def test_time_is_bounded_whatever_the_file_prints(class_run):
    forward = next(f for f in class_run["reports"]["keep-alive while hanging"]["functions"] if f["name"] == "forward")
    assert forward["status"] == "timed out", forward
    slow = class_run["reports"]["sleep in every call"]
    assert slow["seconds"] < 5 + 3, slow["seconds"]


def test_printed_escapes_and_the_environment_are_harmless(class_run):
    ansi = class_run["reports"]["ANSI escapes"]
    assert "\x1b" not in ansi["output"] and "\\x1b[2J" in ansi["output"] and "\\u202e" in ansi["output"]
    spy = class_run["reports"]["environment and /proc"]
    assert SECRET not in spy["output"] and "env:" in spy["output"]


@pytest.mark.parametrize("name, message", [("missing", "no such file"), ("folder", "a folder with no .py or"),
                                           ("fifo", "not a regular file"), ("file: not UTF-8", "UTF-8"),
                                           ("file: broken notebook", "not a Jupyter notebook")])
def test_a_file_that_is_no_submission_gets_its_own_report(class_run, name, message):
    report = class_run["reports"][name]
    assert report["status"] == "broken" and message in report["problem"], report


def test_the_isolation_is_stated(class_run):
    line = class_run["reports"]["right"]["isolation"]
    assert line.startswith("isolation: own session and process group")
    if class_run["bare"]:
        assert "not on this machine: own user" in line and "PID namespace, no network, private /tmp" in line
    elif os.geteuid() == 0:
        assert "own user nobody" in line


def test_gradescope_always_gets_results(tmp_path):
    path = tmp_path / "fifo.py"
    os.mkfifo(path)
    out = tmp_path / "results.json"
    proc = grader([str(path), "--gradescope", str(out)], tmp_path)
    proc.communicate(timeout=120)
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["score"] == 0 and "not a regular file" in results["tests"][0]["output"]


@pytest.mark.parametrize("signals, code", [((signal.SIGINT, signal.SIGINT), 130), ((signal.SIGTERM,), 143)])
def test_an_interrupt_leaves_nothing_running(tmp_path, signals, code):
    path = tmp_path / "hang.py"
    path.write_text(RIGHT + "\nimport signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(1000)\n",
                    encoding="utf-8")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = grader([str(path), "--time-limit", "60"], tmp)
    deadline = time.monotonic() + 60
    while not _leftovers(tmp)[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the child is loading the file: in its sleep
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code and "Traceback" not in err, err
    assert leftovers(tmp) == ([], [])


def test_without_namespaces_or_another_user_a_double_fork_still_dies(tmp_path, monkeypatch):
    """The fallback of a machine without unshare, or a grader not run as root: the marker sweep."""
    import scratchnet.grade.grader as grader
    from scratchnet.grade.isolation import Isolation

    monkeypatch.setattr(grader, "source_problems", lambda submission, allow=(): [])  # it slipped past the source check
    path = tmp_path / "daemon.py"
    path.write_text(RIGHT + ATTACKS["double fork"].replace("1234.5", "1234.25"), encoding="utf-8")
    report = grade(str(path), guard=Guard(Isolation()))
    assert report.problem.startswith("not allowed in this exercise: os use (os.fork)"), report.text()
    time.sleep(0.3)
    sleeping = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                sleeping += [pid] if f.read() == b"sleep\x001234.25\x00" else []
        except OSError:
            pass
    assert sleeping == []


def test_nothing_a_student_controls_reaches_the_terminal_raw(tmp_path):
    """Text mode: the output, an exception's message and the file's own name, each with escapes in it."""
    printed = tmp_path / "printed.py"
    printed.write_text(RIGHT + ATTACKS["ANSI escapes"], encoding="utf-8")
    raised = tmp_path / "raised\x1b[2J.py"
    raised.write_text(RIGHT + '\ndef backward(*args):\n    raise ValueError("\\x1b[1A\\x1b[2Kpassed")\n',
                      encoding="utf-8")
    proc = grader([str(printed), str(raised)], tmp_path)
    out, err = proc.communicate(timeout=120)
    assert "\x1b" not in out and "\u202e" not in out, out
    assert "raised\\x1b[2J.py" in out and "ValueError: \\x1b[1A\\x1b[2Kpassed" in out and "\\x1b[2J" in out


def test_with_the_source_check_on_no_attack_passes(tmp_path):
    paths = write_class(tmp_path)
    for name in ATTACKS:
        if name not in HONEST and name != "sleep in every call":
            report = grade(str(paths[name]), guard=Guard(time_limit=1))
            assert not report.passed, (name, report.text())
