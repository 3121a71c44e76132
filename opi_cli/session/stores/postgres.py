"""The PostgreSQL store (``--store postgresql://...``): the same entries in rows, via async psycopg 3.

Tables (numbered migrations recorded in ``opi_schema_migrations``): ``sessions`` (id, cwd,
header, created, updated, name) and ``entries`` (session_id, seq, entry_id, parent_id, type,
raw, payload). ``raw`` is the exact JSONL line, so every text round-trips (promise 7);
``payload`` is the same as ``jsonb`` for queries, left NULL for the rare line ``jsonb``
cannot hold (NUL or lone surrogates). Each append commits (durable at once); a writer holds
a session-level advisory lock on its own connection (promise 8). psycopg is imported lazily.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opi_cli._util.redact import mask_dsn
from opi_cli.errors import PersistenceError, SessionError
from opi_cli.session.conversations import ConversationMethods
from opi_cli.session.entries import (
    Entry,
    EntryError,
    SessionHeader,
    SessionInfoEntry,
    entry_to_line,
    header_to_line,
    parse_entry_line,
    parse_header_line,
)
from opi_cli.session.index import IndexBuilder, SessionIndex
from opi_cli.session.listing import SessionInfo, SummaryBuilder, parse_iso

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["MIGRATIONS", "PostgresHandle", "PostgresStore"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id text PRIMARY KEY,
        cwd text NOT NULL,
        header text NOT NULL,
        created timestamptz NOT NULL,
        updated timestamptz NOT NULL,
        name text
    );
    CREATE INDEX sessions_cwd_updated ON sessions (cwd, updated DESC);
    CREATE TABLE entries (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        entry_id text NOT NULL,
        parent_id text,
        type text NOT NULL,
        raw text NOT NULL,
        payload jsonb,
        PRIMARY KEY (session_id, seq)
    );
    CREATE INDEX entries_session_entry ON entries (session_id, entry_id);
    """,
)
"""Schema migrations; number n is ``MIGRATIONS[n - 1]``. Append, never edit."""

_MIGRATION_LOCK = 0x6F7069  # "opi"
_JSONB_UNSAFE = re.compile(rb"\\u0000|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _connect_error(exc: Exception, dsn: str) -> SessionError:
    # Never echo the DSN's password: libpq quotes a malformed connection string whole.
    text = f"cannot connect to the PostgreSQL session store: {type(exc).__name__}: {exc}".split("\n")[0]
    return SessionError(mask_dsn(text, dsn))


async def _connect(dsn: str) -> AsyncConnection[Any]:
    try:
        import psycopg
    except ImportError as exc:
        raise SessionError(
            "the PostgreSQL session store needs psycopg 3: pip install 'opi-agent[postgres]'"
        ) from exc
    try:
        return await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, application_name=f"opi-{os.getpid()}"
        )
    except psycopg.Error as exc:
        raise _connect_error(exc, dsn) from None  # the cause quotes the DSN: not even --debug shows it


async def migrate(conn: AsyncConnection[Any]) -> int:
    """Apply the migrations not yet recorded; returns the schema version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS opi_schema_migrations "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM opi_schema_migrations")
        applied = {row[0] for row in await cur.fetchall()}
        for number, sql in enumerate(MIGRATIONS, start=1):
            if number not in applied:
                await conn.execute(sql)
                await conn.execute("INSERT INTO opi_schema_migrations (version) VALUES (%s)", (number,))
    return len(MIGRATIONS)


def _text_column(text: str | None) -> str | None:
    """A value a ``text`` column accepts (no NUL, no lone surrogates); ``raw`` keeps the exact text."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _lock_key(session_id: str) -> str:
    return f"opi-session:{session_id}"


