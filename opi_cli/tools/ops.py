"""The seams through which tools touch the disk and start processes, with local implementations.

Tools never call ``open``/``os``/``subprocess`` themselves: they take a :class:`FileOps` and a
:class:`ShellOps`, so tests can hand them temporary directories or in-memory fakes. Blocking
file work runs in a thread (``asyncio.to_thread``); processes are asyncio subprocesses started
in their own session, so killing the process group reaches every child.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import shutil
import signal as _signal
import stat as _stat
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from opi_cli._util.atomic import replace_file
from opi_cli._util.records import record
from opi_cli.tools.atomic import private_temp_dir

__all__ = [
    "DirEntry",
    "FileOps",
    "FileStat",
    "LocalFileOps",
    "LocalShellOps",
    "NotRegularFileError",
    "PathKind",
    "ShellOps",
    "ShellProcess",
    "TempFile",
]

PathKind = Literal["file", "dir", "other"]


@record
class DirEntry:
    """One directory entry: ``kind`` follows symlinks, ``is_symlink`` says whether it is one."""

    name: str
    kind: PathKind
    is_symlink: bool = False


@record
class FileStat:
    """What a path is (following symlinks): its kind, size and modification time.

    ``special`` names what an ``"other"`` path is: ``"FIFO (named pipe)"``, ``"socket"``,
    ``"character device"`` or ``"block device"``.
    """

    kind: PathKind
    size: int
    mtime_ns: int
    special: str | None = None


class NotRegularFileError(OSError):
    """Reading a FIFO, socket or device was refused (it could block forever or never end)."""

    def __init__(self, path: str, special: str) -> None:
        super().__init__(errno.EINVAL, f"it is a {special}, not a regular file", path)
        self.special = special


class TempFile(Protocol):
    """A private (0600) file that output is appended to."""

    @property
    def path(self) -> str: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class FileOps(Protocol):
    """Every file-system access the tools make."""

    async def read_bytes(self, path: str) -> bytes:
        """The whole of a regular file.

        Raises:
            NotRegularFileError: ``path`` is a FIFO, socket or device.
            OSError: any other failure (``FileNotFoundError``, ...).
        """
        ...

    async def read_chunks(self, path: str, feed: Callable[[bytes], bool]) -> None:
        """Pass a regular file's bytes to ``feed``, in order, until it returns False or the file ends.

        Memory stays bounded by the chunk size whatever the file's size. ``feed`` may run in a
        worker thread, so it must not touch the event loop. Raises as :meth:`read_bytes`.
        """
        ...

    async def write_bytes(self, path: str, data: bytes) -> None:
        """Create or replace ``path`` atomically, creating missing parent folders.

        The new content goes to a temporary file in the same folder, is flushed to disk and
        renamed over the old file, so a failure (a full disk) leaves the old file whole. An
        existing file keeps its mode and owner; a symlink keeps pointing at the file it names.
        """
        ...

    async def kind(self, path: str) -> PathKind | None:
        """What ``path`` is (following symlinks), or ``None`` if it does not exist."""
        ...

    async def stat(self, path: str) -> FileStat | None:
        """Kind, size and mtime of ``path`` (following symlinks), or ``None`` if it does not exist."""
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


_SPECIAL = (
    (_stat.S_ISFIFO, "FIFO (named pipe)"),
    (_stat.S_ISSOCK, "socket"),
    (_stat.S_ISCHR, "character device"),
    (_stat.S_ISBLK, "block device"),
)
_CHUNK = 1 << 16


def _special(mode: int) -> str | None:
    return next((name for test, name in _SPECIAL if test(mode)), None)


def _open_regular(path: str) -> int:
    """A read descriptor on a regular file; FIFOs, sockets and devices are refused, never waited on.

    The path is checked before opening (opening some devices has effects of its own) and the
    descriptor after (the path may have been swapped in between).
    """
    special = _special(os.stat(path).st_mode)
    if special is not None:
        raise NotRegularFileError(path, special)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO opens at once
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket
            raise NotRegularFileError(path, "socket") from exc
        raise
    mode = os.fstat(fd).st_mode
    if not _stat.S_ISREG(mode):
        os.close(fd)
        if _stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        raise NotRegularFileError(path, _special(mode) or "special file")
    return fd


def _read_file(path: str) -> bytes:
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _read_chunks(path: str, feed: Callable[[bytes], bool]) -> None:
    fd = _open_regular(path)
    try:
        while chunk := os.read(fd, _CHUNK):
            if not feed(chunk):
                return
    finally:
        os.close(fd)


def _stat_path(path: str) -> FileStat | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    kind = _kind_of(st.st_mode)
    return FileStat(kind, st.st_size, st.st_mtime_ns, _special(st.st_mode) if kind == "other" else None)


def _kind(path: str) -> PathKind | None:
    found = _stat_path(path)
    return None if found is None else found.kind


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
        temp_dir: where temporary files go (default: a private 0700 folder ``opi-<uid>`` in
            the system temporary folder, made on first use).
    """

    def __init__(self, temp_dir: str | None = None) -> None:
        self._temp_dir = temp_dir

    async def read_bytes(self, path: str) -> bytes:
        return await asyncio.to_thread(_read_file, path)

    async def read_chunks(self, path: str, feed: Callable[[bytes], bool]) -> None:
        await asyncio.to_thread(_read_chunks, path, feed)

    async def write_bytes(self, path: str, data: bytes) -> None:
        await asyncio.to_thread(replace_file, path, data)

    async def kind(self, path: str) -> PathKind | None:
        return await asyncio.to_thread(_kind, path)

    async def stat(self, path: str) -> FileStat | None:
        return await asyncio.to_thread(_stat_path, path)

    async def list_dir(self, path: str) -> list[DirEntry]:
        return await asyncio.to_thread(_list_dir, path)

    async def temp_file(self, prefix: str, suffix: str) -> TempFile:
        if self._temp_dir is None:
            self._temp_dir = private_temp_dir()
        folder = self._temp_dir
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
