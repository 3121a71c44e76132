"""The seed's persistence API (``PersistenceStore``) on top of opi's session stores.

A conversation saved here is an ordinary opi session (JSONL file, PostgreSQL rows or
memory), so ``opi resume <id>`` continues it and a CLI session loads by its id. Saving
appends only what is new: the stored path is compared with the agent's messages, the
common prefix is kept, and if the agent's history diverged the session branches at the
last shared message (the old branch stays in the tree, as ``/tree`` would leave it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from opi_cli._util.ids import new_session_id
from opi_cli._util.jsonio import dumps
from opi_cli.agent.messages import AgentMessage, agent_message_to_json
from opi_cli.ai.tokens import estimate_tokens
from opi_cli.ai.types import AssistantMessage, TextContent, ThinkingContent, ToolCall
from opi_cli.errors import AgentError, SessionError
from opi_cli.session.store import SessionStore, looks_like_path
from opi_cli.session.stores import JsonlStore as _JsonlSessions
from opi_cli.session.stores import MemoryStore as _MemorySessions
from opi_cli.session.stores.postgres import PostgresStore as _PostgresSessions
from opi_cli.session.writer import SessionWriter

__all__ = [
    "AgentState",
    "ConversationMetadata",
    "JsonlStore",
    "MemoryStore",
    "PersistenceStore",
    "PostgresStore",
    "SessionPersistence",
    "check_conversation_id",
    "generate_id",
]


def generate_id() -> str:
    """A new conversation id: a UUID4 string."""
    return new_session_id()


def check_conversation_id(conversation_id: str) -> str:
    """``conversation_id`` if it can name a session, else AgentError.

    Ids are any non-empty text without slashes, control characters or a ``.jsonl`` ending,
    up to 200 characters (``user123_session456`` and UUIDs both work).
    """
    cid = conversation_id
    if (
        not isinstance(cid, str)
        or not cid.strip()
        or len(cid) > 200
        or looks_like_path(cid)
        or any(ord(ch) < 32 or ch in ':*?"<>|' for ch in cid)
    ):
        raise AgentError(f"invalid conversation id {conversation_id!r}")
    return cid


@dataclass(frozen=True, slots=True)
class AgentState:
    """A conversation as stored: its messages (context order), the model that last spoke, its name."""

    messages: tuple[AgentMessage, ...] = ()
    model: tuple[str, str] | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationMetadata:
    """One stored conversation as listed.

    Attributes:
        id: the conversation (= session) id.
        name: the session name, if one was set.
        created_at / updated_at: creation time and newest message time (UTC).
        message_count: messages in the conversation's current context.
        token_count: tokens of that context: the provider's last reported total plus an
            estimate (4 characters per token) for later messages.
    """

    id: str
    name: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    token_count: int


@runtime_checkable
class PersistenceStore(Protocol):
    """Where the library agent keeps conversations; implement it for a custom backend."""

    async def store_conversation(self, id: str, state: AgentState) -> None: ...

    async def get_conversation(self, id: str) -> AgentState | None: ...

    async def delete_conversation(self, id: str) -> None: ...

    async def list_conversations(self, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]: ...


def _message_key(m: AgentMessage) -> str:
    return dumps(agent_message_to_json(m))


def _message_text(m: AgentMessage) -> str:
    parts: list[str] = []
    for c in getattr(m, "content", ()):
        if isinstance(c, TextContent):
            parts.append(c.text)
        elif isinstance(c, ThinkingContent):
            parts.append(c.thinking)
        elif isinstance(c, ToolCall):
            parts.append(c.name + dumps(c.arguments))
    for attr in ("summary", "command", "output"):
        value = getattr(m, attr, None)
        if isinstance(value, str):
            parts.append(value)
    return "\n".join(parts)


def context_tokens(messages: Sequence[AgentMessage]) -> int:
    """The provider's last reported context size plus an estimate for the messages after it."""
    last = -1
    total = 0
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, AssistantMessage) and m.usage.total_tokens > 0:
            last, total = i, m.usage.total_tokens
            break
    return total + sum(estimate_tokens(_message_text(m)) for m in messages[last + 1 :])


