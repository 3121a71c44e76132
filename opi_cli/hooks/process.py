"""Run one hook command: the event JSON on stdin, stdout and stderr apart, a timeout that kills.

The command runs with the shell (bash when there is one) in its own session, so that on a
timeout, or when the run is cancelled, the whole process group is killed: a hook that
started a background child cannot keep opi waiting on its pipes. The tools' ``ShellOps``
merge stdout and stderr and close stdin, so hooks have this small runner of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping

from opi_cli._util.records import record

__all__ = ["MAX_OUTPUT_CHARS", "CommandResult", "run_command"]

MAX_OUTPUT_CHARS = 100_000
"""What is kept of a hook's stdout and of its stderr (the rest is cut, and says so)."""


@record
class CommandResult:
    """How a command ended: ``exit_code`` is ``None`` when it timed out or could not start."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None


def _shell() -> str:
    if os.path.exists("/bin/bash"):
        return "/bin/bash"
    return shutil.which("bash") or "/bin/sh"


def _text(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) > MAX_OUTPUT_CHARS:
        return text[:MAX_OUTPUT_CHARS] + f"\n[... cut: {len(text) - MAX_OUTPUT_CHARS} more characters]"
    return text


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def run_command(
    command: str, stdin: bytes, *, cwd: str, env: Mapping[str, str] | None, timeout: float
) -> CommandResult:
    """Run ``command`` with ``stdin``; never raises except on cancellation (the group is killed first)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            _shell(), "-c", command,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd, env=None if env is None else dict(env), start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(None, error=f"could not start: {exc.strerror or exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        return CommandResult(None, timed_out=True, error=f"timed out after {timeout:g} s (killed)")
    except asyncio.CancelledError:
        _kill_group(proc)
        await asyncio.shield(proc.wait())
        raise
    return CommandResult(proc.returncode, _text(out), _text(err))
