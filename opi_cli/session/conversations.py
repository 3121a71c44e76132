"""Conversations by id on any session store: the seed's persistence API over opi's sessions.

A conversation is an ordinary session whose id is the conversation id, so ``opi resume
<id>`` continues one saved by a Python program and a CLI session loads by its id. The
stores (:class:`~opi_cli.session.stores.JsonlStore`, ``MemoryStore``, ``PostgresStore``)
get the seed's four methods from :class:`ConversationMethods`; the functions below do the
same for any :class:`~opi_cli.session.store.SessionStore`.

Saving a whole conversation (``store_conversation``) appends only what is new: the stored
path is compared with the given messages, the common prefix is kept, and if the history
diverged the session branches at the last shared message (the old branch stays in the
tree, as ``/tree`` would leave it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, cast, runtime_checkable

from opi_cli._util.ids import new_session_id
from opi_cli._util.jsonio import dumps
from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage, agent_message_to_json
from opi_cli.ai.tokens import estimate_tokens
from opi_cli.ai.types import AssistantMessage, TextContent, ThinkingContent, ToolCall
from opi_cli.errors import AgentError, SessionError
from opi_cli.session.store import SessionStore, looks_like_path
from opi_cli.session.writer import SessionWriter

__all__ = [
    "AgentState",
    "ConversationMetadata",
    "ConversationMethods",
    "PersistenceStore",
    "append_state",
    "check_conversation_id",
    "context_tokens",
    "delete_conversation",
    "generate_id",
    "get_conversation",
    "list_conversations",
    "locate_conversation",
    "store_conversation",
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


@record
class AgentState:
    """A conversation as stored: its messages (context order), the model that last spoke, its name."""

    messages: tuple[AgentMessage, ...] = ()
    model: tuple[str, str] | None = None
    name: str | None = None


@record
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
    """The seed's conversation store; every opi store has it, and a custom backend may
    implement just these four methods (it is then saved and loaded as whole conversations)."""

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


async def locate_conversation(store: SessionStore, conversation_id: str) -> str | None:
    """The location of the session whose id is exactly ``conversation_id`` (ids are also prefixes)."""
    cid = check_conversation_id(conversation_id)
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


async def _read(store: SessionStore, location: str) -> AgentState:
    handle = await store.open(location, writable=False)
    try:
        writer = SessionWriter(store, handle, await handle.scan())
        context = await writer.context()
        return AgentState(context.messages, context.model, writer.name)
    finally:
        await handle.close()


async def append_state(writer: SessionWriter, state: AgentState) -> None:
    """Make ``writer``'s current path hold ``state``: keep the common prefix, branch where
    the histories part, append the rest (and the model and name when they changed)."""
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


async def store_conversation(store: SessionStore, conversation_id: str, state: AgentState, *, cwd: str) -> None:
    """Save ``state`` as session ``conversation_id`` (created in folder ``cwd`` if new)."""
    cid = check_conversation_id(conversation_id)
    location = await locate_conversation(store, cid)
    if location is None:
        writer = await SessionWriter.create(store, cwd=cwd, session_id=cid)
    else:
        writer = await SessionWriter.open(store, location)
    try:
        await append_state(writer, state)
        await writer.sync()
    finally:
        await writer.close()


async def get_conversation(store: SessionStore, conversation_id: str) -> AgentState | None:
    """The stored conversation (its current context), or None."""
    location = await locate_conversation(store, conversation_id)
    return None if location is None else await _read(store, location)


async def delete_conversation(store: SessionStore, conversation_id: str) -> None:
    """Remove the conversation; nothing happens when there is none."""
    location = await locate_conversation(store, conversation_id)
    if location is not None:
        await store.delete(location)


async def list_conversations(store: SessionStore, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]:
    """Conversations, most recently updated first, ``limit`` of them after skipping ``offset``."""
    if limit < 0 or offset < 0:
        raise AgentError(f"limit and offset must not be negative (got {limit}, {offset})")
    infos = (await store.list_sessions(None))[offset : offset + limit]
    out: list[ConversationMetadata] = []
    for info in infos:
        try:
            state = await _read(store, info.location)
        except SessionError:
            continue  # deleted or damaged meanwhile
        created = info.created
        stamps = [t for m in state.messages[:1] if isinstance(t := getattr(m, "timestamp", None), int) and t > 0]
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


class ConversationMethods:
    """The seed's ``PersistenceStore`` methods for a session store class that inherits this.

    ``conversation_cwd`` is the folder recorded in new conversations' headers (the JSONL
    store files sessions by it, as the CLI does); ``None`` means the current folder.
    """

    conversation_cwd: str | None = None

    def _as_store(self) -> SessionStore:
        return cast(SessionStore, self)

    def _cwd(self) -> str:
        return self.conversation_cwd or os.getcwd()

    async def store_conversation(self, id: str, state: AgentState) -> None:
        """Save ``state`` as conversation ``id`` (created if new), appending only what changed."""
        await store_conversation(self._as_store(), id, state, cwd=self._cwd())

    async def get_conversation(self, id: str) -> AgentState | None:
        """The stored conversation (its current context), or None."""
        return await get_conversation(self._as_store(), id)

    async def delete_conversation(self, id: str) -> None:
        """Remove the conversation; nothing happens when there is none."""
        await delete_conversation(self._as_store(), id)

    async def list_conversations(self, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]:
        """Conversations, most recently updated first, ``limit`` of them after skipping ``offset``."""
        return await list_conversations(self._as_store(), limit, offset)

    async def __aenter__(self) -> ConversationMethods:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._as_store().close()
