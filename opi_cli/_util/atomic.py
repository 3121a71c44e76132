"""Replacing a file's content so that a crash or a full disk never leaves a half-written file.

Both writers put the new content in a temporary file in the target's folder, fsync it and
rename it over the target: a reader (or a crash) sees the old content or the new one, never
a mix, and a failure leaves the original untouched and removes the temporary file.

- :func:`write_atomic` is for opi's own files (settings it writes, auth.json, trust lists,
  snapshots): the new file gets the mode asked for (0600 by default).
- :func:`replace_file` is for the user's files (the write/edit tools, rewind, .mcp.json): the
  new file keeps the old one's mode and owner, and a symlink keeps pointing at the file it
  names. Two cases cannot be renamed over without changing what the file *is*, so they are
  overwritten in place instead, as editors such as vim do: a file with several hard links
  (renaming would split them) and a file whose owner this process cannot give to a new file.
  pi truncated in place always, and lost the file on a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

__all__ = ["replace_file", "write_atomic"]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder; the rename stands
        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _overwrite_in_place(target: str, data: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
    try:
        _write_all(fd, data)  # over the old bytes first: only growth needs new space
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(target: str, create_mode: int) -> tuple[int, str]:
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.opi-{os.urandom(4).hex()}.tmp")
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, create_mode), tmp


def _finish(fd: int, tmp: str, target: str, data: bytes) -> None:
    """Write ``data`` to the open temporary file, fsync, close and rename it over ``target``."""
    try:
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, sync_dir: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with permission bits ``mode`` (parent folders are created).

    Args:
        sync_dir: also fsync the folder, so the rename itself survives a power loss.
    """
    target = os.path.abspath(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = _temp_beside(target, 0o600)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    _finish(fd, tmp, target, data)
    if sync_dir:
        _fsync_dir(os.path.dirname(target))


def replace_file(path: str, data: bytes, *, mode: int | None = None) -> None:
    """Make the user's file ``path`` hold ``data`` (see the module docstring); parents are created.

    Args:
        mode: permission bits to give the file (rewind restores a snapshot's); by default an
            existing file keeps its own and a new file gets 0666 less the umask.

    Raises:
        OSError: nothing was changed (the temporary file, if any, is removed), except in the
            in-place case, where a failure can leave the file partly rewritten.
    """
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None:
        if stat.S_ISDIR(old.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
        if not stat.S_ISREG(old.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", target)
        if old.st_nlink > 1:
            _overwrite_in_place(target, data)
            if mode is not None:
                os.chmod(target, mode)
            return
    try:
        fd, tmp = _temp_beside(target, 0o600 if old else 0o666)
    except PermissionError:
        if old is None:
            raise
        _overwrite_in_place(target, data)  # a writable file in a folder we may not add to
        return
    try:
        if old is not None:
            mine = os.fstat(fd)
            if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except PermissionError:
                    os.close(fd)
                    fd = -1
                    os.unlink(tmp)
                    _overwrite_in_place(target, data)
                    return
            os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which clears set-id bits
        if mode is not None:
            os.fchmod(fd, mode)
    except BaseException:
        if fd >= 0:
            os.close(fd)
            os.unlink(tmp)
        raise
    _finish(fd, tmp, target, data)
    _fsync_dir(folder)