class PostgresHandle:
    """One session; a writable handle owns a connection holding the session's advisory lock."""

    def __init__(
        self, conn: AsyncConnection[Any], header: SessionHeader, writable: bool, next_seq: int
    ) -> None:
        self._conn = conn
        self._header = header
        self._writable = writable
        self._next_seq = next_seq
        self._closed = False

    @property
    def header(self) -> SessionHeader:
        return self._header

    @property
    def location(self) -> str:
        return f"postgresql:{self._header.id}"

    @property
    def path(self) -> None:
        return None

    @property
    def writable(self) -> bool:
        return self._writable and not self._closed

    async def _lines(self) -> AsyncIterator[tuple[int, bytes]]:
        cur = self._conn.cursor()
        async for seq, raw in cur.stream(
            "SELECT seq, raw FROM entries WHERE session_id = %s ORDER BY seq", (self._header.id,)
        ):
            yield int(seq), raw.encode("utf-8", "surrogatepass")

    async def scan(self, *, recent_only: bool = False) -> SessionIndex:
        # recent_only: always the whole index (rows are read by key, not by walking a file)
        builder = IndexBuilder(self._header)
        async for seq, line in self._lines():
            builder.feed(seq, line, seq + 2)
        return builder.finish()

    async def read(self, locators: Sequence[int], *, keep_shape: bool = True) -> list[Entry | EntryError]:
        cur = await self._conn.execute(
            "SELECT seq, raw FROM entries WHERE session_id = %s AND seq = ANY(%s)",
            (self._header.id, list(locators)),
        )
        rows = {int(seq): raw for seq, raw in await cur.fetchall()}
        return [
            parse_entry_line(rows[i], keep_shape=keep_shape) if i in rows else EntryError("not stored")
            for i in locators
        ]

    async def entries(self) -> AsyncIterator[Entry]:
        index = await self.scan()
        if index.migrated:
            for pos in sorted(index.cache):
                yield index.cache[pos]
            return
        async for _, line in self._lines():
            entry = parse_entry_line(line)
            if not isinstance(entry, EntryError):
                yield entry

    async def append(self, entry: Entry) -> int:
        if not self.writable:
            raise SessionError(f"session {self.location} is open read-only")
        import psycopg

        line = entry_to_line(entry)
        raw = line.decode("utf-8").rstrip("\n")
        payload = None if _JSONB_UNSAFE.search(line) else raw
        seq = self._next_seq
        name_sql = ", name = %s" if isinstance(entry, SessionInfoEntry) else ""
        params: tuple[object, ...] = (datetime.now(UTC), self._header.id)
        if isinstance(entry, SessionInfoEntry):
            params = (datetime.now(UTC), _text_column(entry.name), self._header.id)
        try:
            async with self._conn.transaction():
                await self._conn.execute(
                    "INSERT INTO entries (session_id, seq, entry_id, parent_id, type, raw, payload) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                    (self._header.id, seq, entry.id, entry.parent_id, entry.type, raw, payload),
                )
                await self._conn.execute(
                    f"UPDATE sessions SET updated = %s{name_sql} WHERE id = %s",
                    params,
                )
        except psycopg.Error as exc:
            raise PersistenceError(f"cannot store entry in PostgreSQL: {type(exc).__name__}") from exc
        self._next_seq = seq + 1
        return seq

    async def sync(self) -> None:
        return None  # every append commits

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._conn.close()  # ends the session, which releases the advisory lock


