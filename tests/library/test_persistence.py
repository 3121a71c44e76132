"""One persistence suite for MemoryStore, JsonlStore and PostgresStore (a real server the tests start)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from opi_cli import (
    AgentBuilder,
    AgentError,
    Config,
    ConfigError,
    ConversationMetadata,
    JsonlStore,
    MemoryStore,
    PersistenceStore,
    PostgresStore,
    generate_id,
)
from opi_cli.agent.agent import user_message
from opi_cli.ai.types import AssistantMessage, TextContent, Usage, UserMessage
from opi_cli.sdk import AgentState
from opi_cli.session import SessionWriter
from tests.mock_llm import MockLLM

Store = MemoryStore | JsonlStore | PostgresStore

KINDS = [
    "memory",
    "jsonl",
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("postgres")]),
]


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    if request.param == "memory":
        s = MemoryStore(cwd="/work/project")
    elif request.param == "jsonl":
        s = JsonlStore(tmp_path / "sessions", cwd="/work/project")
    else:
        s = await PostgresStore.connect(request.getfixturevalue("postgres_dsn"), cwd="/work/project")
    yield s
    await s.close()


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": [], "repeat_last": False}) as srv:
        yield srv


def reply(text: str, total: int = 0) -> AssistantMessage:
    return AssistantMessage(
        (TextContent(text),),
        "openai-completions",
        "openai",
        "gpt-4o",
        Usage(total_tokens=total),
        "stop",
        1_700_000_000_000,
    )


def ask(text: str) -> UserMessage:
    return UserMessage((TextContent(text),), 1_700_000_000_000)


def state(*texts: str) -> AgentState:
    """Messages with fixed timestamps: equal texts at equal positions are equal messages."""
    msgs: list[Any] = []
    for i, t in enumerate(texts):
        msgs.append(ask(t) if i % 2 == 0 else reply(t, total=100 + i))
    return AgentState(tuple(msgs), ("openai", "gpt-4o"))


def texts(s: AgentState | None) -> list[str]:
    assert s is not None
    return ["".join(c.text for c in m.content if isinstance(c, TextContent)) for m in s.messages]  # type: ignore[union-attr]


async def test_store_get_and_append_only_what_is_new(store: Store) -> None:
    assert isinstance(store, PersistenceStore)
    assert await store.get_conversation("c1") is None
    await store.store_conversation("c1", state("hi", "hello"))
    await store.store_conversation("c1", state("hi", "hello", "more?", "sure"))
    loaded = await store.get_conversation("c1")
    assert texts(loaded) == ["hi", "hello", "more?", "sure"]
    assert loaded is not None and loaded.model == ("openai", "gpt-4o")
    sessions = store
    handle = await sessions.open("c1", writable=False)
    try:
        entries = [e async for e in handle.entries()]
    finally:
        await handle.close()
    assert sum(type(e).__name__ == "MessageEntry" for e in entries) == 4  # nothing stored twice


async def test_a_diverged_history_branches_and_keeps_the_old_one(store: Store) -> None:
    await store.store_conversation("c1", state("a", "b", "c", "d"))
    await store.store_conversation("c1", state("a", "b", "x", "y"))
    assert texts(await store.get_conversation("c1")) == ["a", "b", "x", "y"]
    await store.store_conversation("c1", state("z"))
    assert texts(await store.get_conversation("c1")) == ["z"]


async def test_ids_are_exact_not_prefixes(store: Store) -> None:
    await store.store_conversation("user123_session456", state("long"))
    assert await store.get_conversation("user123") is None
    await store.store_conversation("user123", state("short"))
    assert texts(await store.get_conversation("user123")) == ["short"]
    assert texts(await store.get_conversation("user123_session456")) == ["long"]
    await store.delete_conversation("user123")
    assert await store.get_conversation("user123") is None
    assert texts(await store.get_conversation("user123_session456")) == ["long"]
    for bad in ("", "a/b", "x.jsonl", "bad\nid"):
        with pytest.raises(AgentError, match="invalid conversation id"):
            await store.get_conversation(bad)


async def test_delete_is_idempotent(store: Store) -> None:
    await store.store_conversation("gone", state("x"))
    await store.delete_conversation("gone")
    await store.delete_conversation("gone")
    assert await store.get_conversation("gone") is None
    assert await store.list_conversations() == []


async def test_listing_metadata_and_pagination(store: Store) -> None:
    ids = [f"conv-{n}" for n in range(5)]
    for n, cid in enumerate(ids):
        await store.store_conversation(
            cid, AgentState(state(*(["q", "a"] * (n + 1))).messages, None, f"name {n}")
        )
        await asyncio.sleep(0.002)  # distinct update times
    first = await store.list_conversations(limit=2, offset=0)
    second = await store.list_conversations(limit=2, offset=2)
    third = await store.list_conversations(limit=2, offset=4)
    everything = await store.list_conversations(limit=100, offset=0)
    assert [len(first), len(second), len(third)] == [2, 2, 1]
    assert [m.id for m in first + second + third] == [m.id for m in everything]
    assert sorted(m.id for m in everything) == ids
    assert await store.list_conversations(limit=10, offset=5) == []
    assert await store.list_conversations(limit=0, offset=0) == []
    by_id = {m.id: m for m in everything}
    m3 = by_id["conv-3"]
    assert isinstance(m3, ConversationMetadata)
    assert m3.name == "name 3"
    assert m3.message_count == 8
    # the last reply reported 100 + 7 tokens of context; nothing came after it
    assert m3.token_count == 107
    assert m3.created_at <= m3.updated_at
    assert m3.created_at.tzinfo is not None
    with pytest.raises(AgentError):
        await store.list_conversations(limit=-1)


async def test_token_count_estimates_messages_after_the_last_usage(store: Store) -> None:
    msgs = (*state("hi", "hello").messages, user_message("x" * 40))
    await store.store_conversation("t", AgentState(msgs))
    (meta,) = await store.list_conversations()
    assert meta.token_count == 101 + 10


async def test_agent_run_with_id_saves_loads_and_continues(store: Store, mock: MockLLM) -> None:
    mock.set_script(
        {
            "responses": [
                {"steps": [{"text": "Rust is fast."}]},
                {"steps": [{"text": "Borrow checker."}]},
                {"steps": [{"text": "Again."}]},
            ]
        }
    )
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1")
    agent = AgentBuilder(env={}).with_config(config).with_persistence(store).build()
    cid = generate_id()
    assert uuid.UUID(cid).version == 4
    assert await agent.run_with_id(cid, "Tell me about Rust.") == "Rust is fast."
    assert await agent.run_with_id(cid, "Memory safety?") == "Borrow checker."
    assert [m["content"] for m in mock.requests[1]["body"]["messages"]] == [
        "Tell me about Rust.",
        "Rust is fast.",
        "Memory safety?",
    ]

    # a second agent (another process, say) continues the stored conversation
    other = AgentBuilder(env={}).with_config(config).with_persistence(store).build()
    assert await other.load_conversation(cid)
    assert len(other.messages) == 4
    assert await other.run_with_id(cid, "Once more") == "Again."
    assert len(mock.requests[2]["body"]["messages"]) == 5
    (meta,) = await other.list_conversations(10, 0)
    assert (meta.id, meta.message_count) == (cid, 6)
    assert not await other.load_conversation("missing")
    await other.delete_conversation(cid)
    assert await other.list_conversations() == []


async def test_a_session_written_by_the_session_layer_loads_by_id(store: Store) -> None:
    sessions = store
    writer = await SessionWriter.create(sessions, cwd="/elsewhere")
    await writer.append_message(user_message("from the CLI"))
    await writer.append_message(reply("cli answer"))
    await writer.sync()
    await writer.close()
    loaded = await store.get_conversation(writer.session_id)
    assert texts(loaded) == ["from the CLI", "cli answer"]


class DictStore:
    """A custom backend with only the seed's four methods (saved and loaded whole)."""

    def __init__(self) -> None:
        self.data: dict[str, AgentState] = {}

    async def store_conversation(self, id: str, state: AgentState) -> None:
        self.data[id] = state

    async def get_conversation(self, id: str) -> AgentState | None:
        return self.data.get(id)

    async def delete_conversation(self, id: str) -> None:
        self.data.pop(id, None)

    async def list_conversations(self, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]:
        return []


