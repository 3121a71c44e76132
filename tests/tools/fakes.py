"""In-memory FileOps and a scripted ShellOps for tests of the tool seams."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable, Sequence

from opi_cli.tools.ops import DirEntry, FileStat, PathKind, ShellProcess, TempFile


class MemoryTempFile:
    def __init__(self, fs: MemoryFileOps, path: str) -> None:
        self._fs = fs
        self._path = path
        fs.files[path] = b""

    @property
    def path(self) -> str:
        return self._path

    async def write(self, data: bytes) -> None:
        self._fs.files[self._path] += data

    async def close(self) -> None:
        self._fs.closed.append(self._path)


class MemoryFileOps:
    """Files as a dict of absolute path -> bytes; folders are implied by the paths (plus ``dirs``)."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.dirs: set[str] = {"/"}
        self.closed: list[str] = []
        self.writes: list[str] = []
        self.mtimes: dict[str, int] = {}
        self._clock = 0

    def _is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path in self.dirs or any(f.startswith(prefix) for f in self.files)

    async def read_bytes(self, path: str) -> bytes:
        if path not in self.files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return self.files[path]

    async def read_chunks(self, path: str, feed: Callable[[bytes], bool]) -> None:
        data = await self.read_bytes(path)
        for i in range(0, len(data), 4096):
            if not feed(data[i : i + 4096]):
                return

    async def write_bytes(self, path: str, data: bytes) -> None:
        self.writes.append(path)
        self.files[path] = data
        self._clock += 1
        self.mtimes[path] = self._clock

    async def stat(self, path: str) -> FileStat | None:
        kind = await self.kind(path)
        if kind is None:
            return None
        return FileStat(kind, len(self.files.get(path, b"")), self.mtimes.get(path, 0))

    async def kind(self, path: str) -> PathKind | None:
        if path in self.files:
            return "file"
        return "dir" if self._is_dir(path) else None

    async def list_dir(self, path: str) -> list[DirEntry]:
        if not self._is_dir(path):
            raise NotADirectoryError(20, "Not a directory", path)
        prefix = path.rstrip("/") + "/"
        names: dict[str, PathKind] = {}
        for f in list(self.files) + list(self.dirs):
            if f.startswith(prefix) and f != prefix:
                head, _, rest = f[len(prefix) :].partition("/")
                names[head] = "dir" if rest or f in self.dirs else "file"
        return [DirEntry(n, k) for n, k in names.items()]

    async def temp_file(self, prefix: str, suffix: str) -> TempFile:
        return MemoryTempFile(self, posixpath.join("/tmp", f"{prefix}{len(self.files)}{suffix}"))


class ScriptedProcess:
    def __init__(self, output: bytes, code: int) -> None:
        self._chunks = [output[i : i + 7] for i in range(0, len(output), 7)]
        self._code = code
        self.killed = False

    @property
    def pid(self) -> int:
        return 424242

    async def read(self, n: int) -> bytes:
        await asyncio.sleep(0)
        return b"" if self.killed or not self._chunks else self._chunks.pop(0)

    async def wait(self) -> int:
        return -9 if self.killed else self._code

    def kill_group(self) -> None:
        self.killed = True

    def close(self) -> None:
        pass


class ScriptedShellOps:
    """Pretends the named binaries exist and answers each spawn with canned output."""

    def __init__(self, binaries: dict[str, str], output: bytes, code: int = 0) -> None:
        self.binaries = binaries
        self.output = output
        self.code = code
        self.argvs: list[list[str]] = []

    def which(self, name: str) -> str | None:
        return self.binaries.get(name)

    async def spawn_shell(self, command: str, cwd: str) -> ShellProcess:
        return await self.spawn(["sh", "-c", command], cwd)

    async def spawn(self, argv: Sequence[str], cwd: str) -> ShellProcess:
        self.argvs.append(list(argv))
        return ScriptedProcess(self.output, self.code)
