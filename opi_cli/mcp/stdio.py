"""The stdio transport: an MCP server as a child process speaking one JSON message per line.

The child runs in its own process group with the environment it is given (nothing is
read from ``os.environ`` here); its stdin and stdout carry the protocol, and its stderr
goes straight to a log file (the file descriptor is handed to the child, so a noisy server
costs no memory and never reaches the screen). Output that is not JSON-RPC breaks the
stream's framing: the transport closes and says what it saw. Closing follows the MCP
shutdown order: close stdin, then SIGTERM the group, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from opi_cli._util.jsonio import dumps_bytes, loads
from opi_cli.mcp.transport import JsonRpcMessage, TransportClosed, check_message

__all__ = ["StdioTransport", "open_log"]

_MAX_LINE = 64 * 1024 * 1024  # one message; a larger line is a broken server, not a big result
_GRACE_S = 0.5  # after stdin closes, before SIGTERM; then as long again before SIGKILL
_LOG_ROTATE_BYTES = 1024 * 1024


def open_log(path: Path, header: str) -> int:
    """Open ``path`` for appending (0600, parent 0700), rotating it to ``.1`` past 1 MB; returns the fd."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    os.write(fd, f"--- {stamp} {header}\n".encode())
    return fd


def _snippet(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").strip()
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


class StdioTransport:
    """A server started as ``command args`` (see the module docstring).

    Args:
        command: the program (looked up on ``env["PATH"]``).
        args: its arguments.
        env: the child's whole environment.
        cwd: its working folder (None: ours).
        log_path: where its stderr is appended.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str],
        cwd: str | None = None,
        log_path: Path,
    ) -> None:
        self.command = command
        self.args = list(args)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self._proc: asyncio.subprocess.Process | None = None
        self._log_fd: int | None = None
        self._pending: deque[JsonRpcMessage] = deque()
        self._broken: str | None = None

    @property
    def description(self) -> str:
        return " ".join([self.command, *self.args])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        if self.cwd is not None and not Path(self.cwd).is_dir():
            raise TransportClosed(f"its working folder {self.cwd} does not exist")
        self._log_fd = open_log(self.log_path, f"start: {self.description}")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.command, *self.args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._log_fd,
                env=self.env, cwd=self.cwd, start_new_session=True, limit=_MAX_LINE,
            )
        except FileNotFoundError as exc:
            self._close_log()
            raise TransportClosed(f"command not found: {self.command} (check `command` and PATH)") from exc
        except OSError as exc:
            self._close_log()
            raise TransportClosed(f"cannot run {self.command}: {exc.strerror or exc}") from exc
        os.write(self._log_fd, f"--- pid {self._proc.pid}\n".encode())

    async def send(self, message: JsonRpcMessage) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or self._broken is not None:
            raise TransportClosed(self._broken or "not started")
        try:
            proc.stdin.write(dumps_bytes(message) + b"\n")
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise TransportClosed(await self._exit_reason()) from exc

    async def receive(self) -> JsonRpcMessage:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise TransportClosed("not started")
        while not self._pending:
            if self._broken is not None:
                raise TransportClosed(self._broken)
            try:
                line = await proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError) as exc:
                await self._break(f"wrote a line longer than {_MAX_LINE // (1024 * 1024)} MB on stdout")
                raise TransportClosed(self._broken or "") from exc
            if not line:
                self._broken = await self._exit_reason()
                raise TransportClosed(self._broken)
            if not line.strip():
                continue
            try:
                value = loads(line)
                items = value if isinstance(value, list) and value else [value]  # a batch (2025-03-26)
                self._pending.extend(check_message(v) for v in items)
            except ValueError as exc:
                await self._break(f"wrote invalid JSON on stdout: {_snippet(line)}")
                raise TransportClosed(self._broken or "") from exc
            except TransportClosed as exc:
                await self._break(f"{exc}: {_snippet(line)}")
                raise TransportClosed(self._broken or "") from exc
        return self._pending.popleft()

    async def _break(self, reason: str) -> None:
        """The stream is unusable: remember why (also in the log) and stop the process."""
        self._broken = reason
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._log_fd, f"--- opi: the server {reason}\n".encode())
        await self.close()

    async def _exit_reason(self) -> str:
        proc = self._proc
        if proc is None:
            return "not started"
        try:
            code = await asyncio.wait_for(proc.wait(), timeout=1.0)
        except TimeoutError:
            return "closed its output but is still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with code {code}"

    async def close(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, sig)
                try:
                    await asyncio.wait_for(proc.wait(), timeout=_GRACE_S)
                    break
                except TimeoutError:
                    continue
        elif proc is not None:  # exited: the group may still hold its children
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_fd)
            self._log_fd = None
