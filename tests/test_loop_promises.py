"""Promises of the loop that a caller relies on after ``prompt()`` returns or raises.

- Parallel tool tasks cancelled with the run are awaited first: no tool cleanup runs after.
- A turn hook that raises ends the run with an error message and ``agent_end``, never an
  exception out of ``prompt()``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import AgentOptions, LoopAgent
from opi_cli.agent.events import AgentEnd, AgentEvent
from opi_cli.agent.hooks import AgentHooks, TurnContext
from opi_cli.agent.tool import ToolResult, UpdateCallback, text_result
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model


class SlowCleanup:
    """Runs until cancelled, then needs a few more steps of the event loop to clean up."""

    name = "slow"
    description = "slow"
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"id": {"type": "string"}}}
    execution_mode = "parallel"

    def __init__(self) -> None:
        self.started: dict[str, asyncio.Event] = {}
        self.cleaned: list[str] = []

    def started_event(self, key: str) -> asyncio.Event:
        return self.started.setdefault(key, asyncio.Event())

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        key = str(args["id"])
        self.started_event(key).set()
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            for _ in range(5):
                await asyncio.sleep(0)
            self.cleaned.append(key)
        return text_result("never")


async def test_cancelled_parallel_tools_are_awaited_before_prompt_ends() -> None:
    tool = SlowCleanup()
    calls = [FauxToolCall("slow", {"id": "a"}), FauxToolCall("slow", {"id": "b"})]
    agent = LoopAgent(AgentOptions(faux_model(), FauxProvider([FauxResponse(tool_calls=calls)]), tools=[tool]))
    run = asyncio.create_task(agent.prompt("go"))
    await tool.started_event("a").wait()
    await tool.started_event("b").wait()
    run.cancel()
    try:
        await run
    except asyncio.CancelledError:
        pass
    assert sorted(tool.cleaned) == ["a", "b"]  # both finished their cleanup before prompt() ended


def _failing_agent(hooks: AgentHooks) -> tuple[LoopAgent, list[AgentEvent]]:
    provider = FauxProvider([FauxResponse(text="first answer"), FauxResponse(text="second")])
    agent = LoopAgent(AgentOptions(faux_model(), provider, hooks=hooks))
    events: list[AgentEvent] = []
    agent.subscribe(events.append)
    return agent, events


async def _boom(ctx: TurnContext) -> Any:
    raise ValueError("hook exploded")


async def test_should_stop_after_turn_raising_ends_the_run_with_an_error() -> None:
    agent, events = _failing_agent(AgentHooks(should_stop_after_turn=_boom))
    added = await agent.prompt("hi")
    assert isinstance(events[-1], AgentEnd)
    last = added[-1]
    assert last.stop_reason == "error"  # type: ignore[union-attr]
    assert last.error_message == "The should_stop_after_turn hook failed: ValueError: hook exploded"  # type: ignore[union-attr]
    assert added[-2].text == "first answer"  # type: ignore[union-attr]
    assert not agent.is_running


async def test_prepare_next_turn_raising_ends_the_run_with_an_error() -> None:
    calls: list[int] = []

    async def boom_once(ctx: TurnContext) -> Any:
        calls.append(ctx.turn)
        if len(calls) == 1:
            await _boom(ctx)

    agent, events = _failing_agent(AgentHooks(prepare_next_turn=boom_once))
    added = await agent.prompt("hi")
    assert isinstance(events[-1], AgentEnd)
    assert added[-1].error_message == "The prepare_next_turn hook failed: ValueError: hook exploded"  # type: ignore[union-attr]
    # the next prompt works: the failed turn is not replayed to the model
    await agent.prompt("again")
    assert agent.last_assistant is not None and agent.last_assistant.text == "second"
