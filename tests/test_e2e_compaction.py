"""Compaction end to end (issue 6): threshold, overflow + one retry, failure, one at a time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.events import AgentEvent
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, faux_model
from opi_cli.session.agent_session import OVERFLOW_FAILED, AgentSession
from opi_cli.session.compaction import CompactionSettings
from opi_cli.session.stores import MemoryStore
from opi_cli.session.writer import SessionWriter
from tests.conftest import run_opi
from tests.mock_llm import MockLLM

PREFIX = "The conversation history before this point was compacted into the following summary:"


def _setup(opi_home: Path, **compaction: Any) -> None:
    (opi_home / "models.json").write_text(json.dumps({"providers": {"mock": {
        "baseUrl": "http://127.0.0.1:1/v1", "api": "openai-completions", "apiKey": "x",
        "models": [{"id": "small", "contextWindow": 4000, "maxTokens": 500}]}}}))
    settings = {"retry": {"enabled": True, "maxRetries": 2, "baseDelayMs": 5},
                "compaction": {"enabled": True, "reserveTokens": 1000, "keepRecentTokens": 100, **compaction}}
    (opi_home / "settings.json").write_text(json.dumps(settings))


def _args(srv: MockLLM) -> list[str]:
    return ["--json", "--model", "mock/small", "--base-url", f"{srv.base_url}/v1", "--provider", "mock",
            "--api", "openai-completions", "--api-key", "x"]


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def _user_text(m: dict[str, Any]) -> str:
    c = m["content"]
    return c if isinstance(c, str) else "".join(p.get("text", "") for p in c)


def test_threshold_compaction_then_next_request_starts_with_summary(workdir: Path, opi_home: Path) -> None:
    _setup(opi_home)
    long_m2 = "second question " + "x" * 480
    script = {"responses": [
        {"steps": [{"text": "A1"}], "usage": {"input": 100, "output": 2}},
        {"steps": [{"text": "A2"}], "usage": {"input": 300, "output": 2}},
        {"steps": [{"text": "A3"}], "usage": {"input": 3500, "output": 2}},
        {"steps": [{"text": "## Goal\nSUMMARY-XYZ"}]},
        {"steps": [{"text": "final"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi([*_args(srv), "first question " + "y" * 400, "--then", long_m2, "--then", "third", "--then", "fourth"], cwd=workdir)
        reqs = srv.requests
    assert proc.returncode == 0, proc.stderr
    events = _events(proc.stdout)
    starts = [e for e in events if e["type"] == "compaction_start"]
    ends = [e for e in events if e["type"] == "compaction_end"]
    assert [s["reason"] for s in starts] == ["threshold"] and len(ends) == 1
    assert ends[0]["result"]["tokensBefore"] >= 3000 and not ends[0]["aborted"]
    summary_req = reqs[3]["body"]
    assert "tools" not in summary_req
    assert "first question" in json.dumps(summary_req) and "<conversation>" in json.dumps(summary_req)
    after = reqs[4]["body"]["messages"]
    assert after[0]["role"] == "system"
    assert _user_text(after[1]).startswith(PREFIX) and "SUMMARY-XYZ" in _user_text(after[1])
    # the recent turns are kept verbatim, the oldest one is not
    texts = [_user_text(m) if m["role"] == "user" else m.get("content") for m in after[2:]]
    assert texts == [long_m2, "A2", "third", "A3", "fourth"]
    assert "first question" not in json.dumps(after)
    # and the session file has the compaction entry
    files = list((opi_home / "sessions").glob("*/*.jsonl"))
    kinds = [json.loads(line)["type"] for line in files[0].read_text().splitlines()]
    assert kinds.count("compaction") == 1


def _overflow(msg: str = "prompt is too long: 5000 tokens > 4000 maximum") -> dict[str, Any]:
    return {"error": {"status": 400, "message": msg, "type": "invalid_request_error",
                      "code": "context_length_exceeded"}}


def test_overflow_compacts_once_and_retries_once(workdir: Path, opi_home: Path) -> None:
    _setup(opi_home)
    script = {"responses": [
        {"steps": [{"text": "A1"}], "usage": {"input": 100, "output": 2}},
        _overflow(),
        {"steps": [{"text": "SUMMARY-OVERFLOW"}]},
        {"steps": [{"text": "after retry"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi([*_args(srv), "first " + "y" * 400, "--then", "second " + "z" * 480], cwd=workdir)
        reqs = srv.requests
    assert proc.returncode == 0, proc.stderr
    events = _events(proc.stdout)
    comp = [(e["type"], e["reason"], e.get("willRetry")) for e in events if e["type"].startswith("compaction")]
    assert comp == [("compaction_start", "overflow", None), ("compaction_end", "overflow", True)]
    assert not [e for e in events if e["type"] == "auto_retry_start"]  # overflow is not a plain retry
    assert len(reqs) == 4
    retry = reqs[3]["body"]["messages"]
    assert "SUMMARY-OVERFLOW" in _user_text(retry[1])
    assert events[-1]["type"] == "session_summary" and events[-1]["exitCode"] == 0


def test_second_overflow_ends_with_clear_error(workdir: Path, opi_home: Path) -> None:
    _setup(opi_home)
    script = {"responses": [
        {"steps": [{"text": "A1"}], "usage": {"input": 100, "output": 2}},
        _overflow(),
        {"steps": [{"text": "SUMMARY"}]},
        _overflow(),
        {"steps": [{"text": "never"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi([*_args(srv), "first " + "y" * 400, "--then", "second " + "z" * 480], cwd=workdir)
        n = len(srv.requests)
    assert proc.returncode == 1
    assert n == 4  # one compaction, one retry, no more
    assert OVERFLOW_FAILED in proc.stderr
    events = _events(proc.stdout)
    ends = [e for e in events if e["type"] == "compaction_end"]
    assert ends[-1].get("errorMessage") == OVERFLOW_FAILED and events[-1]["exitCode"] == 1


async def test_two_simultaneous_triggers_run_one_compaction() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    def slow_summary(ctx: Any) -> FauxResponse:
        started.set()
        return FauxResponse(text="SUMMARY", delay_s=0.0)

    provider = FauxProvider([FauxResponse(text="a " * 200), FauxResponse(text="b " * 200), slow_summary])
    agent = Agent(AgentOptions(model=faux_model(context_window=100000), provider=provider))
    store = MemoryStore()
    writer = await SessionWriter.create(store, cwd="/tmp")
    session = await AgentSession.start(agent, writer, record_settings=True,
                                       compaction=CompactionSettings(True, 1000, 10))
    events: list[AgentEvent] = []
    session.subscribe(events.append)
    await session.prompt("one " * 50)
    await session.prompt("two " * 50)

    orig = provider.stream

    async def gated(*a: Any, **k: Any) -> Any:
        await release.wait()
        async for ev in orig(*a, **k):
            yield ev

    provider.stream = gated  # type: ignore[method-assign]
    first = asyncio.create_task(session.compact())
    await asyncio.sleep(0)
    second = asyncio.create_task(session.compact("focus"))
    await asyncio.sleep(0)
    release.set()
    a, b = await asyncio.gather(first, second)
    assert sorted([a.status, b.status]) == ["compacted", "skipped"]
    assert "compaction already running" in (b.message or a.message or "")
    done = [e for e in events if e.type == "compaction_end" and e.result is not None]  # type: ignore[union-attr]
    assert len(done) == 1
    entries = await session.writer.path_entries()
    assert sum(1 for e in entries if e.type == "compaction") == 1
    await session.close()
    await store.close()
    _ = started


async def test_abort_cancels_a_running_compaction_cleanly() -> None:
    release = asyncio.Event()
    provider = FauxProvider([FauxResponse(text="a " * 200), FauxResponse(text="b " * 200),
                             FauxResponse(text="SUMMARY " * 50, chunk_size=1, delay_s=0.01)])
    agent = Agent(AgentOptions(model=faux_model(context_window=100000), provider=provider))
    store = MemoryStore()
    writer = await SessionWriter.create(store, cwd="/tmp")
    session = await AgentSession.start(agent, writer, record_settings=True,
                                       compaction=CompactionSettings(True, 1000, 10))
    events: list[AgentEvent] = []
    session.subscribe(lambda e: (events.append(e), release.set() if e.type == "compaction_start" else None))
    await session.prompt("one " * 50)
    await session.prompt("two " * 50)
    before = list(agent.messages)
    task = asyncio.create_task(session.compact())
    await release.wait()
    await asyncio.sleep(0.05)
    session.abort("Escape")
    outcome = await task
    assert outcome.status == "aborted"
    end = [e for e in events if e.type == "compaction_end"][-1]
    assert end.to_json()["aborted"] is True and "result" not in end.to_json()
    assert agent.messages == before  # nothing changed
    entries = await session.writer.path_entries()
    assert not any(e.type == "compaction" for e in entries)
    await session.close()
    await store.close()
