"""One behavioural suite run against every store: memory, JSONL files and PostgreSQL."""

from __future__ import annotations

import pytest

from opi_cli.agent.messages import CompactionSummaryMessage
from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, UserMessage
from opi_cli.errors import SessionError
from opi_cli.session import MessageEntry, SessionWriter
from opi_cli.session.entries import entry_to_json

from .builders import assistant, tool_result, user
from .conftest import StoreFactory

AWKWARD = 'lone \ud800 high, \udfff low, NUL \x00, LS \u2028 PS \u2029, emoji 😀, "quotes" \\ and \n newline'


async def _chat(writer: SessionWriter) -> None:
    await writer.append_model_change("mock", "mock-model")
    await writer.append_thinking_level_change("medium")
    await writer.append_message(user("hello"))
    call = ToolCall("call_1", "bash", {"command": "ls"})
    await writer.append_message(assistant("let me look", calls=(call,)))
    await writer.append_message(tool_result(call, "a.txt\nb.txt"))
    await writer.append_message(assistant("two files"))
    await writer.sync()


async def test_create_append_reopen_same_context(stores: StoreFactory) -> None:
    store = await stores.new()
    writer = await SessionWriter.create(store, cwd="/work/p")
    await _chat(writer)
    before = await writer.context()
    sid = writer.session_id
    await writer.close()

    again = await SessionWriter.open(await stores.new(), sid)
    after = await again.context()
    assert after == before
    assert [m.role for m in after.messages] == ["user", "assistant", "toolResult", "assistant"]
    assert after.model == ("mock", "mock-model")
    assert after.thinking_level == "medium"
    assert again.damaged == 0
    await again.close()


async def test_entries_stream_in_order_and_round_trip(stores: StoreFactory) -> None:
    store = await stores.new()
    writer = await SessionWriter.create(store, cwd="/w")
    await _chat(writer)
    written = await writer.path_entries()
    handle = writer.handle
    streamed = [e async for e in handle.entries()]
    assert [entry_to_json(e) for e in streamed] == [entry_to_json(e) for e in written]
    await writer.close()


async def test_awkward_text_round_trips(stores: StoreFactory) -> None:
    store = await stores.new()
    writer = await SessionWriter.create(store, cwd="/w")
    await writer.append_message(user(AWKWARD))
    await writer.append_session_info(AWKWARD)
    sid = writer.session_id
    await writer.close()
    reopened = await SessionWriter.open(await stores.new(), sid)
    ctx = await reopened.context()
    msg = ctx.messages[0]
    assert isinstance(msg, UserMessage) and msg.content == (TextContent(AWKWARD),)
    assert reopened.name == AWKWARD
    await reopened.close()


async def test_second_writer_is_refused_until_the_first_closes(stores: StoreFactory) -> None:
    store = await stores.new()
    writer = await SessionWriter.create(store, cwd="/w")
    await writer.append_message(user("hi"))
    other = await stores.new()
    with pytest.raises(SessionError, match="in use by another opi process"):
        await SessionWriter.open(other, writer.session_id)
    await writer.close()
    second = await SessionWriter.open(other, writer.session_id)
    await second.append_message(user("again"))
    await second.close()


async def test_list_open_by_prefix_and_delete(stores: StoreFactory) -> None:
    store = await stores.new()
    a = await SessionWriter.create(store, cwd="/proj/a")
    await a.append_message(user("first question in a"))
    await a.append_message(assistant("answer"))
    await a.append_session_info("named a")
    await a.close()
    b = await SessionWriter.create(store, cwd="/proj/b")
    await b.append_message(user("question in b"))
    await b.close()

    only_a = await store.list_sessions("/proj/a")
    assert [i.id for i in only_a] == [a.session_id]
    info = only_a[0]
    assert (info.first_message, info.message_count, info.name, info.cwd) == (
        "first question in a",
        2,
        "named a",
        "/proj/a",
    )
    assert info.size > 0 and info.modified >= info.created
    everything = await store.list_sessions()
    assert {i.id for i in everything} >= {a.session_id, b.session_id}

    handle = await store.open(b.session_id[:8], cwd="/proj/a", writable=False)
    assert handle.header.id == b.session_id
    await handle.close()
    with pytest.raises(SessionError, match="no session found"):
        await store.open("ffffffff-nope", writable=False)

    await store.delete(b.session_id)
    assert b.session_id not in {i.id for i in await store.list_sessions()}


async def test_branching_with_leaf_entry_survives_reopen(stores: StoreFactory) -> None:
    store = await stores.new()
    w = await SessionWriter.create(store, cwd="/w")
    q1 = await w.append_message(user("q1"))
    a1 = await w.append_message(assistant("a1"))
    await w.append_message(user("q2 (abandoned)"))
    await w.append_message(assistant("a2 (abandoned)"))
    await w.move_to(a1.id)
    await w.append_label(q1.id, "start")
    sid = w.session_id
    await w.close()

    w2 = await SessionWriter.open(await stores.new(), sid)
    assert w2.leaf_id is not None
    ctx = await w2.context()
    assert [m.role for m in ctx.messages] == ["user", "assistant"]
    assert (await w2.full_tree()).labels == {q1.id: "start"}
    q3 = await w2.append_message(user("q3"))
    assert (await w2.path_entries())[-1] == q3
    ctx = await w2.context()
    texts = [m.content[0].text for m in ctx.messages if isinstance(m, UserMessage)]  # type: ignore[union-attr]
    assert texts == ["q1", "q3"]
    await w2.close()


async def test_compaction_applies_after_reopen(stores: StoreFactory) -> None:
    store = await stores.new()
    w = await SessionWriter.create(store, cwd="/w")
    await w.append_message(user("old 1"))
    await w.append_message(assistant("old answer"))
    kept = await w.append_message(user("kept"))
    await w.append_message(assistant("kept answer"))
    await w.append_compaction("SUMMARY", kept.id, 1234)
    await w.append_message(user("after"))
    sid = w.session_id
    await w.close()
    w2 = await SessionWriter.open(await stores.new(), sid)
    ctx = await w2.context()
    assert isinstance(ctx.messages[0], CompactionSummaryMessage)
    assert ctx.messages[0].summary == "SUMMARY" and ctx.messages[0].tokens_before == 1234
    rest = [m for m in ctx.messages[1:]]
    assert [type(m).__name__ for m in rest] == ["UserMessage", "AssistantMessage", "UserMessage"]
    assert isinstance(rest[1], AssistantMessage) and rest[1].text == "kept answer"
    await w2.close()


async def test_read_only_open_cannot_append(stores: StoreFactory) -> None:
    store = await stores.new()
    w = await SessionWriter.create(store, cwd="/w")
    m = await w.append_message(user("x"))
    await w.close()
    handle = await store.open(w.session_id, writable=False)
    assert not handle.writable
    with pytest.raises(SessionError):
        await handle.append(m)
    await handle.close()


async def test_message_entries_keep_their_ids(stores: StoreFactory) -> None:
    store = await stores.new()
    w = await SessionWriter.create(store, cwd="/w")
    e = await w.append_message(user("x"))
    assert isinstance(e, MessageEntry) and len(e.id) == 8 and e.parent_id is None
    f = await w.append_message(assistant("y"))
    assert f.parent_id == e.id
    await w.close()
