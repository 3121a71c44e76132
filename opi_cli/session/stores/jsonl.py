"""The default store: one JSONL file per session under ``OPI_HOME/sessions/--<cwd>--/``.

Each entry is one ``os.write`` of one complete line on an ``O_APPEND`` descriptor; ``sync``
fsyncs. Files are 0600 in 0700 folders, named ``<ISO time>_<uuid>.jsonl`` as pi names them.
Loading streams the file once for a light index and later reads single lines by offset; a
resume reads it backwards and keeps only the current path's kept context
(:mod:`~opi_cli.session.recent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from opi_cli.errors import PersistenceError, SessionError
from opi_cli.session.conversations import ConversationMethods
from opi_cli.session.entries import (
    CURRENT_VERSION,
    Entry,
    EntryError,
    SessionHeader,
    entry_to_line,
    header_to_line,
    parse_entry_line,
)
from opi_cli.session.index import IndexBuilder, SessionIndex
from opi_cli.session.listing import SessionInfo, SummaryBuilder
from opi_cli.session.recent import RecentIndexBuilder
from opi_cli.session.store import looks_like_path
from opi_cli.session.stores.jsonl_file import (
    LockFile,
    iter_blocks_reverse,
    iter_lines,
    read_header,
    repair_tail,
)

__all__ = ["JsonlHandle", "JsonlStore", "default_sessions_root", "session_dir_name", "session_file_name"]

_SEP = re.compile(r"[/\\:]")


def session_dir_name(cwd: str) -> str:
    """``/home/u/project`` -> ``--home-u-project--`` (pi's folder naming)."""
    return "--" + _SEP.sub("-", re.sub(r"^[/\\]", "", cwd)) + "--"


def session_file_name(header: SessionHeader) -> str:
    """``<ISO time with : and . replaced by ->_<session id>.jsonl``."""
    return f"{header.timestamp.replace(':', '-').replace('.', '-')}_{header.id}.jsonl"


_OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def _store_error(message: str, exc: OSError) -> PersistenceError | SessionError:
    """A failure of the disk (a failed run, exit 1) or of the place chosen for sessions (exit 2)."""
    text = f"{message}: {exc.strerror or exc}"
    return PersistenceError(text) if exc.errno in _OUT_OF_SPACE else SessionError(text)


def _make_folder(folder: Path, owned_below: Path | None) -> None:
    """Create ``folder`` and its missing parents with mode 0700.

    Folders at or below ``owned_below`` (opi's own: ``OPI_HOME/sessions/...``) are also
    tightened to 0700 if they exist with a looser mode; any other existing folder (a
    ``--session-dir`` the user chose, ``OPI_HOME`` itself) is left as it is.

    Raises:
        SessionError: a file is in the way, or the folder cannot be created (read-only, no
            permission); PersistenceError: the disk is full.
    """
    if folder.is_file():
        raise SessionError(f"session folder {folder} is a file; choose a folder (--session-dir) or move the file")
    missing: list[Path] = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                path.mkdir(mode=0o700)
            os.chmod(path, 0o700)  # the umask may have taken bits off the owner
        if owned_below is not None:
            for path in (folder, *folder.parents):
                if path != owned_below and owned_below not in path.parents:
                    break
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o700)
    except OSError as exc:
        raise _store_error(f"cannot create session folder {folder}", exc) from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_durable(fd: int, folder: Path) -> None:
    """A new session file's header and its name in the folder, on disk."""
    os.fsync(fd)
    _fsync_dir(folder)


