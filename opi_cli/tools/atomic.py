"""Replacing a file's content safely, and the private folder for tool output files.

:func:`replace_file` writes the new content to a temporary file next to the target, flushes
it to disk and renames it over the target: a full disk or a crash leaves either the old
file or the new one, never a half-written mix (pi truncated in place and lost the file).
The new file gets the old one's mode and owner, and a symlink keeps pointing at the file it
names. Two cases cannot be renamed over without changing what the file *is*, so they are
overwritten in place instead, as editors such as vim do: a file with several hard links
(renaming would split them) and a file whose owner this process cannot give to a new file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile

__all__ = ["private_temp_dir", "replace_file"]


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


def _check_replaceable(target: str, old: os.stat_result) -> None:
    if stat.S_ISDIR(old.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
    if not stat.S_ISREG(old.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", target)


def replace_file(path: str, data: bytes) -> None:
    """Make ``path`` hold ``data`` (see the module docstring); parents are created.

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
        _check_replaceable(target, old)
        if old.st_nlink > 1:
            _overwrite_in_place(target, data)
            return
    tmp = os.path.join(folder, f".{os.path.basename(target)}.opi-{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600 if old else 0o666)
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
    _fsync_dir(folder)


def private_temp_dir() -> str:
    """A folder only this user can enter, for tool output files: ``<tmp>/opi-<uid>`` (0700).

    The name is predictable, so it is trusted only if it is a real folder owned by this user;
    otherwise (someone else made it, or it is a symlink) a fresh ``mkdtemp`` folder is used.
    """
    base = os.path.join(tempfile.gettempdir(), f"opi-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(base, 0o700)
    try:
        st = os.lstat(base)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
            if stat.S_IMODE(st.st_mode) != 0o700:
                os.chmod(base, 0o700)
            return base
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="opi-")
