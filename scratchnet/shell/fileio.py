"""Every file a command writes: checked before any work, then written whole or not at all.

`check_outputs` runs before a command does any work, on every file it will write (derived names such as
`<stem>_predictions.png` included). It refuses, each in one line naming the flag:
- a folder, or an existing path that is not a regular file (a device node, a FIFO, a socket): writing
  would replace it;
- two outputs, or an output and an input, that are the same file once resolved (`a.json` and `./a.json`,
  symlinks, hard links): one would overwrite the other;
- a path whose nearest existing folder cannot be written (read-only, /proc, a file where a folder should be);
- a name too long for its file system, the temporary name written beside it included (`temp_name`): the
  check creates, in that folder, a file whose name is as long as the longest one the write will create;
- an existing file without write permission (mode 444, say): its owner protected it, so it is not replaced,
  even by root, for whom the permission bits do not stop a rename.
Missing parent folders are fine: `atomic_write` creates them, as `mkdir -p` would.

`check_input` refuses an input that is a folder, a FIFO, a device or a socket (reading a FIFO would wait
forever for a writer), before anything opens it.

Symlinks: an output that is a symlink is written *through*: the file it points to is replaced, the link
stays a link. A hard link is not followed: the path gets a new file and the other name keeps the old one.

`atomic_write` writes a temporary file beside the target, fsyncs it, renames it over the target and fsyncs
the folder. A crash, Ctrl-C or a full disk in the middle leaves the previous file (if any) untouched and
raises WriteError (one line: which file, why, that the old one is intact). Temporary files carry the pid
of their writer: two runs writing the same path never delete each other's, and a run removes only the
temporary files of writers that are dead (killed outright: SIGKILL skips the cleanup). Text is UTF-8,
whatever the locale.
"""

import contextlib
import errno
import glob
import os
import stat
import tempfile

from scratchnet.errors import ScratchnetError, UsageError

KINDS = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


class WriteError(ScratchnetError):
    """A file could not be written (full disk, I/O error, ...); the previous file at `path`, if any, is intact."""

    def __init__(self, path, reason):
        self.path, self.reason = path, reason
        kept = f"the previous {path} is unchanged" if os.path.exists(path) else "nothing was written"
        super().__init__(f"could not write {path} ({reason}); {kept}")


def target(path):
    """The file that writing `path` replaces: the path itself, or the file its symlinks point to."""
    return os.path.realpath(path)


