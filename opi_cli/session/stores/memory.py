"""An in-process store (``--no-session`` and tests) that keeps each entry as its serialised line.

Keeping the bytes, not the objects, makes it behave like the file store: entries round-trip
through JSON and a second writable open of the same session is refused.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path

from opi_cli._util.records import record
from opi_cli.errors import SessionError
from opi_cli.session.conversations import ConversationMethods
from opi_cli.session.entries import (
    Entry,
    EntryError,
    SessionHeader,
    entry_to_line,
    header_to_line,
    parse_entry_line,
    parse_header_line,
)
from opi_cli.session.index import IndexBuilder, SessionIndex
from opi_cli.session.listing import SessionInfo, SummaryBuilder, parse_iso

__all__ = ["MemoryHandle", "MemoryStore"]


@record(frozen=False)
class _Stored:
    header: SessionHeader
    lines: list[bytes] = field(default_factory=list)
    locked: bool = False


class MemoryHandle:
    """One session of a :class:`MemoryStore`."""

    def __init__(self, stored: _Stored, writable: bool) -> None:
        self._stored = stored
        self._writable = writable
        self._closed = False

    @property
    def header(self) -> SessionHeader:
        return self._stored.header

    @property
    def location(self) -> str:
        return f"memory:{self._stored.header.id}"

    @property
    def path(self) -> None:
        return None

    @property
    def writable(self) -> bool:
        return self._writable and not self._closed

    async def scan(self, *, recent_only: bool = False) -> SessionIndex:
        # recent_only: always the whole index (rows are read by key, not by walking a file)
        builder = IndexBuilder(self._stored.header)
        lines = self._stored.lines
        for n, line in enumerate(lines):
            builder.feed(n, line, n + 2, last=n == len(lines) - 1)
        return builder.finish()

    async def read(self, locators: Sequence[int], *, keep_shape: bool = True) -> list[Entry | EntryError]:
        lines = self._stored.lines
        return [
            parse_entry_line(lines[i], keep_shape=keep_shape) if 0 <= i < len(lines) else EntryError("not stored")
            for i in locators
        ]

    async def entries(self) -> AsyncIterator[Entry]:
        index = await self.scan()
        if index.migrated:
            for pos in sorted(index.cache):
                yield index.cache[pos]
            return
        for entry in await self.read(index.locators):
            if not isinstance(entry, EntryError):
                yield entry

    async def append(self, entry: Entry) -> int:
        if not self.writable:
            raise SessionError(f"session {self.location} is open read-only")
        self._stored.lines.append(entry_to_line(entry))
        return len(self._stored.lines) - 1

    async def sync(self) -> None:
        return None

    async def close(self) -> None:
        if not self._closed and self._writable:
            self._stored.locked = False
        self._closed = True


class MemoryStore(ConversationMethods):
    """Sessions held in this process only (``--no-session``, tests, short-lived agents).

    Args:
        cwd: the folder recorded in new conversations (default: the current folder).
    """

    def __init__(self, *, cwd: str | Path | None = None) -> None:
        self._sessions: dict[str, _Stored] = {}
        self.conversation_cwd = str(cwd) if cwd is not None else None

    def _lock(self, stored: _Stored) -> None:
        if stored.locked:
            raise SessionError(
                f"session is in use by another opi process (pid {os.getpid()}): memory:{stored.header.id}"
            )
        stored.locked = True

    async def create(self, header: SessionHeader) -> MemoryHandle:
        if header.id in self._sessions:
            raise SessionError(f"session {header.id} already exists")
        stored = _Stored(header)
        self._sessions[header.id] = stored
        self._lock(stored)
        return MemoryHandle(stored, True)

    def load_lines(self, data: bytes) -> str:
        """Add a session from the bytes of a JSONL file (header first); returns its id (for tests)."""
        first, _, rest = data.partition(b"\n")
        header = parse_header_line(first)
        if isinstance(header, EntryError):
            raise SessionError(f"corrupt session header: {header.reason}")
        lines = rest.splitlines(keepends=True)
        self._sessions[header.id] = _Stored(header, lines)
        return header.id

    def _find(self, ref: str, cwd: str | None) -> _Stored:
        ref = ref.removeprefix("memory:")
        if ref in self._sessions:
            return self._sessions[ref]
        for scope in [cwd, None] if cwd is not None else [None]:
            found = [
                s
                for s in self._sessions.values()
                if s.header.id.startswith(ref) and scope in (None, s.header.cwd)
            ]
            if found:
                return max(found, key=lambda s: s.header.timestamp)
        raise SessionError(f"no session found matching {ref!r}")

    async def open(self, ref: str, *, cwd: str | None = None, writable: bool = True) -> MemoryHandle:
        stored = self._find(ref, cwd)
        if writable:
            self._lock(stored)
        return MemoryHandle(stored, writable)

    async def list_sessions(self, cwd: str | None = None) -> list[SessionInfo]:
        out: list[SessionInfo] = []
        for s in self._sessions.values():
            if cwd is not None and s.header.cwd != cwd:
                continue
            builder = SummaryBuilder(s.header, f"memory:{s.header.id}")
            builder.feed_lines(s.lines)
            created = parse_iso(s.header.timestamp) or datetime.now(UTC)
            size = len(header_to_line(s.header)) + sum(len(line) for line in s.lines)
            out.append(builder.finish(size=size, mtime=created.timestamp()))
        return sorted(out, key=lambda i: i.modified, reverse=True)

    async def delete(self, ref: str, *, cwd: str | None = None) -> None:
        stored = self._find(ref, cwd)
        if stored.locked:
            raise SessionError(f"session {stored.header.id} is open")
        del self._sessions[stored.header.id]

    async def close(self) -> None:
        return None
