"""compose_hooks: several hook layers (library, settings hooks, permissions) act as one."""

from __future__ import annotations

from typing import Any

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.hooks import (
    AfterToolCallResult,
    AgentHooks,
    BeforeToolCallResult,
    PrepareNextTurnUpdate,
    ToolCallContext,
    TurnContext,
    compose_hooks,
)
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import ToolResult, text_result
from opi_cli.ai.providers.faux import FauxResponse, FauxToolCall
from opi_cli.ai.types import TextContent
from tests.test_agent_loop import Gate, make_agent


async def test_first_blocking_layer_wins_and_later_layers_are_not_asked() -> None:
    asked: list[str] = []

    async def allow(ctx: ToolCallContext) -> BeforeToolCallResult | None:
        asked.append("allow")
        return None

    async def deny(ctx: ToolCallContext) -> BeforeToolCallResult:
        asked.append("deny")
        return BeforeToolCallResult(True, "denied by rule")

    async def never(ctx: ToolCallContext) -> BeforeToolCallResult | None:
        asked.append("never")
        return None

    hooks = compose_hooks(AgentHooks(before_tool_call=allow), None, AgentHooks(before_tool_call=deny),
                          AgentHooks(before_tool_call=never))
    gate = Gate()
    agent, _, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="ok")], [gate], hooks=hooks
    )
    await agent.prompt("go")
    assert asked == ["allow", "deny"]
    assert gate.log == []
    assert agent.messages[2].content[0].text == "denied by rule"  # type: ignore[union-attr]


async def test_after_layers_chain_transforms_chain_and_stop_is_any() -> None:
    async def first(ctx: ToolCallContext, result: ToolResult) -> AfterToolCallResult:
        return AfterToolCallResult(content=(TextContent(result.text + " +1"),))

    async def second(ctx: ToolCallContext, result: ToolResult) -> AfterToolCallResult:
        return AfterToolCallResult(content=(TextContent(result.text + " +2"),), is_error=True)

    seen: list[int] = []

    async def t1(messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
        seen.append(len(messages))
        return messages

    async def t2(messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
        seen.append(-len(messages))
        return messages

    async def no(ctx: TurnContext) -> bool:
        return False

    async def yes(ctx: TurnContext) -> bool:
        return True

    hooks = compose_hooks(
        AgentHooks(after_tool_call=first, transform_context=t1, should_stop_after_turn=no),
        AgentHooks(after_tool_call=second, transform_context=t2, should_stop_after_turn=yes),
    )
    gate = Gate()
    gate.event("a").set()
    agent, _provider, _ = make_agent(
        [FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})]), FauxResponse(text="never")], [gate], hooks=hooks
    )
    await agent.prompt("go")
    result = agent.messages[2]
    assert result.content[0].text == "done a +1 +2"  # type: ignore[union-attr]
    assert result.is_error is True  # type: ignore[union-attr]
    assert seen == [1, -1]  # both transforms ran, in order, once (then the turn stopped)
    assert len(agent.messages) == 3  # stopped after the tool turn: no second request


async def test_prepare_updates_merge_later_fields_win() -> None:
    async def a(ctx: TurnContext) -> PrepareNextTurnUpdate:
        return PrepareNextTurnUpdate(system_prompt="A", thinking_level="low")

    async def b(ctx: TurnContext) -> PrepareNextTurnUpdate:
        return PrepareNextTurnUpdate(system_prompt="B")

    hooks = compose_hooks(AgentHooks(prepare_next_turn=a), AgentHooks(prepare_next_turn=b))
    assert hooks.prepare_next_turn is not None
    ctx: Any = None
    update = await hooks.prepare_next_turn(ctx)
    assert update == PrepareNextTurnUpdate(system_prompt="B", thinking_level="low")
    assert compose_hooks(AgentHooks()).before_tool_call is None
    single = AgentHooks(after_tool_call=None)
    assert compose_hooks(single) is single
    assert text_result("x").text == "x"
