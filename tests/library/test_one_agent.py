"""The library Agent is the CLI's AgentSession: compaction (threshold, overflow, manual, a
user's summariser), queues, retries and sessions, through the public API against the mock
LLM server (real HTTP and SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from opi_cli import (
    Agent,
    AgentBuilder,
    AgentError,
    CompactionOutcome,
    Config,
    ConfigError,
    MemoryStore,
    RequestError,
    SummaryRequest,
)
from opi_cli.agent.events import AgentEvent, CompactionEnd, CompactionStart
from opi_cli.agent.messages import CompactionSummaryMessage
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.compaction import estimate_message_tokens
from tests.mock_llm import MockLLM


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as srv:
        yield srv


def config(srv: MockLLM, **kw: Any) -> Config:
    c = Config().with_api_key("sk-test").with_model("gpt-4o").with_base_url(srv.base_url + "/v1")
    if "window" in kw:
        c = c.with_context_window(kw["window"])
    return c


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"steps": [{"text": t}], **extra}


def overflow() -> dict[str, Any]:
    return {"error": {"status": 400, "message": "prompt is too long: 5000 tokens > 4000 maximum",
                      "type": "invalid_request_error", "code": "context_length_exceeded"}}


def keep(agent: Agent) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    agent.subscribe(events.append)
    return events


async def test_fifty_turns_in_a_4000_token_window_compact_and_finish(mock: MockLLM) -> None:
    # every reply (and every summary request) is answered with ~250 tokens of text; the mock
    # reports usage from the request size, as a real server would
    mock.set_script({"responses": [text("Noted. " + "detail " * 140)], "repeat_last": True})
    agent = AgentBuilder(env={}).with_config(config(mock, window=4000)).with_retry(enabled=False).build()
    events = keep(agent)
    async with agent:
        for turn in range(50):
            answer = await agent.run(f"Turn {turn}: " + "please remember this fact. " * 20)
            assert answer.startswith("Noted.")
        window_tokens = sum(estimate_message_tokens(m) for m in agent.messages)
    compactions = [e for e in events if isinstance(e, CompactionEnd)]
    assert len(compactions) >= 5
    assert all(e.result is not None and e.reason == "threshold" for e in compactions)
    assert window_tokens < 4000
    assert isinstance(agent.messages[0], CompactionSummaryMessage)
    biggest = max(len(json.dumps(r["body"])) for r in mock.requests)
    assert biggest < 4000 * 4  # no request ever outgrew the window (about 4 characters a token)
    assert len(mock.requests) >= 50 + len(compactions)


async def test_overflow_compacts_and_retries_once(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("A1"), overflow(), text("SUMMARY-OF-A1"), text("after retry")]})
    agent = (
        AgentBuilder(env={}).with_config(config(mock)).with_compaction(keep_recent_tokens=50)
        .with_retry(enabled=False).build()
    )
    events = keep(agent)
    assert await agent.run("first " + "x" * 400) == "A1"
    assert await agent.run("second " + "z" * 480) == "after retry"
    starts = [e.reason for e in events if isinstance(e, CompactionStart)]
    assert starts == ["overflow"]
    retry = mock.requests[3]["body"]["messages"]
    assert "SUMMARY-OF-A1" in json.dumps(retry)
    await agent.aclose()


async def test_a_second_overflow_is_a_request_error(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("A1"), overflow(), text("SUMMARY"), overflow()]})
    agent = (
        AgentBuilder(env={}).with_config(config(mock)).with_compaction(keep_recent_tokens=50)
        .with_retry(enabled=False).build()
    )
    await agent.run("first " + "x" * 400)
    with pytest.raises(RequestError) as info:
        await agent.run("second " + "z" * 480)
    assert info.value.kind == "overflow"


async def test_manual_compaction_and_a_users_summariser(mock: MockLLM) -> None:
    mock.set_script({"responses": [text(f"answer {n} " + "z" * 300) for n in range(4)]})
    asked: list[SummaryRequest] = []

    async def summarise(request: SummaryRequest) -> str:
        asked.append(request)
        return "MY OWN SUMMARY of " + str(len(request.messages)) + " messages"

    agent = (
        AgentBuilder(env={})
        .with_config(config(mock))
        .with_compaction(keep_recent_tokens=100)
        .with_summarizer(summarise)
        .build()
    )
    for n in range(4):
        await agent.run(f"question {n} " + "q" * 300)
    outcome = await agent.compact("keep the numbers")
    assert isinstance(outcome, CompactionOutcome) and outcome.status == "compacted"
    assert outcome.result is not None and outcome.result.summary.startswith("MY OWN SUMMARY of")
    assert asked[0].focus == "keep the numbers" and asked[0].reason == "manual"
    assert len(mock.requests) == 4  # the model wrote no summary
    first = agent.messages[0]
    assert isinstance(first, CompactionSummaryMessage) and "MY OWN SUMMARY" in first.summary


async def test_a_failing_summariser_gets_the_fallback_summary(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("answer " + "z" * 300)], "repeat_last": True})

    async def broken(request: SummaryRequest) -> str:
        raise RuntimeError("summariser down")

    agent = (
        AgentBuilder(env={})
        .with_config(config(mock))
        .with_compaction(keep_recent_tokens=100)
        .with_summarizer(broken)
        .build()
    )
    for n in range(3):
        await agent.run(f"question {n} " + "q" * 300)
    outcome = await agent.compact()
    assert outcome.status == "compacted" and outcome.result is not None
    assert outcome.result.details["fallback"] is True
    assert "RuntimeError: summariser down" in str(outcome.result.details["fallbackReason"])
    assert "## Goal" in outcome.result.summary


async def test_follow_up_and_steering_queues(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("slow first", delay_ms=30, chunk_size=2), text("follow-up answered")]})
    agent = AgentBuilder(env={}).with_config(config(mock)).build()
    run = asyncio.create_task(agent.run("first"))
    while not mock.requests:
        await asyncio.sleep(0.01)
    agent.follow_up("and then this")
    assert await run == "follow-up answered"
    last_user = mock.requests[1]["body"]["messages"][-1]
    assert last_user == {"role": "user", "content": "and then this"}


async def test_retries_are_the_sessions(mock: MockLLM) -> None:
    limited = {"error": {"status": 429, "message": "Rate limit reached", "type": "rate_limit_error",
                         "headers": {"retry-after": "0"}}}
    mock.set_script({"responses": [limited, text("after the retry")]})
    agent = AgentBuilder(env={}).with_config(config(mock)).with_retry(max_retries=2, base_delay_ms=1).build()
    assert await agent.run("hi") == "after the retry"


async def test_the_session_is_the_clis(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("hello")]})
    agent = AgentBuilder(env={}).with_config(config(mock)).build()
    with pytest.raises(AgentError, match="not started"):
        _ = agent.session
    session = await agent.start()
    assert isinstance(session, AgentSession) and session.agent is agent.loop
    await agent.run("hi")
    entries = [e async for e in session.writer.handle.entries()]
    kinds = [type(e).__name__ for e in entries]
    assert kinds[:2] == ["ModelChangeEntry", "ThinkingLevelChangeEntry"] and kinds.count("MessageEntry") == 2
    await agent.aclose()


def test_each_call_in_its_own_event_loop(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("one"), text("two")]})
    agent = AgentBuilder(env={}).with_config(config(mock)).build()
    assert asyncio.run(agent.run("first")) == "one"
    assert asyncio.run(agent.run("second")) == "two"  # the session's writer follows the new loop
    assert [m["content"] for m in mock.requests[1]["body"]["messages"]] == ["first", "one", "second"]


async def test_reset_starts_an_empty_conversation(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("one"), text("two")]})
    store = MemoryStore()
    agent = AgentBuilder(env={}).with_config(config(mock)).with_persistence(store).build()
    await agent.run_with_id("c1", "first")
    agent.reset()
    assert agent.messages == [] and agent.conversation_id is None
    await agent.run("second")
    assert [m["content"] for m in mock.requests[1]["body"]["messages"]] == ["second"]
    stored = await store.get_conversation("c1")
    assert stored is not None and len(stored.messages) == 2  # reset touched nothing stored


def test_bad_compaction_and_window_settings_are_config_errors(mock: MockLLM) -> None:
    with pytest.raises(ConfigError, match="context_window"):
        AgentBuilder(env={}).with_config(config(mock, window=10)).build()
    with pytest.raises(ConfigError, match="compaction token counts"):
        AgentBuilder(env={}).with_config(config(mock)).with_compaction(reserve_tokens=-5).build()
    with pytest.raises(ConfigError, match="with_summarizer"):
        AgentBuilder(env={}).with_summarizer("not a function")  # type: ignore[arg-type]


async def test_a_long_stored_conversation_compacts_in_the_store(mock: MockLLM, tmp_path: Any) -> None:
    from opi_cli import JsonlStore

    mock.set_script({"responses": [text("Noted. " + "detail " * 140)], "repeat_last": True})
    store = JsonlStore(tmp_path / "sessions", cwd="/work/project")
    agent = AgentBuilder(env={}).with_config(config(mock, window=4000)).with_persistence(store).build()
    for turn in range(15):
        await agent.run_with_id("long-chat", f"Turn {turn}: " + "please remember this fact. " * 20)
    (path,) = (tmp_path / "sessions").glob("*/*_long-chat.jsonl")
    kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert kinds.count("compaction") >= 2
    later = AgentBuilder(env={}).with_config(config(mock, window=4000)).with_persistence(store).build()
    assert await later.load_conversation("long-chat")
    assert isinstance(later.messages[0], CompactionSummaryMessage)
    assert sum(estimate_message_tokens(m) for m in later.messages) < 4000
