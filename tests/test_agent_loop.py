"""The agent loop and Agent wrapper, driven by the scripted faux provider."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.events import AgentEvent
from opi_cli.agent.hooks import AgentHooks, BeforeToolCallResult, ToolCallContext
from opi_cli.agent.loop import SKIPPED_TEXT, RetrySettings
from opi_cli.agent.tool import ToolResult, ToolUpdate, UpdateCallback, text_result
from opi_cli.ai.events import ProviderError
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.ai.types import AssistantMessage, TextContent, ToolResultMessage, UserMessage
from opi_cli.cli.event_stream import event_json


class Gate:
    """A tool that waits until released, recording start/end order."""

    def __init__(self, name: str = "gate", mode: str = "parallel") -> None:
        self.name = name
        self.description = "waits"
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["id"],
        }
        self.execution_mode = mode
        self.log: list[str] = []
        self.release: dict[str, asyncio.Event] = {}
        self.started: dict[str, asyncio.Event] = {}

    def event(self, key: str) -> asyncio.Event:
        return self.release.setdefault(key, asyncio.Event())

    def started_event(self, key: str) -> asyncio.Event:
        return self.started.setdefault(key, asyncio.Event())

    async def execute(self, call_id: str, args: dict[str, Any], signal: AbortSignal, on_update: UpdateCallback | None) -> ToolResult:
        key = args["id"]
        self.log.append(f"start:{key}")
        self.started_event(key).set()
        if on_update:
            on_update(ToolUpdate((TextContent(f"working {key}"),)))
        waiter = asyncio.ensure_future(self.event(key).wait())
        aborted = asyncio.ensure_future(signal.wait())
        await asyncio.wait({waiter, aborted}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        aborted.cancel()
        self.log.append(f"end:{key}")
        if signal.aborted:
            return text_result(f"{key}\n\nCommand aborted", is_error=True)
        return text_result(f"done {key}")


def make_agent(responses: list[Any], tools: list[Any] | None = None, **kw: Any) -> tuple[Agent, FauxProvider, list[AgentEvent]]:
    provider = FauxProvider(list(responses))
    agent = Agent(AgentOptions(model=faux_model(), provider=provider, tools=tools or [], **kw))
    events: list[AgentEvent] = []
    agent.subscribe(events.append)
    return agent, provider, events


def kinds(events: list[AgentEvent]) -> list[str]:
    out = []
    for e in events:
        if e.type == "message_update":
            continue
        if e.type in ("message_start", "message_end"):
            out.append(f"{e.type}:{e.message.role}")  # type: ignore[union-attr]
        else:
            out.append(e.type)
    return out


async def test_event_order_prompt_tool_answer() -> None:
    gate = Gate()
    gate.event("a").set()
    agent, provider, events = make_agent(
        [FauxResponse(text="look", tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="done")],
        [gate],
    )
    await agent.prompt("go")
    assert kinds(events) == [
        "agent_start", "turn_start", "message_start:user", "message_end:user",
        "message_start:assistant", "message_end:assistant",
        "tool_execution_start", "tool_execution_update", "tool_execution_end",
        "message_start:toolResult", "message_end:toolResult", "turn_end", "turn_start",
        "message_start:assistant", "message_end:assistant", "turn_end", "agent_end",
    ]
    # the second request carried the tool result back
    second = provider.requests[1].messages
    assert isinstance(second[-1], ToolResultMessage) and second[-1].content[0].text == "done a"  # type: ignore[union-attr]
    end = events[-1]
    assert end.type == "agent_end" and len(end.messages) == 4  # type: ignore[union-attr]


async def test_snapshots_are_true_snapshots() -> None:
    agent, _, events = make_agent([FauxResponse(text="abcdefgh", chunk_size=2)])
    await agent.prompt("x")
    updates = [e for e in events if e.type == "message_update"]
    texts = [event_json(e, snapshots=True)["message"]["content"][0]["text"] for e in updates]
    assert texts == ["", "ab", "abcd", "abcdef", "abcdefgh", "abcdefgh"]
    # the default wire form is the delta alone (linear output, PROTOCOL.md §3)
    assert [e.to_json() for e in updates[1:3]] == [
        {"type": "message_update", "assistantMessageEvent": {"type": "text_delta", "contentIndex": 0, "delta": d}}
        for d in ("ab", "cd")
    ]
    assert updates[-1].to_json()["assistantMessageEvent"] == {"type": "text_end", "contentIndex": 0}


async def test_parallel_results_in_call_order() -> None:
    gate = Gate()
    agent, _, events = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "slow"}), FauxToolCall("gate", {"id": "fast"})]),
         FauxResponse(text="ok")],
        [gate],
    )
    task = asyncio.create_task(agent.prompt("go"))
    await gate.started_event("slow").wait()
    await gate.started_event("fast").wait()  # both running at once: parallel
    gate.event("fast").set()
    await asyncio.sleep(0)
    gate.event("slow").set()
    await task
    assert gate.log.index("end:fast") < gate.log.index("end:slow")
    ends = [e.tool_call_id for e in events if e.type == "tool_execution_end"]  # type: ignore[union-attr]
    starts = [e.tool_call_id for e in events if e.type == "tool_execution_start"]  # type: ignore[union-attr]
    assert ends == starts  # reported in call order although "fast" finished first


async def test_sequential_tool_makes_batch_sequential_and_steering_skips_rest() -> None:
    seq = Gate("seq", "sequential")
    agent, provider, _events = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("seq", {"id": "one"}), FauxToolCall("seq", {"id": "two"})]),
         FauxResponse(text="after steer")],
        [seq],
    )
    task = asyncio.create_task(agent.prompt("go"))
    await seq.started_event("one").wait()
    agent.steer("change of plan")
    seq.event("one").set()
    await task
    assert seq.log == ["start:one", "end:one"]
    results = [m for m in agent.messages if isinstance(m, ToolResultMessage)]
    assert results[1].is_error and results[1].content[0].text == SKIPPED_TEXT  # type: ignore[union-attr]
    last_request = provider.requests[-1].messages
    assert isinstance(last_request[-1], UserMessage) and last_request[-1].content[0].text == "change of plan"  # type: ignore[union-attr]


async def test_steering_in_parallel_mode_delivered_after_batch() -> None:
    gate = Gate()
    agent, provider, events = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="ok")], [gate]
    )
    task = asyncio.create_task(agent.prompt("go"))
    await gate.started_event("a").wait()
    agent.steer("steer now")
    gate.event("a").set()
    await task
    assert gate.log == ["start:a", "end:a"]
    req = provider.requests[1].messages
    assert isinstance(req[-2], ToolResultMessage) and req[-2].content[0].text == "done a"  # type: ignore[union-attr]
    assert isinstance(req[-1], UserMessage) and req[-1].content[0].text == "steer now"  # type: ignore[union-attr]
    queue = [e for e in events if e.type == "queue_update"]
    assert queue[0].steering == ("steer now",) and queue[-1].steering == ()  # type: ignore[union-attr]


async def test_follow_up_only_when_agent_would_stop() -> None:
    gate = Gate()
    agent, provider, events = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="first done"),
         FauxResponse(text="follow done")],
        [gate],
    )
    task = asyncio.create_task(agent.prompt("go"))
    await gate.started_event("a").wait()
    agent.follow_up("and then this")
    gate.event("a").set()
    await task
    # the follow-up was not in request 2 (tools pending), only in request 3
    assert not any(isinstance(m, UserMessage) and m.content[0].text == "and then this"  # type: ignore[union-attr]
                   for m in provider.requests[1].messages)
    assert provider.requests[2].messages[-1].content[0].text == "and then this"  # type: ignore[union-attr]
    assert sum(1 for e in events if e.type == "agent_start") == 1


async def test_validation_error_names_each_problem_and_loop_goes_on() -> None:
    gate = Gate()
    agent, _provider, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"n": "many"})]), FauxResponse(text="sorry")], [gate]
    )
    await agent.prompt("go")
    result = next(m for m in agent.messages if isinstance(m, ToolResultMessage))
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error
    assert 'Validation failed for tool "gate"' in text
    assert "id: must have required property 'id'" in text
    assert "n: must be integer" in text
    assert '"n": "many"' in text  # echoes the received arguments
    assert agent.messages[-1].text == "sorry"  # type: ignore[union-attr]


async def test_numeric_strings_are_coerced() -> None:
    gate = Gate()
    gate.event("a").set()
    seen: list[dict[str, Any]] = []

    async def before(ctx: ToolCallContext) -> BeforeToolCallResult | None:
        seen.append(ctx.args)
        return None

    agent, _, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a", "n": "3"})]), FauxResponse(text="ok")],
        [gate], hooks=AgentHooks(before_tool_call=before),
    )
    await agent.prompt("go")
    assert seen == [{"id": "a", "n": 3}]


async def test_unknown_tool_and_blocked_call() -> None:
    async def block(ctx: ToolCallContext) -> BeforeToolCallResult:
        return BeforeToolCallResult(True, "not allowed here")

    gate = Gate()
    agent, _, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("nope", {}), FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="k")],
        [gate], hooks=AgentHooks(before_tool_call=block),
    )
    await agent.prompt("go")
    results = [m for m in agent.messages if isinstance(m, ToolResultMessage)]
    assert [r.content[0].text for r in results] == ["Tool nope not found", "not allowed here"]  # type: ignore[union-attr]
    assert gate.log == []


async def test_abort_kills_running_tool_and_ends_aborted_without_request() -> None:
    gate = Gate()
    agent, provider, _events = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="never")], [gate]
    )
    task = asyncio.create_task(agent.prompt("go"))
    await gate.started_event("a").wait()
    agent.abort()
    await task
    result = next(m for m in agent.messages if isinstance(m, ToolResultMessage))
    assert result.is_error and "Command aborted" in result.content[0].text  # type: ignore[union-attr]
    last = agent.messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "aborted"
    assert len(provider.requests) == 2 and provider._next == 1  # the second call never played a response


async def test_retry_with_configured_delays_then_success() -> None:
    delays: list[float] = []

    async def fake_sleep(s: float) -> None:
        delays.append(s)

    err = ProviderError("rate_limit", "429 Rate limit reached", 429)
    agent, _provider, events = make_agent(
        [FauxResponse(error=err), FauxResponse(error=ProviderError("server", "500 boom", 500)), FauxResponse(text="ok")],
        retry=RetrySettings(True, 3, 100, 60000),
    )
    agent.options.hooks = AgentHooks()
    from opi_cli.agent import loop as loop_mod

    orig = loop_mod.LoopConfig.__init__
    # inject the sleep through the config the Agent builds
    def patched(self: Any, *a: Any, **k: Any) -> None:
        orig(self, *a, **k)
        self.sleep = fake_sleep
    loop_mod.LoopConfig.__init__ = patched  # type: ignore[method-assign]
    try:
        await agent.prompt("hi")
    finally:
        loop_mod.LoopConfig.__init__ = orig  # type: ignore[method-assign]
    assert delays == [0.1, 0.2]
    starts = [e.to_json() for e in events if e.type == "auto_retry_start"]
    assert [(s["attempt"], s["delayMs"]) for s in starts] == [(1, 100), (2, 200)]
    end = [e.to_json() for e in events if e.type == "auto_retry_end"]
    assert end == [{"type": "auto_retry_end", "success": True, "attempt": 2}]
    assert agent.messages[-1].text == "ok"  # type: ignore[union-attr]


async def test_retry_after_header_wins_and_overflow_is_not_retried() -> None:
    agent, _provider, events = make_agent(
        [FauxResponse(error=ProviderError("rate_limit", "429", 429, retry_after_ms=5)), FauxResponse(text="ok")],
        retry=RetrySettings(True, 3, 100000, 60000),
    )
    await agent.prompt("hi")
    assert [e.to_json()["delayMs"] for e in events if e.type == "auto_retry_start"] == [5]

    agent2, provider2, events2 = make_agent(
        [FauxResponse(error=ProviderError("overflow", "prompt is too long", 400)), FauxResponse(text="no")]
    )
    await agent2.prompt("hi")
    assert not [e for e in events2 if e.type.startswith("auto_retry")]
    assert agent2.messages[-1].stop_reason == "error"  # type: ignore[union-attr]
    assert len(provider2.requests) == 1


async def test_retries_exhausted_reports_final_error() -> None:
    err = ProviderError("overloaded", "529 Overloaded", 529, retry_after_ms=0)
    agent, provider, events = make_agent([FauxResponse(error=err)] * 5, retry=RetrySettings(True, 2, 1, 0))
    await agent.prompt("hi")
    assert len(provider.requests) == 3
    end = [e.to_json() for e in events if e.type == "auto_retry_end"]
    assert end == [{"type": "auto_retry_end", "success": False, "attempt": 2, "finalError": "529 Overloaded"}]


async def test_max_turns_stops_runaway_loop() -> None:
    gate = Gate()
    gate.event("a").set()
    agent, provider, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})])] * 5, [gate], max_turns=2
    )
    await agent.prompt("go")
    last = agent.messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "error"
    assert "Stopped after 2 turns" in (last.error_message or "")
    assert len(provider.requests) == 2


async def test_terminate_result_stops_without_another_call() -> None:
    class Done:
        name = "finish"
        description = "end"
        parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
        execution_mode = "parallel"

        async def execute(self, *a: Any) -> ToolResult:
            return ToolResult((TextContent("bye"),), None, False, True)

    agent, provider, _ = make_agent([FauxResponse(tool_calls=[FauxToolCall("finish", {})]), FauxResponse(text="x")], [Done()])
    await agent.prompt("go")
    assert len(provider.requests) == 1


async def test_images_to_text_only_model_is_a_clear_error() -> None:
    from opi_cli.ai.types import ImageContent

    provider = FauxProvider([FauxResponse(text="x")])
    agent = Agent(AgentOptions(model=faux_model(images=False), provider=provider))
    await agent.prompt("see", [ImageContent("aGk=", "image/png")])
    last = agent.messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "error"
    assert "does not accept images" in (last.error_message or "")
    assert provider.requests == []


async def test_prompt_while_running_raises_and_errored_messages_are_not_replayed() -> None:
    from opi_cli.errors import AgentError

    gate = Gate()
    agent, _provider, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="ok")], [gate]
    )
    task = asyncio.create_task(agent.prompt("go"))
    await gate.started_event("a").wait()
    try:
        await agent.prompt("again")
        raised = False
    except AgentError:
        raised = True
    gate.event("a").set()
    await task
    assert raised
