"""Low-level session-file operations: header check, line streaming, torn-tail repair, writer lock.

Promise 4: before the first append the file must end in ``\\n``; a torn last line is cut
off and kept in ``<file>.torn`` (a last line that is complete JSON only lacking its newline
gets the newline instead). Promise 6: a file whose header is missing or corrupt is refused
with a :class:`SessionError` naming the file and the repair command, and never written.
Promise 8: a writer holds ``fcntl.flock`` on ``<file>.lock``, which records its pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from opi_cli._util.jsonio import loads
from opi_cli.errors import SessionError
from opi_cli.session.entries import EntryError, SessionHeader, parse_header_line

__all__ = ["LockFile", "iter_blocks_reverse", "iter_lines", "read_header", "repair_tail"]

_HEADER_LIMIT = 1 << 20
_CHUNK = 1 << 15  # 32 KB: a resume's RSS measured ~0.3 MB lower than with 64 KB blocks, as fast


def _refuse(path: Path, why: str) -> SessionError:
    return SessionError(
        f"{path}: {why}; the file was left untouched. "
        f"Run `opi sessions doctor {path} --repair` to write a fixed copy."
    )


def read_header(path: Path) -> tuple[SessionHeader, int]:
    """The header of a session file and the byte length of its line.

    Raises:
        SessionError: missing file, or a missing/corrupt header (promise 6).
    """
    try:
        with path.open("rb") as f:
            first = f.readline(_HEADER_LIMIT)
    except FileNotFoundError as exc:
        raise SessionError(f"no session file at {path}") from exc
    except OSError as exc:
        raise SessionError(f"cannot read session file {path}: {exc.strerror}") from exc
    if not first.strip():
        raise _refuse(path, "the session header (line 1) is missing")
    header = parse_header_line(first)
    if isinstance(header, EntryError):
        raise _refuse(path, f"the session header (line 1) is corrupt: {header.reason}")
    return header, len(first)


def iter_lines(path: Path, start: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(offset, line, is_last)`` for every line from byte ``start``, streaming."""
    with path.open("rb") as f:
        f.seek(start)
        offset = start
        line = f.readline()
        while line:
            following = f.readline()
            yield offset, line, not following
            offset += len(line)
            line = following


def iter_blocks_reverse(path: Path, start: int) -> Iterator[tuple[int, list[bytes], bool]]:
    """The lines of :func:`iter_lines` in blocks, last block first, reading backwards 32 KB at a time.

    Yields ``(offset, lines, unterminated)``: the lines of a block in file order without their
    ``\\n`` (a line longer than a block comes whole), the first starting at byte ``offset``;
    ``unterminated`` is true once, for the block holding a final line that has no ``\\n``.
    """
    with path.open("rb") as f:
        pos = f.seek(0, os.SEEK_END)
        tail: list[bytes] = []  # the end of a line whose start is not read yet, newest block last
        first = True
        while pos > start:
            lo = max(start, pos - _CHUNK)
            f.seek(lo)
            block = f.read(pos - lo)
            pos = lo
            cut = block.find(b"\n") + 1 if lo > start else 0
            if lo > start and cut == 0:
                tail.append(block)
                continue
            region = block[cut:] + b"".join(reversed(tail)) if tail else block[cut:]
            tail = [block[:cut]]
            lines = region.split(b"\n")
            unterminated = first and lines[-1] != b""
            if not unterminated:
                lines.pop()  # the empty piece after the region's last newline
            first = False
            if lines:
                yield lo + cut, lines, unterminated


def _last_newline(fd: int, size: int) -> int:
    """Offset of the last ``\\n`` in the file, or -1."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        chunk = os.pread(fd, end - start, start)
        at = chunk.rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


def _is_complete_json(data: bytes) -> bool:
    try:
        loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def repair_tail(fd: int, path: Path) -> bytes | None:
    """Make the file (open read-write on ``fd``) end in ``\\n``; returns the torn bytes cut, if any."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    nl = _last_newline(fd, size)
    tail = os.pread(fd, size - (nl + 1), nl + 1)
    if tail.strip() and _is_complete_json(tail.strip()):
        os.write(fd, b"\n")  # O_APPEND: lands at the end
        return None
    if nl < 0:
        raise _refuse(path, "the session header (line 1) is torn")
    torn = Path(f"{path}.torn")
    tfd = os.open(torn, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(tfd, tail + b"\n")
        os.fsync(tfd)
    finally:
        os.close(tfd)
    os.ftruncate(fd, nl + 1)
    return tail


class LockFile:
    """An exclusive, non-blocking ``flock`` on ``<session file>.lock``, held while a writer is open."""

    def __init__(self, session_path: Path) -> None:
        self.path = Path(f"{session_path}.lock")
        self._session_path = session_path
        self._fd: int | None = None

    def acquire(self, wait_s: float = 1.0) -> None:
        """Take the lock or raise ``SessionError`` naming the holder's pid.

        A holder may be momentary: a process killed while forking a tool leaves a child that
        holds a copy of the lock until it execs (milliseconds), so a busy lock is retried for
        ``wait_s`` before it counts as another opi process.
        """
        deadline = time.monotonic() + wait_s
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except OSError as busy:
                        if (
                            busy.errno not in (errno.EWOULDBLOCK, errno.EAGAIN)
                            or time.monotonic() >= deadline
                        ):
                            raise
                        time.sleep(0.02)
            except OSError as exc:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise SessionError(
                        f"session is in use by another opi process (pid {holder}): {self._session_path}"
                    ) from exc
                raise SessionError(f"cannot lock {self.path}: {exc.strerror}") from exc
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder unlinked it between our open and flock
                os.close(fd)
                continue
            with contextlib.suppress(OSError):  # the pid only informs; a full disk must not stop us
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return
        raise SessionError(f"cannot lock {self.path}: it keeps being replaced")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
