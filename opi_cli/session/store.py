"""The storage plug point: the ``SessionStore`` and ``SessionHandle`` protocols every store implements.

A store creates, opens, lists and deletes sessions; a handle is one open session. Handles
work in stored lines: ``scan`` builds the light index in one streaming pass, ``read`` parses
only the entries asked for, ``append`` stores one entry as one complete record, ``sync``
makes everything appended so far durable. :class:`~opi_cli.session.writer.SessionWriter`
adds ids, the current position and context building on top, the same for every store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from opi_cli.session.entries import Entry, EntryError, SessionHeader
from opi_cli.session.index import SessionIndex
from opi_cli.session.listing import SessionInfo

__all__ = ["SessionHandle", "SessionStore", "looks_like_path"]


def looks_like_path(ref: str) -> bool:
    """``opi resume REF``: a path if it contains a slash or ends in ``.jsonl``, else an id prefix."""
    return "/" in ref or "\\" in ref or ref.endswith(".jsonl")


@runtime_checkable
class SessionHandle(Protocol):
    """One open session of a store."""

    @property
    def header(self) -> SessionHeader: ...

    @property
    def location(self) -> str:
        """A file path, or ``postgresql:<id>`` / ``memory:<id>``."""
        ...

    @property
    def path(self) -> Path | None:
        """The session file, for file-based stores."""
        ...

    @property
    def writable(self) -> bool:
        """False when opened read-only (or for a migrated pi file, which is forked instead)."""
        ...

    async def scan(self, *, recent_only: bool = False) -> SessionIndex:
        """Stream every stored entry once and return the light index (nothing materialised).

        ``recent_only``: the store may return a partial index (``index.partial``) holding only
        the current path's kept context, which is what a resume needs.
        """
        ...

    async def read(self, locators: Sequence[int], *, keep_shape: bool = True) -> list[Entry | EntryError]:
        """Parse the entries at these locators (from the index), in the order given.

        ``keep_shape=False``: the caller will not write the entries back (see ``parse_entry``).
        """
        ...

    def entries(self) -> AsyncIterator[Entry]:
        """Every readable entry in stored order, migrated to v3; damaged lines are skipped."""
        ...

    async def append(self, entry: Entry) -> int:
        """Store one entry as one complete record; returns its locator.

        Raises:
            PersistenceError: the store could not write it.
            SessionError: the handle is read-only.
        """
        ...

    async def sync(self) -> None:
        """Make everything appended so far durable (fsync / commit)."""
        ...

    async def close(self) -> None:
        """Sync, release the writer's lock and free resources; idempotent."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Where sessions live: JSONL files (default), memory, or PostgreSQL."""

    async def create(self, header: SessionHeader) -> SessionHandle:
        """Store a new session; the header is durable when this returns (promise 1)."""
        ...

    async def open(self, ref: str, *, cwd: str | None = None, writable: bool = True) -> SessionHandle:
        """Open by path, id or id prefix (``cwd``'s sessions first, then all).

        A writable open takes the session's lock (promise 8).

        Raises:
            SessionError: no match, a corrupt header, or locked by another process.
        """
        ...

    async def list_sessions(self, cwd: str | None = None) -> list[SessionInfo]:
        """Sessions of ``cwd`` (all when ``None``), newest-modified first."""
        ...

    async def delete(self, ref: str, *, cwd: str | None = None) -> None:
        """Remove a session (path, id or id prefix)."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent."""
        ...