class JsonlHandle:
    """One session file; writable handles hold its lock until closed."""

    def __init__(self, path: Path, header: SessionHeader, header_len: int, lock: LockFile | None) -> None:
        self._path = path
        self._header = header
        self._header_len = header_len
        self._lock = lock
        self._fd: int | None = None
        self._tail_checked = False
        self._closed = False
        self._creation: asyncio.Future[None] | None = None
        """A new file's first fsyncs, running in a thread while the session starts (see ``create``)."""
        self.torn_bytes: bytes | None = None
        """What the tail check cut off before the first append (also saved in ``<file>.torn``)."""

    @property
    def header(self) -> SessionHeader:
        return self._header

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def writable(self) -> bool:
        return self._lock is not None and not self._closed and self._header.version == CURRENT_VERSION

    # -- reading -------------------------------------------------------------------------------

    def _scan_sync(self, recent_only: bool) -> SessionIndex:
        if recent_only and self._header.version == CURRENT_VERSION:
            recent = RecentIndexBuilder(self._header, self._path.stat().st_size)
            for offset, lines, unterminated in iter_blocks_reverse(self._path, self._header_len):
                recent.feed_block(offset, lines, unterminated=unterminated)
            index = recent.finish()
            if index is not None:
                return index
        builder = IndexBuilder(self._header)
        for n, (offset, line, last) in enumerate(iter_lines(self._path, self._header_len), start=2):
            builder.feed(offset, line, n, last=last)
        return builder.finish()

    async def scan(self, *, recent_only: bool = False) -> SessionIndex:
        return await asyncio.to_thread(self._scan_sync, recent_only)

    def _read_sync(self, locators: Sequence[int], keep_shape: bool = True) -> list[Entry | EntryError]:
        out: list[Entry | EntryError] = [EntryError("not stored")] * len(locators)
        at = -1
        with self._path.open("rb") as f:
            # In file order, seeking only over gaps: a long kept context is one sequential read.
            for i in sorted(range(len(locators)), key=locators.__getitem__):
                offset = locators[i]
                if offset < 0:
                    continue
                if offset != at:
                    f.seek(offset)
                line = f.readline()
                at = offset + len(line)
                out[i] = parse_entry_line(line, keep_shape=keep_shape)
        return out

    async def read(self, locators: Sequence[int], *, keep_shape: bool = True) -> list[Entry | EntryError]:
        if len(locators) <= 4:
            return self._read_sync(locators, keep_shape)
        return await asyncio.to_thread(self._read_sync, locators, keep_shape)

    async def entries(self) -> AsyncIterator[Entry]:
        index = await self.scan()
        if index.migrated:
            for pos in range(len(index.tree)):
                if pos in index.cache:
                    yield index.cache[pos]
            return
        for start in range(0, len(index.locators), 256):
            for entry in await self.read(index.locators[start : start + 256]):
                if not isinstance(entry, EntryError):
                    yield entry

    # -- writing -------------------------------------------------------------------------------

    def _open_for_append(self) -> int:
        if self._fd is None:
            if not self.writable:
                raise SessionError(f"session file {self._path} is open read-only")
            self._fd = os.open(self._path, os.O_RDWR | os.O_APPEND)
        if not self._tail_checked:
            self.torn_bytes = repair_tail(self._fd, self._path)
            self._tail_checked = True
        return self._fd

    def write_line(self, line: bytes) -> None:
        """Append one complete line with one ``write``; a short write is finished.

        If the line cannot be completed (a full disk), what was written of it is cut off
        again, so the file still ends with the last whole entry; should even that fail, the
        next append repairs the tail (promise 4).
        """
        try:
            fd = self._open_for_append()
        except OSError as exc:
            raise PersistenceError(f"cannot write session file {self._path}: {exc.strerror or exc}") from exc
        start = os.lseek(fd, 0, os.SEEK_END)
        written = 0
        try:
            while written < len(line):
                written += os.write(fd, line[written:])
        except OSError as exc:
            self._cut_back(fd, start, written)
            raise PersistenceError(f"cannot write session file {self._path}: {exc.strerror or exc}") from exc

    def _cut_back(self, fd: int, start: int, written: int) -> None:
        if written == 0:
            return
        try:
            os.ftruncate(fd, start)
        except OSError:
            self._tail_checked = False

    async def append(self, entry: Entry) -> int:
        line = entry_to_line(entry)
        self.write_line(line)
        assert self._fd is not None
        return os.lseek(self._fd, 0, os.SEEK_END) - len(line)

    async def sync(self) -> None:
        if self._fd is None:
            return
        try:
            if self._creation is not None:
                creation, self._creation = self._creation, None
                await creation
            await asyncio.to_thread(os.fsync, self._fd)
        except OSError as exc:
            raise PersistenceError(f"cannot sync session file {self._path}: {exc.strerror or exc}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self.sync()
        finally:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._lock is not None:
                self._lock.release()


def default_sessions_root(env: Mapping[str, str]) -> Path:
    """``$OPI_HOME/sessions``, else ``~/.opi/sessions`` (where the ``opi`` command looks)."""
    home = env.get("OPI_HOME") or str(Path(env.get("HOME") or Path.home()) / ".opi")
    return Path(home).expanduser() / "sessions"


class JsonlStore(ConversationMethods):
    """Session files under ``root``, in a folder per working directory, or all in ``session_dir``.

    Args:
        root: the sessions folder. Default: ``$OPI_HOME/sessions`` (``~/.opi/sessions``), where
            the ``opi`` command looks, so ``opi resume <id>`` finds what a library saved.
        session_dir: keep every session in this one folder instead (``--session-dir``).
        env: the environment mapping read for the default root (``os.environ`` when None).
        cwd: the folder recorded in new conversations (default: the current folder).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        session_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_sessions_root(os.environ if env is None else env)
        self.session_dir = Path(session_dir) if session_dir is not None else None
        self.conversation_cwd = str(cwd) if cwd is not None else None

    def dir_for(self, cwd: str) -> Path:
        """The folder of ``cwd``'s sessions."""
        return self.session_dir if self.session_dir is not None else self.root / session_dir_name(cwd)

    async def create(self, header: SessionHeader) -> JsonlHandle:
        folder = self.dir_for(header.cwd)
        _make_folder(folder, None if self.session_dir is not None else self.root)
        path = folder / session_file_name(header)
        line = header_to_line(header)
        lock = LockFile(path)
        lock.acquire()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            try:
                written = 0
                while written < len(line):  # a short write means the disk filled up: finish or fail
                    written += os.write(fd, line[written:])
            except OSError:
                os.close(fd)
                raise
        except FileExistsError as exc:
            lock.release()
            raise SessionError(f"session file {path} already exists") from exc
        except OSError as exc:
            lock.release()
            with contextlib.suppress(OSError):
                path.unlink()  # a header that could not be written whole is no session
            raise _store_error(f"cannot create session file {path}", exc) from exc
        handle = JsonlHandle(path, header, len(line), lock)
        handle._fd = fd
        handle._tail_checked = True
        # The header is written; making it durable (file, then folder) takes milliseconds the
        # first request need not wait for. It runs in a thread now and every sync (each
        # compaction, the close) waits for it first, as it waits for the entries appended since.
        handle._creation = asyncio.get_running_loop().run_in_executor(None, _make_durable, fd, folder)
        return handle

    def _candidates(self, cwd: str | None) -> list[Path]:
        if self.session_dir is not None:
            if not self.session_dir.is_dir():
                raise SessionError(f"no session folder at {self.session_dir} (--session-dir)")
            folders = [self.session_dir]
        elif cwd is not None:
            folders = [self.dir_for(cwd)]
        else:
            folders = [p for p in self.root.iterdir() if p.is_dir()] if self.root.is_dir() else []
        files: list[Path] = []
        for folder in folders:
            if folder.is_dir():
                files.extend(p for p in folder.iterdir() if p.suffix == ".jsonl" and p.is_file())
        return files

    def resolve(self, ref: str, *, cwd: str | None = None) -> Path:
        """A path, or the newest session whose id starts with ``ref`` (``cwd`` first, then all).

        Raises:
            SessionError: no match.
        """
        if looks_like_path(ref):
            path = Path(ref).expanduser()
            if not path.is_file():
                raise SessionError(f"no session file at {path}")
            return path
        scopes: list[str | None] = [cwd, None] if cwd is not None and self.session_dir is None else [None]
        for scope in scopes:
            matches: list[tuple[float, Path]] = []
            for path in self._candidates(scope):
                sid = path.stem.split("_", 1)[-1]
                if sid.startswith(ref):
                    matches.append((path.stat().st_mtime, path))
            if matches:
                return max(matches)[1]
        raise SessionError(f"no session found matching {ref!r}")

    async def open(self, ref: str, *, cwd: str | None = None, writable: bool = True) -> JsonlHandle:
        path = self.resolve(ref, cwd=cwd)
        header, header_len = read_header(path)
        lock: LockFile | None = None
        if writable:
            lock = LockFile(path)
            lock.acquire()
        return JsonlHandle(path, header, header_len, lock)

    def _summarise(self, path: Path) -> SessionInfo | None:
        try:
            header, header_len = read_header(path)
            stat = path.stat()
            builder = SummaryBuilder(header, str(path))
            builder.feed_lines(line for _, line, _ in iter_lines(path, header_len))
        except (SessionError, OSError):
            return None
        return builder.finish(size=stat.st_size, mtime=stat.st_mtime)

    def _list_sync(self, cwd: str | None) -> list[SessionInfo]:
        infos = [info for p in self._candidates(cwd) if (info := self._summarise(p)) is not None]
        return sorted(infos, key=lambda i: i.modified, reverse=True)

    async def list_sessions(self, cwd: str | None = None) -> list[SessionInfo]:
        return await asyncio.to_thread(self._list_sync, cwd)

    async def delete(self, ref: str, *, cwd: str | None = None) -> None:
        path = self.resolve(ref, cwd=cwd)
        lock = LockFile(path)
        lock.acquire()
        try:
            path.unlink()
        finally:
            lock.release()

    async def close(self) -> None:
        return None
