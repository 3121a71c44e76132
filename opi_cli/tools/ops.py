"""The seams through which tools touch the disk and start processes, with local implementations.

Tools never call ``open``/``os``/``subprocess`` themselves: they take a :class:`FileOps` and a
:class:`ShellOps`, so tests can hand them temporary directories or in-memory fakes. Blocking
file work runs in a thread (``asyncio.to_thread``); processes are asyncio subprocesses started
in their own session, so killing the process group reaches every child.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal as _signal
import stat as _stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "DirEntry",
    "FileOps",
    "LocalFileOps",
    "LocalShellOps",
    "PathKind",
    "ShellOps",
    "ShellProcess",
    "TempFile",
]

PathKind = Literal["file", "dir", "other"]


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One directory entry: ``kind`` follows symlinks, ``is_symlink`` says whether it is one."""

    name: str
    kind: PathKind
    is_symlink: bool = False


class TempFile(Protocol):
    """A private (0600) file that output is appended to."""

    @property
    def path(self) -> str: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class FileOps(Protocol):
    """Every file-system access the tools make."""

    async def read_bytes(self, path: str) -> bytes:
        """The whole file; raises ``OSError`` (``FileNotFoundError``, ...) on failure."""
        ...

    async def write_bytes(self, path: str, data: bytes) -> None:
        """Create or overwrite ``path``, creating missing parent folders."""
        ...

    async def kind(self, path: str) -> PathKind | None:
        """What ``path`` is (following symlinks), or ``None`` if it does not exist."""
        ...

    async def list_dir(self, path: str) -> list[DirEntry]:
        """The entries of a directory, unsorted; raises ``OSError`` on failure."""
        ...

    async def temp_file(self, prefix: str, suffix: str) -> TempFile:
        """A new private temporary file."""
        ...


class ShellProcess(Protocol):
    """A running child process whose stdout and stderr arrive merged through ``read``."""

    @property
    def pid(self) -> int: ...

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of output; ``b""`` at end of output."""
        ...

    async def wait(self) -> int:
        """The exit code (negative signal number when killed)."""
        ...

    def kill_group(self) -> None:
        """SIGKILL the whole process group; harmless if it is already gone."""
        ...

    def close(self) -> None:
        """Release the pipes once done with the process (kills nothing that has exited)."""
        ...


class ShellOps(Protocol):
    """Every process the tools start."""

    def which(self, name: str) -> str | None:
        """The full path of an executable on PATH, or ``None``."""
        ...

    async def spawn_shell(self, command: str, cwd: str) -> ShellProcess:
        """Run ``command`` with the shell in ``cwd``, stdin closed, own process group."""
        ...

    async def spawn(self, argv: Sequence[str], cwd: str) -> ShellProcess:
        """Run a program directly (no shell), same conditions as :meth:`spawn_shell`."""
        ...


# ---------------------------------------------------------------------------------------------
# Local implementations


def _kind_of(mode: int) -> PathKind:
    if _stat.S_ISDIR(mode):
        return "dir"
    if _stat.S_ISREG(mode):
        return "file"
    return "other"


def _write_file(path: str, data: bytes) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _kind(path: str) -> PathKind | None:
    try:
        return _kind_of(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _list_dir(path: str) -> list[DirEntry]:
    entries: list[DirEntry] = []
    with os.scandir(path) as it:
        for e in it:
            link = e.is_symlink()
            try:
                kind = _kind_of(e.stat(follow_symlinks=True).st_mode)
            except OSError:
                kind = "other"
            entries.append(DirEntry(e.name, kind, link))
    return entries


class _LocalTempFile:
    def __init__(self, path: str, fd: int) -> None:
        self._path = path
        self._fd = fd

    @property
    def path(self) -> str:
        return self._path

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(_write_all, self._fd, data)

    async def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class LocalFileOps:
    """:class:`FileOps` on the real file system.

    Args:
        temp_dir: where temporary files go (default: the system temporary folder).
    """

    def __init__(self, temp_dir: str | None = None) -> None:
        self._temp_dir = temp_dir

    async def read_bytes(self, path: str) -> bytes:
        return await asyncio.to_thread(_read_file, path)

    async def write_bytes(self, path: str, data: bytes) -> None:
        await asyncio.to_thread(_write_file, path, data)

    async def kind(self, path: str) -> PathKind | None:
        return await asyncio.to_thread(_kind, path)

    async def list_dir(self, path: str) -> list[DirEntry]:
        return await asyncio.to_thread(_list_dir, path)

    async def temp_file(self, prefix: str, suffix: str) -> TempFile:
        folder = self._temp_dir or tempfile.gettempdir()
        path = os.path.join(folder, f"{prefix}{secrets.token_hex(8)}{suffix}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return _LocalTempFile(path, fd)


class _PipeProtocol(asyncio.SubprocessProtocol):
    """Collects merged output and notices the exit apart from the pipe closing.

    ``asyncio.subprocess.Process.wait`` also waits for the pipes to close, which a background
    child that inherited stdout can delay forever; ``process_exited`` does not.
    """

    _HIGH_WATER = 1 << 20

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.readable = asyncio.Event()
        self.exited = asyncio.Event()
        self.transport: asyncio.SubprocessTransport | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self.transport = transport

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        self.buffer += data
        self.readable.set()
        if len(self.buffer) > self._HIGH_WATER and not self._paused:
            self._pause(True)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.eof = True
            self.readable.set()

    def process_exited(self) -> None:
        self.exited.set()

    def _pause(self, pause: bool) -> None:
        pipe = self.transport.get_pipe_transport(1) if self.transport else None
        if isinstance(pipe, asyncio.ReadTransport) and not pipe.is_closing():
            (pipe.pause_reading if pause else pipe.resume_reading)()
            self._paused = pause

    def take(self, n: int) -> bytes:
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        if self._paused and len(self.buffer) <= self._HIGH_WATER // 2:
            self._pause(False)
        return data


class _LocalProcess:
    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _PipeProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    @property
    def pid(self) -> int:
        return self._transport.get_pid()

    async def read(self, n: int) -> bytes:
        proto = self._protocol
        while not proto.buffer and not proto.eof:
            proto.readable.clear()
            await proto.readable.wait()
        return proto.take(n)

    async def wait(self) -> int:
        await self._protocol.exited.wait()
        code = self._transport.get_returncode()
        assert code is not None
        return code

    def kill_group(self) -> None:
        try:
            os.killpg(self.pid, _signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        self._transport.close()


class LocalShellOps:
    """:class:`ShellOps` that starts real processes.

    Args:
        env: the environment of child processes (default: inherit this process's).
        shell: the shell program (default: ``/bin/bash``, else ``bash`` on PATH, else ``sh``).
    """

    def __init__(self, env: Mapping[str, str] | None = None, shell: str | None = None) -> None:
        self._env = dict(env) if env is not None else None
        self._shell = shell

    def which(self, name: str) -> str | None:
        path = self._env.get("PATH") if self._env is not None else None
        return shutil.which(name, path=path)

    def _shell_path(self) -> str:
        if self._shell:
            return self._shell
        if os.path.exists("/bin/bash"):
            return "/bin/bash"
        return self.which("bash") or self.which("sh") or "/bin/sh"

    async def spawn_shell(self, command: str, cwd: str) -> ShellProcess:
        return await self.spawn([self._shell_path(), "-c", command], cwd)

    async def spawn(self, argv: Sequence[str], cwd: str) -> ShellProcess:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            _PipeProtocol,
            *argv,
            cwd=cwd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return _LocalProcess(transport, protocol)
