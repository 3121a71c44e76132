"""The ``--json`` stream stays linear in the reply (issue 15): a bound, the shapes, the coalescing.

pi's stream (and opi's before this) put the whole message so far in every
``message_update``: a 1 MB reply in 64-byte deltas wrote 8.7 GB. Now a reply costs its
deltas plus one whole copy on ``message_end``.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from opi_cli.agent.events import (
    AgentStart,
    MessageEnd,
    MessageStart,
    MessageUpdate,
    ToolExecutionEnd,
    ToolExecutionUpdate,
)
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart
from opi_cli.ai.types import AssistantMessage, TextContent, ThinkingContent, Usage
from opi_cli.cli import event_stream
from opi_cli.cli.event_stream import EventWriter
from opi_cli.cli.schema import event_stream_schema
from tests.conftest import ROOT, run_opi
from tests.mock_llm import MockLLM

MB = 1_000_000


def _args(srv: MockLLM, *extra: str) -> list[str]:
    return ["--json", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "x", "--model", "m", *extra]


def _run_bounded(args: list[str], cwd: Path, bound: int) -> bytes:
    """Run opi, reading stdout as it comes; a run that passes ``bound`` bytes is killed (and fails)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "opi_cli", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out = bytearray()
    try:
        while chunk := proc.stdout.read1(1 << 20):
            out += chunk
            if len(out) > bound:
                raise AssertionError(f"stdout passed {bound} bytes; the stream is not linear")
        assert proc.wait(120) == 0, proc.stderr.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return bytes(out)


