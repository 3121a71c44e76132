"""Every error kind of the seed is raised where the docs say, through the public API, and all
share the one root ``OpiError``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from opi_cli import (
    AgentBuilder,
    AgentError,
    Config,
    ConfigError,
    OpiError,
    ParseError,
    RequestError,
    ToolError,
    ToolRegistry,
    tool,
)
from tests.mock_llm import MockLLM


@tool
def fail_always(reason: str) -> str:
    """Always fails."""
    raise ToolError(f"cannot: {reason}")


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as srv:
        yield srv


def build(srv: MockLLM, script: list[dict[str, Any]], **kw: Any) -> Any:
    srv.set_script({"responses": script})
    cfg = Config().with_api_key("k").with_model("gpt-4o").with_base_url(srv.base_url + "/v1")
    return AgentBuilder(env={}).with_config(cfg).with_retry(enabled=False).with_tools([fail_always]).build()


async def test_request_error_has_status_and_kind(mock: MockLLM) -> None:
    agent = build(mock, [{"error": {"status": 403, "message": "Project not allowed", "type": "permission_error"}}])
    with pytest.raises(RequestError) as info:
        await agent.run("hi")
    assert (info.value.status, info.value.kind) == (403, "auth")
    assert "Project not allowed" in str(info.value) and isinstance(info.value, OpiError)


async def test_parse_error_for_an_unparseable_reply(mock: MockLLM) -> None:
    agent = build(mock, [{"steps": [{"text": "partial answer that breaks"}], "malformed_after_events": 3}])
    with pytest.raises(ParseError, match="Malformed stream event") as info:
        await agent.run("hi")
    assert isinstance(info.value, OpiError) and not isinstance(info.value, RequestError)


async def test_tool_error_outside_a_run_is_raised_and_inside_is_read_by_the_model(mock: MockLLM) -> None:
    registry = ToolRegistry([fail_always])
    with pytest.raises(ToolError, match="cannot: now"):
        await registry.execute("fail_always", {"reason": "now"})
    with pytest.raises(ToolError, match="Tool missing not found"):
        await registry.execute("missing", {})
    with pytest.raises(ToolError, match="Validation failed"):
        await registry.execute("fail_always", {})
    agent = build(
        mock,
        [{"steps": [{"tool_call": {"name": "fail_always", "arguments": {"reason": "x"}}}]},
         {"steps": [{"text": "the tool failed"}]}],
    )
    assert await agent.run("go") == "the tool failed"
    assert mock.requests[1]["body"]["messages"][-1]["content"] == "cannot: x"


def test_config_error_at_build() -> None:
    with pytest.raises(ConfigError, match="No model configured") as info:
        AgentBuilder(env={}).with_config(Config().with_api_key("k")).build()
    assert info.value.exit_code == 2 and isinstance(info.value, OpiError)


async def test_agent_error_when_aborted_or_busy(mock: MockLLM) -> None:
    agent = build(mock, [{"steps": [{"text": "a slow answer " * 20}], "delay_ms": 20, "chunk_size": 4}])
    run = asyncio.create_task(agent.run("slow"))
    while not mock.requests:
        await asyncio.sleep(0.01)
    with pytest.raises(AgentError, match="already processing"):
        await agent.run("while busy")
    agent.abort()
    with pytest.raises(AgentError) as info:
        await run
    assert isinstance(info.value, OpiError)
