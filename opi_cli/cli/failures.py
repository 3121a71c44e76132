"""The last line of defence: whatever escapes a command becomes one line on stderr and an exit code.

Commands turn the errors they expect into an :class:`~opi_cli.errors.OpiError` with a
message of their own. This module catches what is left (an ``OSError`` from a full disk, a
read-only or vanished folder, a closed or full standard output) so the user never sees a
traceback unless ``--debug`` asks for it (STYLE.md 12). Exit codes follow PROTOCOL.md §1:
2 when the place the user pointed opi at is wrong (permissions, a read-only file system, a
missing or misplaced path), 1 when the disk or the device failed a run that was under way.

It also holds the start-up warning for an ``auth.json`` that other users can read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from opi_cli.errors import OpiError

__all__ = [
    "STDOUT",
    "OutputError",
    "describe",
    "one_line_errors",
    "os_error_line",
    "output_error",
    "warn_exposed_auth",
    "write_stdout",
]

_CONFIGURATION = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
     errno.ENAMETOOLONG, errno.ELOOP}
)  # fmt: skip
STDOUT = "standard output"
_HINTS = {
    errno.ENOSPC: "free some space and try again",
    errno.EDQUOT: "free some space and try again",
}


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush does not print a second error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class OutputError(OpiError):
    """Writing what the user asked for (an export, standard output) failed."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def os_error_line(exc: OSError, target: str | None = None) -> tuple[str, int]:
    """One line for an ``OSError`` on ``target`` (default: the file it names) and its exit code."""
    reason = exc.strerror or str(exc)
    if target is None and exc.filename is not None:
        target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
    message = f"{target}: {reason}" if target else reason
    hint = _HINTS.get(exc.errno or 0)
    if hint:
        message += f" ({hint})"
    return message, 2 if exc.errno in _CONFIGURATION else 1


def output_error(exc: OSError, target: object) -> OutputError:
    """The :class:`OutputError` for failing to write ``target`` (a path, or ``"standard output"``)."""
    message, code = os_error_line(exc, str(target))
    return OutputError(message if target != STDOUT else f"cannot write to {message}", code)


def write_stdout(text: str) -> None:
    """Write and flush ``text`` on standard output.

    Raises:
        OutputError: standard output is full or closed (``/dev/full``, a dead pipe).
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        raise output_error(exc, STDOUT) from exc


def describe(exc: BaseException) -> tuple[str, int] | None:
    """The one line (without the ``opi:`` prefix) and exit code for ``exc``, or ``None`` to re-raise."""
    if isinstance(exc, OpiError):
        return str(exc), exc.exit_code
    if isinstance(exc, OSError):
        return os_error_line(exc)
    return None


@contextlib.contextmanager
def one_line_errors(*, debug: bool) -> Iterator[None]:
    """Run a command; an ``OpiError`` or ``OSError`` escaping it exits with one line (a traceback with ``debug``)."""
    try:
        yield
    except (OpiError, OSError) as exc:
        found = describe(exc)
        if debug or found is None:
            raise
        message, code = found
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"opi: {message}\n")
            sys.stderr.flush()
        sys.exit(code)


def warn_exposed_auth(path: Path) -> None:
    """One stderr line if ``auth.json`` (API keys) is open to group or others; called once per run."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        how = "readable" if mode & 0o044 else "writable" if mode & 0o022 else "accessible"
        sys.stderr.write(f"opi: warning: {path} is {how} by other users (mode {mode:04o}); run: chmod 600 {path}\n")