@pytest.mark.parametrize("chunk", [64])
def test_a_1mb_reply_writes_under_3mb(workdir: Path, opi_home: Path, chunk: int) -> None:
    (opi_home / "settings.json").write_text(json.dumps({"compaction": {"enabled": False}}))
    reply = ("0123456789abcdef" * (MB // 16 + 1))[:MB]
    script = {"responses": [{"steps": [{"text": reply}], "chunk_size": chunk}]}
    with MockLLM(script) as srv:
        out = _run_bounded(_args(srv, "write a lot"), workdir, 3 * MB)
    assert len(out) <= 3 * MB
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[-1]["type"] == "session_summary" and lines[-1]["exitCode"] == 0
    deltas = [e["assistantMessageEvent"] for e in lines if e["type"] == "message_update"]
    assert "".join(d.get("delta", "") for d in deltas if d["type"] == "text_delta") == reply
    end = next(e for e in lines if e["type"] == "message_end" and e["message"]["role"] == "assistant")
    assert end["message"]["content"] == [{"type": "text", "text": reply}]
    # the deltas of a fast stream are merged: far fewer lines than SSE chunks
    assert len(deltas) < MB // chunk // 4
    validator = jsonschema.Draft202012Validator(event_stream_schema())
    for e in lines:
        assert not list(validator.iter_errors(e)), e["type"]


def test_json_snapshots_is_pis_shape(workdir: Path) -> None:
    script = {"responses": [{"steps": [{"thinking": "think"}, {"text": "abcdefgh"}], "chunk_size": 2, "delay_ms": 80}]}
    with MockLLM(script) as srv:
        proc = run_opi(_args(srv, "--json-snapshots", "go"), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    validator = jsonschema.Draft202012Validator(event_stream_schema(snapshots=True))
    for e in lines:
        assert not list(validator.iter_errors(e)), e["type"]
    updates = [e for e in lines if e["type"] == "message_update"]
    texts = ["".join(c.get("text", "") for c in u["message"]["content"]) for u in updates]
    assert texts[-1] == "abcdefgh" and texts == sorted(texts, key=len)  # snapshots, growing
    ends = {u["assistantMessageEvent"]["type"]: u["assistantMessageEvent"] for u in updates}
    assert ends["text_end"]["content"] == "abcdefgh" and ends["thinking_end"]["content"] == "think"
    turn_end = next(e for e in lines if e["type"] == "turn_end")
    assert turn_end["message"]["content"][-1]["text"] == "abcdefgh"
    # and the linear schema refuses a snapshot line
    linear = jsonschema.Draft202012Validator(event_stream_schema())
    assert list(linear.iter_errors(updates[1]))


def test_linear_turn_and_agent_end_list_messages_without_content(workdir: Path) -> None:
    script = {"responses": [{"steps": [{"text": "hello there"}]}]}
    with MockLLM(script) as srv:
        proc = run_opi(_args(srv, "hi"), cwd=workdir)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    turn_end = next(e for e in lines if e["type"] == "turn_end")
    agent_end = next(e for e in lines if e["type"] == "agent_end")
    assert "content" not in turn_end["message"] and turn_end["message"]["stopReason"] == "stop"
    assert [m["role"] for m in agent_end["messages"]] == ["user", "assistant"]
    assert all("content" not in m for m in agent_end["messages"])
    text_end = next(e for e in lines if e["type"] == "message_update"
                    and e["assistantMessageEvent"]["type"] == "text_end")
    assert text_end["assistantMessageEvent"] == {"type": "text_end", "contentIndex": 0}


@pytest.mark.parametrize("flags", [[], ["--snapshots"], ["--rpc"], ["--rpc", "--snapshots"]])
def test_schema_commands_print_valid_schemas(workdir: Path, flags: list[str]) -> None:
    proc = run_opi(["schema", *flags], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    jsonschema.Draft202012Validator.check_schema(json.loads(proc.stdout))


# -- the writer itself ------------------------------------------------------------------------


class _Snap:
    def __init__(self, text: str) -> None:
        self.text = text

    def message(self) -> AssistantMessage:
        return AssistantMessage((TextContent(self.text),), "faux", "faux", "m", Usage(), "stop", 1)


def _delta(kind: Any, index: int, text: str, upto: str = "") -> MessageUpdate:
    return MessageUpdate(ContentDelta(kind, index, text, _Snap(upto or text)))


def _lines(buf: io.BytesIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_writer_merges_the_deltas_of_one_block_until_another_line() -> None:
    async def scenario() -> list[dict[str, Any]]:
        buf = io.BytesIO()
        w = EventWriter(buf, coalesce_s=30)
        w(AgentStart())
        w(MessageUpdate(ContentStart("text", 0, _Snap(""))))
        for piece in ("ab", "cd", "ef"):
            w(_delta("text", 0, piece))
        w(_delta("thinking", 1, "hm"))  # another block: the text deltas go out first
        w(MessageUpdate(ContentEnd("thinking", 1, ThinkingContent("hm"), _Snap(""))))
        w.line({"type": "response"})
        return _lines(buf)

    lines = asyncio.run(scenario())
    assert [(e["type"], e.get("assistantMessageEvent", {}).get("delta")) for e in lines] == [
        ("agent_start", None), ("message_update", None), ("message_update", "abcdef"),
        ("message_update", "hm"), ("message_update", None), ("response", None),
    ]


def test_writer_flushes_waiting_deltas_after_the_window() -> None:
    class Out(io.BytesIO):
        written: asyncio.Event

        def write(self, data: Any) -> int:
            self.written.set()
            return super().write(data)

    async def scenario() -> tuple[bytes, list[dict[str, Any]]]:
        buf = Out()
        buf.written = asyncio.Event()
        w = EventWriter(buf, coalesce_s=0.01)
        w(_delta("text", 0, "a"))
        w(_delta("text", 0, "b"))
        before = buf.getvalue()
        await asyncio.wait_for(buf.written.wait(), 60)  # the window's timer, not another event, writes it
        return before, _lines(buf)

    before, lines = asyncio.run(scenario())
    assert before == b""
    assert lines == [{"type": "message_update",
                      "assistantMessageEvent": {"type": "text_delta", "contentIndex": 0, "delta": "ab"}}]


def test_writer_caps_a_waiting_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_stream, "MAX_PENDING", 5)
    buf = io.BytesIO()
    w = EventWriter(buf, coalesce_s=30)
    for piece in ("abc", "def", "g"):
        w(_delta("text", 0, piece))
    assert [e["assistantMessageEvent"]["delta"] for e in _lines(buf)] == ["abcdef"]
    w.flush()
    assert [e["assistantMessageEvent"]["delta"] for e in _lines(buf)] == ["abcdef", "g"]


def test_writer_with_snapshots_attaches_the_last_snapshot() -> None:
    buf = io.BytesIO()
    w = EventWriter(buf, snapshots=True, coalesce_s=30)
    w(_delta("text", 0, "ab", "ab"))
    w(_delta("text", 0, "cd", "abcd"))
    w(MessageEnd(_Snap("abcd").message()))
    merged, end = _lines(buf)
    assert merged["message"]["content"] == [{"type": "text", "text": "abcd"}]
    assert merged["assistantMessageEvent"]["delta"] == "abcd"
    assert end["type"] == "message_end"


def test_writer_keeps_the_latest_of_a_tools_updates() -> None:
    """Each update carries the output so far: of a burst, the last one says it all."""
    buf = io.BytesIO()
    w = EventWriter(buf, coalesce_s=30)
    for n in range(1, 51):
        w(ToolExecutionUpdate("c1", "bash", {"command": "seq 50"}, (TextContent("x\n" * n),)))
    w(ToolExecutionUpdate("c2", "bash", {"command": "true"}, (TextContent("y"),)))
    w(ToolExecutionEnd("c1", "bash", (TextContent("x\n" * 50),), None, False))
    first, second, end = _lines(buf)
    assert first["toolCallId"] == "c1" and first["partialResult"]["content"][0]["text"] == "x\n" * 50
    assert second["toolCallId"] == "c2" and end["type"] == "tool_execution_end"


def test_writer_survives_a_reader_that_went_away() -> None:
    class Closed(io.BytesIO):
        def write(self, data: Any) -> int:
            raise BrokenPipeError

    w = EventWriter(Closed(), coalesce_s=0)
    w(AgentStart())
    w.line({"type": "x"})
    assert w.broken


def _slow_reply(reply: str, piece: int) -> tuple[EventWriter, io.BytesIO]:
    """The worst pace for the window: the timer fires after every delta (a slow model)."""
    buf = io.BytesIO()
    w = EventWriter(buf, coalesce_s=30)
    empty = AssistantMessage((), "faux", "faux", "m", Usage(), "stop", 1)
    w(MessageStart(empty))
    w(MessageUpdate(ContentStart("text", 0, _Snap(""))))
    for i in range(0, len(reply), piece):
        w(MessageUpdate(ContentDelta("text", 0, reply[i : i + piece], _Snap(""))))
        w.tick()
    w(MessageUpdate(ContentEnd("text", 0, TextContent(reply), _Snap(""))))
    w(MessageEnd(AssistantMessage((TextContent(reply),), "faux", "faux", "m", Usage(), "stop", 1)))
    return w, buf


def test_a_1mb_reply_at_a_slow_pace_still_writes_under_3mb() -> None:
    """4-byte deltas, each alone in its window: before the framing budget every one cost a
    ~100-byte line (about 25x the reply); the stream as a whole must stay within 3x."""
    reply = ("0123456789abcdef" * (MB // 16 + 1))[:MB]
    _, buf = _slow_reply(reply, 4)
    assert len(buf.getvalue()) <= 3 * MB
    lines = _lines(buf)
    deltas = "".join(e["assistantMessageEvent"].get("delta", "") for e in lines if e["type"] == "message_update")
    assert deltas == reply  # nothing lost or reordered by waiting


def test_a_short_slow_reply_gets_a_line_per_window() -> None:
    """The budget only bites past FREE_FRAMING: a short reply still streams delta by delta."""
    _, buf = _slow_reply("a few words, slowly", 4)
    updates = [e for e in _lines(buf) if e["type"] == "message_update"
               and e["assistantMessageEvent"]["type"] == "text_delta"]
    assert [e["assistantMessageEvent"]["delta"] for e in updates] == ["a fe", "w wo", "rds,", " slo", "wly"]
