"""Opening files to read them and writing files atomically: the two file-system jobs every
loader and saver here shares (tc.save/tc.load, safetensors, read_idx, train --resume).

Opening. A path is opened with O_NONBLOCK and then `fstat`ed, so a FIFO, a device or a
directory is refused at once (opening a FIFO without O_NONBLOCK waits for a writer: a hang),
and the check is made on the file actually opened, not on a name that could change in between.

Atomic writes. `atomic_write` writes to a temporary file in the destination's directory,
flushes and fsyncs it, then `os.replace`s it over the destination (and fsyncs the directory): a
crash or an exception mid-write leaves the previous file intact and no partial file under the
name. The temporary file is `.name.PID.XXXX.tmp`; a writer killed mid-write leaves it behind,
and the next successful write of the same file deletes it once PID is no running process and
the file is a minute old.
"""
from __future__ import annotations

import os
import stat
import tempfile
import time
from typing import Any, BinaryIO, Callable

__all__ = ["open_regular_file", "atomic_write", "STALE_TEMP_SECONDS"]

# A dead writer's temp file is deleted once it has not been written for this long.
STALE_TEMP_SECONDS = 60

_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket")]


def open_regular_file(path: str | os.PathLike, error: type[Exception], what: str,
                      missing: type[Exception] | None = None) -> BinaryIO:
    """Open `path` for binary reading if it is a regular file; otherwise raise `error` (for a
    path that does not exist, `missing` if given) naming the path and what it is. `what` names
    the expected content ("checkpoint", "IDX")."""
    name = os.fspath(path)
    a_what = f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise (missing or error)(f"{name}: no such {what} file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, not {a_what} file") from None
    except OSError as e:
        raise error(f"{name}: cannot open the {what} file: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
            raise error(f"{name}: is {kind}, not {a_what} file (only regular files are read, "
                        f"so that reading can never block or run forever)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """Call `write(fh)` on a temporary file next to `path`, then put it in place atomically.
    Exceptions propagate unchanged (the caller wraps them); the temporary file is removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # the writer's PID in the name lets a later write tell a dead writer's leftover from a live one
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    _remove_dead_writers_temps(path)


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def _remove_dead_writers_temps(path: str) -> None:
    """Delete `.name.PID.XXXX.tmp` files of this file left by writers that were killed
    mid-write (SIGKILL, power loss): their PID names no running process here, and the file has
    not been written for STALE_TEMP_SECONDS (so a live writer on another host sharing the
    directory, whose PID means nothing here, keeps its temp while it writes). A live local
    writer's temp, or one whose PID has been reused, is left alone."""
    directory, prefix = os.path.dirname(os.path.abspath(path)), _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _process_exists(int(pid)):
            continue
        full = os.path.join(directory, name)
        try:
            if now - os.stat(full).st_mtime >= STALE_TEMP_SECONDS:
                os.unlink(full)
        except OSError:                                  # gone already, or not ours to delete
            pass


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)                                  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True                                      # someone else's process, or unknown
    return True


def _file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777          # keep an existing file's mode
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
