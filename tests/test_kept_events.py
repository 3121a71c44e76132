"""Stream events are true snapshots: an event kept by a subscriber and read after the run
shows the message exactly as it was when the event was made (PROTOCOL.md §3).

Each path (text, thinking, tool calls, a failure, an abort) runs through the real loop and
the real wire adapters against the mock LLM server (real HTTP and SSE). The subscriber keeps
every event without looking at it; what each ``message_update`` *should* show is rebuilt
from the deltas alone, and only after the run are the kept snapshots read and compared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import AgentOptions, LoopAgent
from opi_cli.agent.events import AgentEvent, MessageEnd, MessageStart, MessageUpdate, TurnEnd
from opi_cli.agent.loop import RetrySettings
from opi_cli.agent.tool import ToolResult, UpdateCallback, text_result
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart
from opi_cli.ai.model import Model
from opi_cli.ai.provider import parse_partial_json
from opi_cli.ai.stream import ApiProvider
from opi_cli.ai.types import AssistantMessage, TextContent, ThinkingContent, ToolCall, message_to_json
from tests.mock_llm import MockLLM

APIS = {
    "chat": ("openai-completions", "openai"),
    "anthropic": ("anthropic-messages", "anthropic"),
    "responses": ("openai-responses", "openai"),
}


class Echo:
    name = "echo"
    description = "echo"
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"text": {"type": "string"}}}
    execution_mode = "parallel"

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        return text_result(f"echo {args.get('text')}")


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as srv:
        yield srv


def agent_for(srv: MockLLM, api: str) -> LoopAgent:
    wire, provider = APIS[api]
    model = Model("mock-model", provider, wire, srv.base_url + "/v1", reasoning=True)
    return LoopAgent(
        AgentOptions(
            model=model,
            provider=ApiProvider(),
            tools=[Echo()],
            retry=RetrySettings(enabled=False),
            thinking_level="medium",
        )
    )


@dataclass
class Expected:
    """What a consumer rebuilding the message from the deltas alone sees at each event."""

    blocks: list[list[Any]] = field(default_factory=list)  # [kind, text, final content or None]

    def feed(self, ev: ContentStart | ContentDelta | ContentEnd) -> list[tuple[str, JsonValue]]:
        if isinstance(ev, ContentStart):
            while len(self.blocks) <= ev.content_index:
                self.blocks.append([ev.kind, "", None])
        elif isinstance(ev, ContentDelta):
            self.blocks[ev.content_index][1] += ev.delta
        else:
            self.blocks[ev.content_index][2] = ev.content
        return [self._view(kind, text, final) for kind, text, final in self.blocks]

    @staticmethod
    def _view(kind: str, text: str, final: object) -> tuple[str, JsonValue]:
        if isinstance(final, TextContent):
            return "text", final.text
        if isinstance(final, ThinkingContent):
            return "thinking", final.thinking
        if isinstance(final, ToolCall):
            return "toolcall", final.arguments
        return kind, parse_partial_json(text) if kind == "toolcall" else text


def shown(message: AssistantMessage) -> list[tuple[str, JsonValue]]:
    out: list[tuple[str, JsonValue]] = []
    for c in message.content:
        if isinstance(c, TextContent):
            out.append(("text", c.text))
        elif isinstance(c, ThinkingContent):
            out.append(("thinking", c.thinking))
        else:
            out.append(("toolcall", c.arguments))
    return out


async def run_keeping(agent: LoopAgent, text: str, *, abort_on: str | None = None) -> list[AgentEvent]:
    kept: list[AgentEvent] = []

    def keep(ev: AgentEvent) -> None:
        kept.append(ev)  # kept, not looked at: a lazy snapshot must not be forced here
        source = ev.source if isinstance(ev, MessageUpdate) else None
        if abort_on is not None and isinstance(source, ContentDelta) and source.kind == abort_on:
            agent.abort()

    agent.subscribe(keep)
    await agent.prompt(text)
    return kept


def check_kept(kept: list[AgentEvent]) -> int:
    """Compare every kept snapshot, read now, with what it showed when it was made."""
    expected = Expected()
    checked = 0
    finals: dict[int, dict[str, JsonValue]] = {}
    for n, ev in enumerate(kept):
        if isinstance(ev, MessageStart) and isinstance(ev.message, AssistantMessage):
            expected = Expected()
        if isinstance(ev, MessageUpdate):
            want = expected.feed(ev.source)
            assert shown(ev.message) == want, f"event {n} ({ev.source.type}) changed after it was made"
            checked += 1
        if isinstance(ev, MessageEnd | TurnEnd) and isinstance(ev.message, AssistantMessage):
            finals[n] = message_to_json(ev.message)
    for n, json_then in finals.items():
        message = kept[n].message  # type: ignore[attr-defined]
        assert message_to_json(message) == json_then
    return checked


def text_step(t: str) -> dict[str, Any]:
    return {"text": t}


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
async def test_text_path_keeps_its_snapshots(mock: MockLLM, api: str) -> None:
    mock.set_script({"responses": [{"steps": [text_step("The quick brown fox jumps over the lazy dog.")],
                                    "chunk_size": 5}]})
    kept = await run_keeping(agent_for(mock, api), "hi")
    assert check_kept(kept) > 8


@pytest.mark.parametrize("api", ["responses", "anthropic", "chat"])
async def test_thinking_path_keeps_its_snapshots(mock: MockLLM, api: str) -> None:
    steps = [{"thinking": "Let me think about the question first.", "signature": "sig-1"}, text_step("Done thinking.")]
    mock.set_script({"responses": [{"steps": steps, "chunk_size": 6}]})
    kept = await run_keeping(agent_for(mock, api), "think")
    assert check_kept(kept) > 8
    final = next(e.message for e in kept if isinstance(e, TurnEnd))
    assert isinstance(final.content[0], ThinkingContent)


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
async def test_tool_call_path_keeps_its_snapshots(mock: MockLLM, api: str) -> None:
    steps = [text_step("Calling."), {"tool_call": {"name": "echo", "arguments": {"text": "a long argument value"}}}]
    mock.set_script({"responses": [{"steps": steps, "chunk_size": 4}, {"steps": [text_step("ok")]}]})
    kept = await run_keeping(agent_for(mock, api), "call")
    assert check_kept(kept) > 8
    first = next(e.message for e in kept if isinstance(e, TurnEnd))
    assert first.tool_calls[0].arguments == {"text": "a long argument value"}


@pytest.mark.parametrize("api", ["chat", "anthropic", "responses"])
async def test_failure_path_keeps_its_snapshots(mock: MockLLM, api: str) -> None:
    steps = [text_step("Calling."), {"tool_call": {"name": "echo", "arguments": {"text": "never finished argument"}}}]
    failing = {"steps": steps, "chunk_size": 3, "stream_error_after_events": 12,
               "stream_error": {"type": "server_error", "message": "boom"}}
    mock.set_script({"responses": [failing]})
    kept = await run_keeping(agent_for(mock, api), "fail")
    updates = [e for e in kept if isinstance(e, MessageUpdate)]
    assert any(isinstance(e.source, ContentStart) and e.source.kind == "toolcall" for e in updates)
    assert check_kept(kept) > 4
    end = next(e.message for e in kept if isinstance(e, TurnEnd))
    assert end.stop_reason == "error"


@pytest.mark.parametrize("api", ["chat", "anthropic", "responses"])
async def test_abort_path_keeps_its_snapshots(mock: MockLLM, api: str) -> None:
    steps = [text_step("Calling."), {"tool_call": {"name": "echo", "arguments": {"text": "aborted argument"}}}]
    mock.set_script({"responses": [{"steps": steps, "chunk_size": 3, "delay_ms": 5}]})
    kept = await run_keeping(agent_for(mock, api), "abort", abort_on="toolcall")
    assert check_kept(kept) > 2
    end = next(e.message for e in kept if isinstance(e, TurnEnd))
    assert end.stop_reason == "aborted"
    await asyncio.sleep(0)
