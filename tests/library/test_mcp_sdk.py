"""``AgentBuilder().with_mcp_server(...)``: MCP tools in library runs and in the Realtime client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from opi_cli import AgentBuilder, Config, ConfigError
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall
from tests.conftest import ROOT
from tests.library.realtime_server import (
    RealtimeServer,
    function_call_response,
    session_created,
    session_updated,
)

TINY = {"command": sys.executable, "args": ["-m", "tests.mcp.tiny_server"], "env": {"PYTHONPATH": str(ROOT)}}


def _builder(provider: FauxProvider | None = None) -> AgentBuilder:
    b = AgentBuilder(env={"OPI_HOME": str(Path.home() / ".opi")}).with_config(
        Config().with_api_key("k").with_model("gpt-4o"))
    return b.with_provider(provider) if provider is not None else b


async def test_a_library_agent_calls_an_mcp_tool() -> None:
    provider = FauxProvider([FauxResponse(tool_calls=[FauxToolCall("mcp__tiny__hello", {"name": "lib"})]),
                             FauxResponse(text="said hello")])
    agent = _builder(provider).with_mcp_server("tiny", **TINY).with_mcp_timeouts(startup_wait_s=120).build()
    async with agent:
        assert await agent.run("greet") == "said hello"
        assert [t.name for t in provider.requests[0].tools] == ["mcp__tiny__hello"]
        result = provider.requests[1].messages[-1]
        assert result.content[0].text == "hello lib"  # type: ignore[union-attr]
        assert [t.name for t in agent.tools] == ["mcp__tiny__hello"]
    assert (Path.home() / ".opi" / "logs" / "mcp" / "tiny.log").exists()


async def test_the_realtime_client_declares_and_runs_mcp_tools() -> None:
    script = [
        session_created(),
        *session_updated(),
        {"expect": "response.create"},
        *function_call_response("r1", [("call_1", "mcp__tiny__hello", '{"name": "voice"}')]),
        {"expect": "response.create"},
    ]
    with RealtimeServer([script]) as srv:
        agent = (_builder().with_mcp_server("tiny", **TINY).with_mcp_timeouts(startup_wait_s=120)
                 .with_websocket(srv.url).build())
        async with agent:
            await agent.connect_realtime("gpt-realtime")
            await agent.send_realtime_text("say hello")
            outputs: list[str] = []

            def handle(event: object) -> bool:
                if type(event).__name__ == "ToolCallExecuted":
                    outputs.append(event.output)  # type: ignore[attr-defined]
                    return True
                return False

            await agent.process_realtime_events(handle)
        received = srv.received(0)
    assert received[0]["session"]["tools"][0]["name"] == "mcp__tiny__hello"
    assert outputs == ["hello voice"]
    assert {"type": "function_call_output", "call_id": "call_1", "output": "hello voice"} in [
        e.get("item") for e in received]


def test_with_mcp_server_checks_the_entry() -> None:
    with pytest.raises(ConfigError, match=r"mcpServers.x.url: an http server needs a url"):
        _builder().with_mcp_server("x")
    with pytest.raises(ConfigError, match=r"\$\{NOPE\} is not set"):
        _builder().with_mcp_server("x", url="https://h/mcp", headers={"Authorization": "Bearer ${NOPE}"})
    with pytest.raises(ConfigError, match="a server named 'x' was already added"):
        _builder().with_mcp_server("x", command="a").with_mcp_server("x", command="b")
