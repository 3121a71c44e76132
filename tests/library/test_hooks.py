"""The six hooks of seed 001 through ``AgentBuilder``: each works, and each one raising never
crashes the loop (the run ends with ``agent_end``; what the program sees is said per hook)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from opi_cli import (
    AfterToolCallResult,
    AgentBuilder,
    AgentError,
    AgentHooks,
    BeforeToolCallResult,
    Config,
    PrepareNextTurnUpdate,
    ToolCallContext,
    ToolResult,
    TurnContext,
    tool,
)
from opi_cli._util.abort import AbortSignal
from opi_cli.agent.events import AgentEnd, AgentEvent
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.types import Message, TextContent, UserMessage
from tests.mock_llm import MockLLM


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as srv:
        yield srv


def builder(srv: MockLLM, script: list[dict[str, Any]]) -> AgentBuilder:
    srv.set_script({"responses": script})
    cfg = Config().with_api_key("k").with_model("gpt-4o").with_base_url(srv.base_url + "/v1")
    return AgentBuilder(env={}).with_config(cfg).with_retry(enabled=False).with_tools([shout])


def text(t: str) -> dict[str, Any]:
    return {"steps": [{"text": t}]}


def call(args: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": "shout", "arguments": args}}]}


def ends(events: list[AgentEvent]) -> int:
    return sum(isinstance(e, AgentEnd) for e in events)


async def boom(*args: Any) -> Any:
    raise ValueError("hook exploded")


def sync_boom(*args: Any) -> Any:
    raise ValueError("hook exploded")


# -- each hook works ------------------------------------------------------------------------------


async def test_transform_context_and_convert_to_llm(mock: MockLLM) -> None:
    async def add_note(messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
        return [*messages, UserMessage((TextContent("(note from the hook)"),), 1)]

    def converted(messages: list[AgentMessage]) -> list[Message]:
        from opi_cli.agent.messages import convert_to_llm

        return [m for m in convert_to_llm(messages) if "secret" not in json.dumps(getattr(m, "role", ""))] + []

    agent = builder(mock, [text("ok")]).with_transform_context(add_note).with_convert_to_llm(converted).build()
    assert await agent.run("hi") == "ok"
    assert mock.requests[0]["body"]["messages"][-1]["content"] == "(note from the hook)"


async def test_before_and_after_tool_call(mock: MockLLM) -> None:
    seen: list[str] = []

    async def before(ctx: ToolCallContext) -> BeforeToolCallResult | None:
        seen.append(f"before {ctx.args['text']}")
        return BeforeToolCallResult(block=True, reason="no shouting at night") if ctx.args["text"] == "no" else None

    async def after(ctx: ToolCallContext, result: ToolResult) -> AfterToolCallResult | None:
        seen.append(f"after {result.text}")
        return AfterToolCallResult(content=(TextContent(result.text + "!"),))

    agent = (
        builder(mock, [call({"text": "hey"}), call({"text": "no"}), text("done")])
        .with_before_tool_call(before)
        .with_after_tool_call(after)
        .build()
    )
    assert await agent.run("shout") == "done"
    assert mock.requests[1]["body"]["messages"][-1]["content"] == "HEY!"
    assert mock.requests[2]["body"]["messages"][-1]["content"] == "no shouting at night!"
    assert seen == ["before hey", "after HEY", "before no", "after no shouting at night"]


async def test_should_stop_after_turn_and_prepare_next_turn(mock: MockLLM) -> None:
    async def stop_after_two(ctx: TurnContext) -> bool:
        return ctx.turn >= 2

    async def new_prompt(ctx: TurnContext) -> PrepareNextTurnUpdate | None:
        return PrepareNextTurnUpdate(system_prompt=f"turn {ctx.turn + 1}")

    agent = (
        builder(mock, [call({"text": "a"}), call({"text": "b"}), text("never asked")])
        .with_system_prompt("turn 1")
        .with_hooks(AgentHooks(should_stop_after_turn=stop_after_two, prepare_next_turn=new_prompt))
        .build()
    )
    assert await agent.run("go") == ""  # stopped after a tool turn: its reply had no text
    assert len(mock.requests) == 2
    assert [r["body"]["messages"][0]["content"] for r in mock.requests] == ["turn 1", "turn 2"]


async def test_several_hook_sets_combine_in_order(mock: MockLLM) -> None:
    order: list[str] = []

    def layer(name: str) -> AgentHooks:
        async def before(ctx: ToolCallContext) -> None:
            order.append(name)

        return AgentHooks(before_tool_call=before)

    agent = builder(mock, [call({"text": "x"}), text("ok")]).with_hooks(layer("first")).with_hooks(layer("second")).build()
    await agent.run("go")
    assert order == ["first", "second"]


# -- each hook raising ----------------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["transform_context", "convert_to_llm"])
async def test_a_raising_context_hook_is_an_agent_error(mock: MockLLM, hook: str) -> None:
    fn = sync_boom if hook == "convert_to_llm" else boom
    agent = builder(mock, [text("never")]).with_hooks(AgentHooks(**{hook: fn})).build()
    events: list[AgentEvent] = []
    agent.subscribe(events.append)
    with pytest.raises(AgentError, match="Preparing the request failed: ValueError: hook exploded"):
        await agent.run("hi")
    assert ends(events) == 1 and mock.requests == []


async def test_a_raising_before_tool_call_blocks_that_call(mock: MockLLM) -> None:
    agent = builder(mock, [call({"text": "x"}), text("went on")]).with_before_tool_call(boom).build()
    assert await agent.run("go") == "went on"
    assert "before_tool_call hook failed: hook exploded" in mock.requests[1]["body"]["messages"][-1]["content"]


async def test_a_raising_after_tool_call_is_an_error_result(mock: MockLLM) -> None:
    agent = builder(mock, [call({"text": "x"}), text("went on")]).with_after_tool_call(boom).build()
    assert await agent.run("go") == "went on"
    assert "after_tool_call hook failed: hook exploded" in mock.requests[1]["body"]["messages"][-1]["content"]


@pytest.mark.parametrize("hook", ["should_stop_after_turn", "prepare_next_turn"])
async def test_a_raising_turn_hook_ends_the_run_with_an_agent_error(mock: MockLLM, hook: str) -> None:
    agent = builder(mock, [text("the answer"), text("next run")]).with_hooks(AgentHooks(**{hook: boom})).build()
    events: list[AgentEvent] = []
    agent.subscribe(events.append)
    with pytest.raises(AgentError, match=f"The {hook} hook failed: ValueError: hook exploded"):
        await agent.run("hi")
    assert ends(events) == 1
    assert not agent.loop.is_running
    # the reply itself is kept in the conversation; the error message is not sent again
    with pytest.raises(AgentError):
        await agent.run("again")
    sent = mock.requests[1]["body"]["messages"]
    assert [m["content"] for m in sent] == ["hi", "the answer", "again"]