class PostgresStore(ConversationMethods):
    """Sessions in a PostgreSQL database (``opi --store DSN``).

    Connects (and migrates the schema) on first use; ``await PostgresStore.connect(dsn)``
    connects at once, so a bad DSN fails there. Needs psycopg 3
    (``pip install 'opi-agent[postgres]'``). Close it when done.

    Args:
        dsn: ``postgresql://user:password@host/db``.
        cwd: the folder recorded in new conversations (default: the current folder).
    """

    def __init__(self, dsn: str, *, cwd: str | Path | None = None) -> None:
        self._dsn = dsn
        self._main: AsyncConnection[Any] | None = None
        self.conversation_cwd = str(cwd) if cwd is not None else None

    @classmethod
    async def connect(cls, dsn: str, *, cwd: str | Path | None = None) -> PostgresStore:
        """Connect and bring the schema up to date now.

        Raises:
            SessionError: psycopg missing, or the server cannot be reached.
        """
        store = cls(dsn, cwd=cwd)
        await store._connection()
        return store

    async def _connection(self) -> AsyncConnection[Any]:
        if self._main is None:
            conn = await _connect(self._dsn)
            try:
                await migrate(conn)
            except BaseException:
                await conn.close()
                raise
            self._main = conn
        return self._main

    def __repr__(self) -> str:
        return "PostgresStore(<dsn hidden>)"

    async def _lock(self, conn: AsyncConnection[Any], session_id: str) -> None:
        cur = await conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (_lock_key(session_id),)
        )
        row = await cur.fetchone()
        if row is not None and row[0]:
            return
        cur = await conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0)",
            (_lock_key(session_id),),
        )
        holder = await cur.fetchone()
        pid = str(holder[0]).removeprefix("opi-") if holder else "unknown"
        await conn.close()
        raise SessionError(f"session is in use by another opi process (pid {pid}): postgresql:{session_id}")

    async def create(self, header: SessionHeader) -> PostgresHandle:
        await self._connection()  # the schema exists
        conn = await _connect(self._dsn)
        created = parse_iso(header.timestamp) or datetime.now(UTC)
        try:
            await conn.execute(
                "INSERT INTO sessions (id, cwd, header, created, updated) VALUES (%s, %s, %s, %s, %s)",
                (
                    header.id,
                    _text_column(header.cwd),
                    header_to_line(header).decode().rstrip("\n"),
                    created,
                    created,
                ),
            )
        except Exception as exc:
            await conn.close()
            raise SessionError(f"cannot create session {header.id}: {type(exc).__name__}") from exc
        await self._lock(conn, header.id)
        return PostgresHandle(conn, header, True, 0)

    async def _resolve(self, ref: str, cwd: str | None) -> tuple[str, SessionHeader]:
        ref = ref.removeprefix("postgresql:")
        for scope in [cwd, None] if cwd is not None else [None]:
            cur = await (await self._connection()).execute(
                "SELECT id, header FROM sessions WHERE left(id, length(%s)) = %s "
                "AND (%s::text IS NULL OR cwd = %s) ORDER BY (id = %s) DESC, updated DESC LIMIT 1",
                (ref, ref, scope, scope, ref),
            )
            row = await cur.fetchone()
            if row is not None:
                header = parse_header_line(row[1])
                if isinstance(header, EntryError):
                    raise SessionError(f"session {row[0]} has a corrupt header: {header.reason}")
                return str(row[0]), header
        raise SessionError(f"no session found matching {ref!r}")

    async def open(self, ref: str, *, cwd: str | None = None, writable: bool = True) -> PostgresHandle:
        session_id, header = await self._resolve(ref, cwd)
        conn = await _connect(self._dsn)
        if writable:
            await self._lock(conn, session_id)
        cur = await conn.execute(
            "SELECT coalesce(max(seq) + 1, 0) FROM entries WHERE session_id = %s", (session_id,)
        )
        row = await cur.fetchone()
        return PostgresHandle(conn, header, writable, int(row[0]) if row else 0)

    async def list_sessions(self, cwd: str | None = None) -> list[SessionInfo]:
        main = await self._connection()
        cur = await main.execute(
            "SELECT s.id, s.header, coalesce((SELECT sum(length(raw) + 1) FROM entries e WHERE e.session_id = s.id), 0) "
            "FROM sessions s WHERE %s::text IS NULL OR s.cwd = %s",
            (cwd, cwd),
        )
        out: list[SessionInfo] = []
        for session_id, header_text, size in await cur.fetchall():
            header = parse_header_line(header_text)
            if isinstance(header, EntryError):
                continue
            builder = SummaryBuilder(header, f"postgresql:{session_id}")
            lines = await main.execute(
                "SELECT raw FROM entries WHERE session_id = %s AND type IN ('message', 'session_info') ORDER BY seq",
                (session_id,),
            )
            builder.feed_lines(raw.encode("utf-8", "surrogatepass") for (raw,) in await lines.fetchall())
            out.append(builder.finish(size=int(size) + len(header_text) + 1))
        return sorted(out, key=lambda i: i.modified, reverse=True)

    async def delete(self, ref: str, *, cwd: str | None = None) -> None:
        session_id, _ = await self._resolve(ref, cwd)
        conn = await _connect(self._dsn)
        try:
            await self._lock(conn, session_id)
            await conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
        finally:
            await conn.close()

    async def close(self) -> None:
        if self._main is not None:
            await self._main.close()
            self._main = None