async def test_a_custom_persistence_store(mock: MockLLM) -> None:
    mock.set_script({"responses": [{"steps": [{"text": "one"}]}, {"steps": [{"text": "two"}]}]})
    store = DictStore()
    assert isinstance(store, PersistenceStore)
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1")
    agent = AgentBuilder(env={}).with_config(config).with_persistence(store).build()
    assert await agent.run_with_id("c1", "first") == "one"
    assert texts(store.data["c1"]) == ["first", "one"]
    other = AgentBuilder(env={}).with_config(config).with_persistence(store).build()
    assert await other.run_with_id("c1", "second") == "two"
    assert texts(store.data["c1"]) == ["first", "one", "second", "two"]
    assert [m["content"] for m in mock.requests[1]["body"]["messages"]] == ["first", "one", "second"]
    await other.delete_conversation("c1")
    assert store.data == {}


def test_with_persistence_refuses_what_is_not_a_store() -> None:
    with pytest.raises(ConfigError, match="with_persistence takes a store"):
        AgentBuilder(env={}).with_persistence({"not": "a store"})  # type: ignore[arg-type]


async def test_agents_take_turns_on_one_stored_conversation(store: Store, mock: MockLLM) -> None:
    mock.set_script({"responses": [{"steps": [{"text": f"reply {n}"}]} for n in range(4)]})
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1")
    first = AgentBuilder(env={}).with_config(config).with_persistence(store).build()
    second = AgentBuilder(env={}).with_config(config).with_persistence(store).build()
    for n in range(4):
        agent = first if n % 2 == 0 else second
        assert await agent.run_with_id("shared", f"question {n}") == f"reply {n}"  # never "in use"
    assert len(mock.requests[3]["body"]["messages"]) == 7  # each saw the other's turns
    loaded = await store.get_conversation("shared")
    assert texts(loaded)[-2:] == ["question 3", "reply 3"]
    await first.aclose()
    await second.aclose()
