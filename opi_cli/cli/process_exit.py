"""Ending the ``opi`` process as soon as its work is safely done, without the interpreter's teardown.

When a command returns, everything a user can observe is already settled: the session is
closed (appended, fsynced, unlocked), the answer or the last JSON line is written and
flushed, child processes are gone. A normal interpreter exit would then free every module
and object one by one, about 70 ms for a run that loaded httpx, asyncio and opi's agent,
which nothing depends on. :func:`exit_now` does the parts of that exit that matter, in the
interpreter's own order, and skips the rest:

1. wait for non-daemon threads, running ``threading``'s exit callbacks first (they stop idle
   executor workers), as ``Py_Finalize`` does;
2. run the :mod:`atexit` callbacks (logging's final flush, anything a library registered);
3. flush standard output, then standard error: a reader that went away or a full disk
   there gives exit status 120 (the interpreter's status for a failed final flush),
   without a traceback;
4. ``os._exit`` with the command's status.

Only the process entry point calls it (:func:`opi_cli.cli.entry.main` without arguments);
an in-process caller returns normally.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

__all__ = ["exit_code", "exit_now"]

_FLUSH_FAILED = 120
"""CPython's exit status when flushing the standard streams fails at exit."""


def exit_code(exc: SystemExit) -> int:
    """The status a ``SystemExit`` ends the process with, as the interpreter computes it
    (a non-integer code is printed to stderr and gives 1)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{code}\n")
    return 1


def _finish_threads() -> None:
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:  # the interpreter's own step: exit callbacks, then join non-daemon threads
        shutdown()
        return
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()


def _flushed(stream: object) -> bool:
    flush = getattr(stream, "flush", None)
    if flush is None:
        return True
    try:
        flush()
    except (OSError, ValueError):  # a closed pipe, a full disk, a stream already closed
        return False
    return True


def exit_now(code: int) -> NoReturn:
    """Flush what the process wrote and end it with ``code`` (see the module docstring)."""
    try:
        _finish_threads()
        atexit._run_exitfuncs()
    finally:
        ok = _flushed(sys.stdout)
        ok = _flushed(sys.stderr) and ok
        os._exit(code if ok or code else _FLUSH_FAILED)
