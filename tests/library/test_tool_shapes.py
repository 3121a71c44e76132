"""Tools on a built agent: ``add_tool``/``remove_tool``/``set_tools``, both seed tool shapes,
a wrong shape refused with a message naming the expected ones, and ``create_coding_tools``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opi_cli import (
    AgentBuilder,
    Config,
    ConfigError,
    ToolDefinition,
    ToolRegistry,
    ToolResult,
    create_coding_tools,
    tool,
)
from opi_cli._util.abort import AbortSignal
from opi_cli.agent.tool import ToolUpdate, UpdateCallback
from opi_cli.ai.types import TextContent
from tests.mock_llm import MockLLM

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


class EchoTool:
    """Seed 001's shape: ``definition()`` and ``execute(call_id, args, signal, on_update)``."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def definition(self) -> dict[str, Any]:
        return {"name": "echo", "description": "Echo back the input.", "input_schema": SCHEMA}

    def execution_mode(self) -> str:
        return "sequential"

    async def execute(
        self, call_id: str, args: dict[str, Any], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        self.calls.append(call_id)
        if on_update is not None:
            on_update(ToolUpdate((TextContent("working"),)))
        return ToolResult((TextContent(args["text"]),), details={"echoed": True})


class TwoArgs:
    def definition(self) -> ToolDefinition:
        return ToolDefinition("broken", "wrong shape", SCHEMA)

    async def execute(self, call_id: str, args: dict[str, Any]) -> str:
        return "never"


class NoDefinition:
    def definition(self) -> str:
        return "echo"

    async def execute(self, arguments: dict[str, Any]) -> str:
        return "never"


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as srv:
        yield srv


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": name, "arguments": args}}]}


def text(t: str) -> dict[str, Any]:
    return {"steps": [{"text": t}]}


def builder(srv: MockLLM) -> AgentBuilder:
    cfg = Config().with_api_key("k").with_model("gpt-4o").with_base_url(srv.base_url + "/v1")
    return AgentBuilder(env={}).with_config(cfg).with_retry(enabled=False)


async def test_a_seed_001_tool_works(mock: MockLLM) -> None:
    echo = EchoTool()
    mock.set_script({"responses": [call("echo", {"text": "hello"}), text("done")]})
    agent = builder(mock).with_tools([echo]).build()
    assert agent.tools[0].execution_mode == "sequential"
    assert await agent.run("echo hello") == "done"
    assert mock.requests[1]["body"]["messages"][-1]["content"] == "hello"
    assert len(echo.calls) == 1 and echo.calls[0]
    assert mock.requests[0]["body"]["tools"][0]["function"]["parameters"] == SCHEMA


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (TwoArgs(), r"tool 'broken' \(TwoArgs\): execute\(call_id, args\) takes 2 arguments; expected a RegisteredTool's "
                    r"`async def execute\(self, arguments\) -> str` or an opi Tool's "
                    r"`async def execute\(self, call_id, args, signal, on_update\) -> ToolResult`"),
        (NoDefinition(), r"NoDefinition.definition\(\) must return a ToolDefinition"),
    ],
)
def test_a_tool_of_neither_shape_is_refused_before_any_run(bad: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ToolRegistry().register(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        AgentBuilder(env={}).with_tools([bad])  # type: ignore[list-item]


async def test_add_remove_and_set_tools(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("a"), call("shout", {"text": "hey"}), text("b"), text("c")]})
    agent = builder(mock).build()
    await agent.run("no tools yet")
    assert "tools" not in mock.requests[0]["body"]
    agent.add_tool(shout)
    agent.add_tool(EchoTool())
    assert await agent.run("now shout") == "b"
    assert [t["function"]["name"] for t in mock.requests[1]["body"]["tools"]] == ["shout", "echo"]
    assert mock.requests[2]["body"]["messages"][-1]["content"] == "HEY"
    assert agent.remove_tool("shout") and not agent.remove_tool("shout")
    agent.set_tools([EchoTool()])
    assert await agent.run("last") == "c"
    assert [t["function"]["name"] for t in mock.requests[3]["body"]["tools"]] == ["echo"]
    with pytest.raises(ConfigError):
        agent.add_tool(TwoArgs())  # type: ignore[arg-type]


async def test_create_coding_tools(tmp_path: Path) -> None:
    tools = create_coding_tools(tmp_path)
    assert [t.name for t in tools] == ["read", "bash", "edit", "write", "grep", "find", "ls"]
    only = create_coding_tools(tmp_path, names=["read", "ls"])
    assert [t.name for t in only] == ["read", "ls"]
    write = next(t for t in tools if t.name == "write")
    await write.execute("c1", {"path": "a.txt", "content": "hi\n"}, AbortSignal(), None)
    assert (tmp_path / "a.txt").read_text() == "hi\n"
    with pytest.raises(ConfigError, match="unknown coding tool"):
        create_coding_tools(tmp_path, names=["rm"])