class SessionPersistence:
    """A :class:`PersistenceStore` over any opi :class:`~opi_cli.session.store.SessionStore`.

    Args:
        sessions: the session store.
        cwd: the folder recorded in new sessions' headers (default: the current folder);
            the JSONL store files sessions by it, as the CLI does.
    """

    def __init__(self, sessions: SessionStore | None = None, *, cwd: str | Path | None = None) -> None:
        self._sessions = sessions
        self._cwd = str(cwd) if cwd is not None else None

    async def session_store(self) -> SessionStore:
        """The underlying session store."""
        if self._sessions is None:
            raise AgentError("this persistence store has no session store")
        return self._sessions

    async def _locate(self, store: SessionStore, cid: str) -> str | None:
        """The location of the session whose id is exactly ``cid`` (ids are also prefixes)."""
        try:
            handle = await store.open(cid, writable=False)
        except SessionError:
            return None  # no id even starts with cid
        try:
            if handle.header.id == cid:
                return handle.location
        finally:
            await handle.close()
        for info in await store.list_sessions(None):  # cid is a prefix of another id: look for it exactly
            if info.id == cid:
                return info.location
        return None

    async def _read(self, store: SessionStore, location: str) -> AgentState:
        handle = await store.open(location, writable=False)
        try:
            writer = SessionWriter(store, handle, await handle.scan())
            context = await writer.context()
            return AgentState(context.messages, context.model, writer.name)
        finally:
            await handle.close()

    async def store_conversation(self, id: str, state: AgentState) -> None:
        """Save ``state`` as session ``id`` (created if new), appending only what changed."""
        cid = check_conversation_id(id)
        store = await self.session_store()
        location = await self._locate(store, cid)
        if location is None:
            cwd = self._cwd or os.getcwd()
            writer = await SessionWriter.create(store, cwd=cwd, session_id=cid)
        else:
            writer = await SessionWriter.open(store, location)
        try:
            await _append_changes(writer, state)
            await writer.sync()
        finally:
            await writer.close()

    async def get_conversation(self, id: str) -> AgentState | None:
        """The stored conversation (its current context), or None."""
        store = await self.session_store()
        location = await self._locate(store, check_conversation_id(id))
        return None if location is None else await self._read(store, location)

    async def delete_conversation(self, id: str) -> None:
        """Remove the conversation; nothing happens when there is none."""
        store = await self.session_store()
        location = await self._locate(store, check_conversation_id(id))
        if location is not None:
            await store.delete(location)

    async def list_conversations(self, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]:
        """Conversations, most recently updated first, ``limit`` of them after skipping ``offset``."""
        if limit < 0 or offset < 0:
            raise AgentError(f"limit and offset must not be negative (got {limit}, {offset})")
        store = await self.session_store()
        infos = (await store.list_sessions(None))[offset : offset + limit]
        out: list[ConversationMetadata] = []
        for info in infos:
            try:
                state = await self._read(store, info.location)
            except SessionError:
                continue  # deleted or damaged meanwhile
            created = info.created
            stamps = [
                t for m in state.messages[:1] if isinstance(t := getattr(m, "timestamp", None), int) and t > 0
            ]
            if stamps:
                created = min(created, datetime.fromtimestamp(stamps[0] / 1000, UTC))
            out.append(
                ConversationMetadata(
                    info.id,
                    info.name,
                    created,
                    max(info.modified, created),
                    len(state.messages),
                    context_tokens(state.messages),
                )
            )
        return out

    async def close(self) -> None:
        """Release the store's connections (idempotent)."""
        if self._sessions is not None:
            await self._sessions.close()

    async def __aenter__(self) -> SessionPersistence:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _append_changes(writer: SessionWriter, state: AgentState) -> None:
    context = await writer.context()
    stored = context.messages
    keep = 0
    for old, new in zip(stored, state.messages, strict=False):
        if _message_key(old) != _message_key(new):
            break
        keep += 1
    if keep < len(stored):
        await writer.move_to(context.entry_ids[keep - 1] if keep else None)
    current_model = context.model if keep == len(stored) else None
    if state.model is not None and state.model != current_model and keep < len(state.messages):
        await writer.append_model_change(*state.model)
    for message in state.messages[keep:]:
        await writer.append_message(message)
    if state.name is not None and state.name != writer.name:
        await writer.append_session_info(state.name)


class MemoryStore(SessionPersistence):
    """Conversations in this process only (tests, short-lived agents)."""

    def __init__(self, *, cwd: str | Path | None = None) -> None:
        super().__init__(_MemorySessions(), cwd=cwd)


def _default_sessions_root(env: Mapping[str, str]) -> Path:
    home = env.get("OPI_HOME") or str(Path(env.get("HOME") or Path.home()) / ".opi")
    return Path(home).expanduser() / "sessions"


class JsonlStore(SessionPersistence):
    """Conversations as opi session files: ``root/--<cwd>--/<time>_<id>.jsonl``.

    Args:
        root: the sessions folder. Default: ``$OPI_HOME/sessions`` (``~/.opi/sessions``),
            where the ``opi`` command looks, so ``opi resume <id>`` finds them.
        env: the environment mapping read for that default (``os.environ`` when None).
        cwd: the folder recorded in new sessions (default: the current folder).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        self.root = (
            Path(root) if root is not None else _default_sessions_root(env if env is not None else os.environ)
        )
        super().__init__(_JsonlSessions(self.root), cwd=cwd)


class PostgresStore(SessionPersistence):
    """Conversations in PostgreSQL, in opi's session tables (``opi --store DSN`` sees them).

    Connects on first use; ``await PostgresStore.connect(dsn)`` connects at once.
    Needs psycopg 3 (``pip install 'opi-agent[postgres]'``). Close it when done.
    """

    def __init__(self, dsn: str, *, cwd: str | Path | None = None) -> None:
        super().__init__(None, cwd=cwd)
        self._dsn = dsn

    @classmethod
    async def connect(cls, dsn: str, *, cwd: str | Path | None = None) -> PostgresStore:
        """Connect and migrate now (errors surface here, not at the first save).

        Raises:
            SessionError: psycopg missing or the server cannot be reached.
        """
        store = cls(dsn, cwd=cwd)
        await store.session_store()
        return store

    async def session_store(self) -> SessionStore:
        if self._sessions is None:
            self._sessions = await _PostgresSessions.connect(self._dsn)
        return self._sessions

    def __repr__(self) -> str:
        return "PostgresStore(<dsn hidden>)"