def same_file(a, b):
    """Whether paths a and b name one file (after symlinks; hard links of an existing file included)."""
    if target(a) == target(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def non_regular(path):
    """'a FIFO', 'a character device', … when `path` exists (after symlinks) and is no regular file; else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else KINDS.get(stat.S_IFMT(mode), "not a regular file")


def check_input(path, name):
    """Fail before reading when `path` exists and is no regular file: one line starting with `name` (a flag)."""
    kind = non_regular(path)
    if kind:
        raise UsageError(f"{name} {path} is {kind}, not a regular file: give the file itself")


def temp_name(destination, pid=None):
    """The name of the temporary file that `atomic_write` writes beside `destination` (X: mkstemp's letters)."""
    return f".{os.path.basename(destination)}.{os.getpid() if pid is None else pid}.XXXXXXXX.tmp"


def check_writable(path, name):
    """Fail before any work when `path` could not be written later: one line starting with `name` (a flag)."""
    kind = non_regular(path)
    if kind == "a folder":
        raise UsageError(f"{name} {path} is a folder: give a file name")
    if kind:
        raise UsageError(f"{name} {path} is {kind}, not a regular file: writing would replace it; give a file path")
    if os.path.exists(path) and not os.stat(path).st_mode & 0o222:
        raise UsageError(f"{name} {path} is read-only (mode {stat.S_IMODE(os.stat(path).st_mode):o}): it is not "
                         "replaced; make it writable (chmod u+w) or choose another path")
    destination = target(path)
    existing = os.path.dirname(destination)
    while not os.path.exists(existing):  # the folders that are missing will be created; check the one above them
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UsageError(f"{name} {path}: {existing} is a file, not a folder; choose another path")
    _try_names(destination, existing, name, path)


def _try_names(destination, existing, name, path):
    """Create, in `existing`, a file named as long as the longest name that writing `destination` creates (its
    missing folders, the temporary file): the only sure test, for root, read-only and small-name file systems."""
    tmp = temp_name(destination)
    created = [*os.path.relpath(os.path.dirname(destination), existing).split(os.sep), tmp]
    longest = max(len(os.fsencode(part)) for part in created if part != os.curdir)
    full = len(os.fsencode(os.path.join(os.path.dirname(destination), tmp)))
    if full >= os.pathconf(existing, "PC_PATH_MAX"):
        raise UsageError(f"{name} {path}: the path is too long ({full} bytes with the temporary name {tmp} written "
                         f"beside it; {os.pathconf(existing, 'PC_PATH_MAX') - 1} at most): choose a shorter one")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix="." + "x" * max(longest - 13, 0), suffix=".tmp"):
            pass
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise UsageError(f"{name} {path}: a name is too long for this file system ({longest} bytes with the "
                             f"temporary name {tmp} written beside it; {os.pathconf(existing, 'PC_NAME_MAX')} at "
                             "most): choose a shorter one") from None
        raise UsageError(f"{name} {path}: folder {existing} is not writable ({e.strerror}); "
                         "choose another path") from None


def check_outputs(outputs, inputs=()):
    """Refuse, before any work, outputs that could not be written or that would overwrite an input or each other.

    Args:
        outputs: (path, name) for every file the command writes, e.g. ("runs/m.json", "--metrics-out"), or
            ("runs/x_predictions.png", "--plot-samples (its predictions grid)"); empty paths are skipped.
        inputs: (path, name) of files the command reads and must not overwrite, or (path, name, writer) for one
            that the output named `writer` is meant to rewrite (the checkpoint that --save continues); each must
            be a regular file where it exists (check_input).
    """
    outputs = [(path, name) for path, name in outputs if path]
    for path, name in outputs:
        check_writable(path, name)
    for path, name, *_ in (item for item in inputs if item[0]):
        check_input(path, name)
    for path, name, *writer in (item for item in inputs if item[0]):
        for output, output_name in outputs:
            if output_name not in writer and same_file(output, path):
                raise UsageError(f"{name} {path} and {output_name} {output} are the same file: {output_name} would "
                                 "overwrite what this command reads; give it another path")
    for i, (path, name) in enumerate(outputs):
        for other, other_name in outputs[:i]:
            if same_file(path, other):
                raise UsageError(f"{other_name} {other} and {name} {path} are the same file ({target(path)}): "
                                 "give each output its own path")


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside `path`'s target; on a clean exit it replaces the target atomically.

    Raises UsageError when the target exists and is no regular file, WriteError when the disk refuses.
    """
    kind = non_regular(path)
    if kind:
        raise UsageError(f"{path} is {kind}, not a regular file: not replacing it")
    destination = target(path)
    folder = os.path.dirname(destination)
    prefix = f".{os.path.basename(destination)}."
    try:
        os.makedirs(folder, exist_ok=True)
        _remove_stale(folder, prefix)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_name(destination).removesuffix("XXXXXXXX.tmp"),
                                   suffix=".tmp")
    except OSError as e:
        raise WriteError(path, e.strerror) from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(destination))  # mkstemp makes 0600; give the file the mode it had, or open()'s
        os.replace(tmp, destination)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, BrokenPipeError):
            raise WriteError(path, e.strerror or str(e)) from None
        raise
    _fsync_folder(folder)


def _remove_stale(folder, prefix):
    """Remove the temporary files of writers to this path that are no longer alive (never a live one's)."""
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        pid = os.path.basename(stale)[len(prefix):].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _mode_for(destination):
    try:
        return stat.S_IMODE(os.stat(destination).st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
