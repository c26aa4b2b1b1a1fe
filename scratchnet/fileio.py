"""Files written whole or not at all: a temporary file beside the target, fsync, os.replace, fsync the folder.

A crash or Ctrl-C in the middle leaves the previous file (if any) untouched and no partial file behind; a
writer killed outright (SIGKILL) leaves a hidden temporary file, which the next write to that path removes.
One writer per path is assumed.
"""

import contextlib
import glob
import os
import tempfile

from scratchnet.errors import UsageError


def check_writable(path, flag):
    """Fail before any work is done when `path` could not be written later: one line naming the flag."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a folder: give a file name")
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: folder {folder} does not exist; create it first")
    try:  # the only sure test, for root and read-only file systems alike: create a file there
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        reason = e.strerror
        raise UsageError(f"{flag} {path}: folder {folder} is not writable ({reason}); choose another path") from None


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file in path's folder; on a clean exit it replaces `path` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        os.unlink(stale)  # left by a writer that was killed (SIGKILL skips the cleanup below)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
