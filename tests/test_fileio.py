"""Output files: scratchnet.shell.fileio's checks before any work, and writes that lose nothing.

Device nodes and FIFOs are made in a temporary folder (os.mknod, os.mkfifo), never on the real /dev; the
full file system is a real 1 MiB tmpfs, mounted when the test runs as root (skipped elsewhere). Every
case hashes the files it must not change. Run: python -m pytest tests/test_fileio.py -q
"""

import hashlib
import os
import stat
import subprocess
import sys

import pytest

from scratchnet.errors import UsageError
from scratchnet.shell.fileio import WriteError, atomic_write, check_outputs, check_writable


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def node(tmp_path):
    """A character device with /dev/null's numbers, a FIFO and a socket, made in tmp_path."""
    made = {}
    if os.geteuid() == 0:
        made["a character device"] = tmp_path / "null"
        os.mknod(made["a character device"], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    made["a FIFO"] = tmp_path / "fifo"
    os.mkfifo(made["a FIFO"])
    return made


def test_existing_outputs_that_are_not_regular_files_are_refused_and_kept(node, tmp_path):
    for kind, path in node.items():
        mode = os.stat(path).st_mode
        with pytest.raises(UsageError, match=f"--save {path} is {kind}, not a regular file"):
            check_outputs([(str(path), "--save")])
        with pytest.raises(UsageError, match=f"is {kind}, not a regular file"):
            with atomic_write(path) as f:
                f.write(b"x")
        assert os.stat(path).st_mode == mode, kind
        link = tmp_path / f"link-to-{path.name}"
        link.symlink_to(path)  # a symlink to one is refused too: the policy is to write through links
        with pytest.raises(UsageError, match=f"is {kind}"):
            check_outputs([(str(link), "--metrics-out")])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("second", ["{d}/./a.json", "{d}/sub/../a.json", "link", "hardlink"])
def test_two_outputs_that_are_one_file_are_refused(second, tmp_path):
    first = tmp_path / "a.json"
    first.write_text("{}")
    (tmp_path / "sub").mkdir()
    if second == "link":
        second = str(tmp_path / "link.json")
        os.symlink(first, second)
    elif second == "hardlink":
        second = str(tmp_path / "hard.json")
        os.link(first, second)
    else:
        second = second.format(d=tmp_path)
    with pytest.raises(UsageError, match=r"--save .*a\.json and --metrics-out .* are the same file .*: give each"):
        check_outputs([(str(first), "--save"), (second, "--metrics-out")])


def test_an_output_may_not_be_an_input(tmp_path):
    ckpt = tmp_path / "c.npz"
    ckpt.write_bytes(b"checkpoint")
    with pytest.raises(UsageError, match="--resume .*c.npz and --metrics-out .*c.npz are the same file: --metrics-out "
                                         "would overwrite what this command reads; give it another path"):
        check_outputs([(str(ckpt), "--save"), (str(ckpt), "--metrics-out")], inputs=[(str(ckpt), "--resume", "--save")])
    check_outputs([(str(ckpt), "--save")], inputs=[(str(ckpt), "--resume", "--save")])  # --save continues it


def test_distinct_outputs_pass_and_empty_ones_are_skipped(tmp_path):
    check_outputs([(str(tmp_path / "a.json"), "--metrics-out"), ("", "--plot"), (str(tmp_path / "b.png"), "--plot")])


def test_a_symlinked_output_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    check_outputs([(str(link), "--metrics-out")])
    with atomic_write(link, "w") as f:
        f.write("new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_missing_parent_folders_are_created_at_write_time_only(tmp_path):
    path = tmp_path / "runs" / "deep" / "m.json"
    check_outputs([(str(path), "--metrics-out")])
    assert not (tmp_path / "runs").exists()  # nothing happens before the work
    with atomic_write(path, "w") as f:
        f.write("{}")
    assert path.read_text() == "{}"


def test_a_file_where_a_folder_should_be(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match=r"--plot .*f/sub/c.png: .*/f is a file, not a folder"):
        check_writable(str(tmp_path / "f" / "sub" / "c.png"), "--plot")


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("old")
    os.chmod(path, 0o600)
    with atomic_write(path, "w") as f:
        f.write("new")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600




def test_a_full_disk_is_one_line_and_the_old_file_stays(full_fs):
    path = full_fs / "ckpt.npz"
    path.write_bytes(b"the previous checkpoint")
    before = sha256(path)
    with pytest.raises(WriteError) as caught:
        with atomic_write(path) as f:
            f.write(b"\0" * (2 << 20))
    assert str(caught.value) == f"could not write {path} (No space left on device); the previous {path} is unchanged"
    assert sha256(path) == before
    assert os.listdir(full_fs) == ["ckpt.npz"]  # no temporary file left behind


def test_two_writers_of_one_path_never_delete_each_others_temporary_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    other = [sys.executable, "-c", "import sys\nfrom scratchnet.shell.fileio import atomic_write\n"
             "with atomic_write(sys.argv[1]) as f: f.write(b'other')", str(path)]
    with atomic_write(path) as f:
        f.write(b"mine")
        subprocess.run(other, check=True)  # writes the same path while this write is open
        assert path.read_bytes() == b"other"
    assert path.read_bytes() == b"mine"


def test_a_dead_writers_temporary_file_is_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".ckpt.npz.{int(dead.stdout)}.abc123.tmp"
    stale.write_bytes(b"half")
    with atomic_write(tmp_path / "ckpt.npz") as f:
        f.write(b"whole")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_text_is_written_in_utf8_whatever_the_locale(tmp_path):
    path = tmp_path / "example.md"
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"}
    code = ("import sys\nfrom scratchnet.shell.fileio import atomic_write\n"
            "with atomic_write(sys.argv[1], 'w') as f: f.write('\\u03b1 \\u03c3 \\u03b4 \\u2264')")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env)
    assert path.read_bytes() == "α σ δ ≤".encode()


@pytest.mark.parametrize("length,refused", [(200, False), (240, True), (255, True), (256, True)])
def test_a_name_is_tried_at_the_length_really_written_temporary_name_included(tmp_path, length, refused):
    """NAME_MAX is 255 here: a 240-byte name fits, but the temporary name beside it (30 bytes more) does not."""
    path = tmp_path / ("m" * (length - 5) + ".json")
    before = os.listdir(tmp_path)
    if refused:
        with pytest.raises(UsageError, match=r"--metrics-out .*: a name is too long for this file system \("):
            check_writable(str(path), "--metrics-out")
    else:
        check_writable(str(path), "--metrics-out")
        with atomic_write(str(path), "w") as f:  # what passed the check is really written
            f.write("{}")
        before.append(path.name)
    assert sorted(os.listdir(tmp_path)) == sorted(before)


def test_a_missing_folder_too_long_and_a_path_past_path_max_are_refused(tmp_path):
    with pytest.raises(UsageError, match="a name is too long"):
        check_writable(str(tmp_path / ("d" * 256) / "m.json"), "--save")
    with pytest.raises(UsageError, match=r"the path is too long \(\d+ bytes with the temporary name"):
        check_writable(str(tmp_path / ("d/" * 2100) / "m.json"), "--save")
    assert os.listdir(tmp_path) == []


def test_a_read_only_file_is_not_replaced_even_by_root(tmp_path):
    path = tmp_path / "kept.npz"
    path.write_bytes(b"protected")
    path.chmod(0o444)
    with pytest.raises(UsageError, match=r"--save .*kept.npz is read-only \(mode 444\): it is not replaced; make it "
                                         r"writable \(chmod u\+w\) or choose another path"):
        check_outputs([(str(path), "--save")])
    assert path.read_bytes() == b"protected"


@pytest.mark.parametrize("make,kind", [(os.mkfifo, "a FIFO"), (os.mkdir, "a folder")])
def test_an_input_that_is_no_regular_file_is_refused_before_reading(tmp_path, make, kind):
    path = tmp_path / "in"
    make(path)
    with pytest.raises(UsageError, match=f"--resume {path} is {kind}, not a regular file: give the file itself"):
        check_outputs([(str(tmp_path / "out.npz"), "--save")], inputs=[(str(path), "--resume")])
