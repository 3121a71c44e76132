"""McpManager in-process: background start, late tools, abort, HTTP death mid-call, backoff, the agent's tools."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opi_cli._util.abort import AbortController
from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.hooks import AgentHooks
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.mcp import McpManager, McpOptions, McpServerConfig, McpTool, parse_server
from opi_cli.mcp.transport import Transport
from tests.mcp.conftest import HttpServer, stdio_entry
from tests.mcp.fakes import FakeServer


def _fake_manager(tmp_path: Path, servers: dict[str, FakeServer], **options: Any) -> McpManager:
    configs = [McpServerConfig(name, "stdio", command="fake") for name in servers]

    def factory(config: McpServerConfig, _log: Path) -> Transport:
        return servers[config.name]

    return McpManager(configs, McpOptions(log_dir=tmp_path / "logs", transport_factory=factory, **options))


async def test_the_first_request_waits_only_so_long_and_late_tools_arrive_later(tmp_path: Path) -> None:
    gate = asyncio.Event()
    quick = FakeServer()
    late = FakeServer([{"name": "ping_me", "inputSchema": {"type": "object"}}], gate=gate)
    manager = _fake_manager(tmp_path, {"quick": quick, "late": late}, startup_wait_s=0.05)
    changed = asyncio.Event()
    manager.on_tools_changed.append(changed.set)
    manager.start()
    await manager.before_request()  # returns after the startup wait although 'late' is still starting
    assert [t.name for t in manager.tools()] == ["mcp__quick__hello"]
    assert {s.name: s.state for s in manager.status()} == {"quick": "ready", "late": "starting"}
    changed.clear()
    gate.set()
    await changed.wait()
    assert [t.name for t in manager.tools()] == ["mcp__quick__hello", "mcp__late__ping_me"]
    await manager.aclose()


async def test_agent_tools_follow_the_servers_between_and_during_runs(tmp_path: Path) -> None:
    server = FakeServer()
    manager = _fake_manager(tmp_path, {"fx": server})
    provider = FauxProvider([
        FauxResponse(tool_calls=[FauxToolCall("mcp__fx__hello", {"name": "ada"})]),
        FauxResponse(text="done"),
    ])
    agent = Agent(AgentOptions(model=faux_model(), provider=provider))

    async def transform(messages: list[Any], _signal: Any) -> list[Any]:
        await manager.before_request()
        return messages

    agent.options.hooks = AgentHooks(transform_context=transform)
    manager.on_tools_changed.append(lambda: agent.set_tools(manager.tools()))
    manager.start()  # no await: the first request's hook waits for it
    added = await agent.prompt("hi")
    assert added[-1].text == "done"  # type: ignore[union-attr]
    result = next(m for m in added if getattr(m, "tool_name", "") == "mcp__fx__hello")
    assert result.content[0].text == "hello ada" and not result.is_error
    assert [t.name for t in provider.requests[0].tools] == ["mcp__fx__hello"]
    await manager.aclose()


async def test_backoff_after_failures_in_a_row(tmp_path: Path) -> None:
    server = FakeServer()
    manager = _fake_manager(tmp_path, {"fx": server})
    lines: list[str] = []
    reported = asyncio.Event()

    def status(_name: str, line: str) -> None:
        lines.append(line)
        reported.set()

    manager.on_status.append(status)
    manager.start()
    await manager.before_request()
    tool = manager.tools()[0]
    signal = AbortController().signal

    async def crash() -> None:
        reported.clear()
        server.hang_up()
        await reported.wait()
        server.closed = False  # the "process" can be started again

    await crash()  # failure 1: the next call restarts at once
    first = await tool.execute("c1", {"name": "a"}, signal, None)
    assert not first.is_error and first.text == "hello a"
    assert lines == [f"MCP server 'fx' stopped (exited with code 9); it restarts on the next call "
                     f"(log: {tmp_path / 'logs' / 'fx.log'})"]
    await crash()  # failure 2 (the successful call reset the count: 1 again) ...
    server.replies["initialize"] = {"error": {"code": -1, "message": "not today"}}
    second = await tool.execute("c2", {"name": "b"}, signal, None)  # ... so this restart is tried, and fails
    assert second.is_error and second.text == "MCP server 'fx' could not be started (not today)"
    third = await tool.execute("c3", {"name": "c"}, signal, None)  # failure 2 in a row: wait before the next
    assert third.is_error and "is unavailable (not today); the next restart attempt is in 1 s" in third.text
    assert len(lines) == 3 and "failed to start (not today)" in lines[2]
    await manager.aclose()


def _stdio(tmp_path: Path, *args: str, **options: Any) -> McpManager:
    entry = stdio_entry(*args)
    config = parse_server("fx", entry, env=dict(os.environ))
    return McpManager([config], McpOptions(log_dir=tmp_path / "logs", env=dict(os.environ), startup_wait_s=120,
                                           **options))


async def _wait_for_line(path: Path, text: str) -> None:
    while not (path.exists() and text in path.read_text()):
        await asyncio.sleep(0.02)


async def test_abort_cancels_the_call_and_nothing_else(tmp_path: Path) -> None:
    cancel_log = tmp_path / "cancel.jsonl"
    manager = _stdio(tmp_path, "--cancel-log", str(cancel_log))
    manager.start()
    await manager.before_request()
    tools = {t.tool: t for t in manager.tools()}
    pid_before = (await tools["pid"].execute("p", {}, AbortController().signal, None)).text
    controller = AbortController()
    call = asyncio.ensure_future(tools["sleepy"].execute("s", {}, controller.signal, None))
    await _wait_for_line(cancel_log, "started")
    controller.abort("Aborted by the user")
    result = await call
    assert result.is_error and result.text == "The call to sleepy was cancelled (Aborted by the user)."
    await _wait_for_line(cancel_log, "cancelled")  # the server stopped the call: notifications/cancelled
    assert (await tools["pid"].execute("p", {}, AbortController().signal, None)).text == pid_before
    await manager.aclose()


async def test_an_http_server_dying_mid_call_is_noticed_without_waiting_for_the_timeout(
    tmp_path: Path, http_server: Callable[..., HttpServer]
) -> None:
    server = http_server("http")
    config = parse_server("web", {"type": "http", "url": server.url}, env={})
    manager = McpManager([config], McpOptions(log_dir=tmp_path / "logs", heartbeat_s=0.2, tool_timeout_s=240,
                                              startup_wait_s=120))
    manager.start()
    await manager.before_request()
    crash = next(t for t in manager.tools() if t.tool == "crash")
    result = await crash.execute("c", {}, AbortController().signal, None)
    assert result.is_error and "failed during the call to crash (cannot connect" in result.text
    await manager.aclose()


async def test_mcp_tools_work_in_the_realtime_client(tmp_path: Path) -> None:
    from opi_cli.realtime.client import RealtimeClient, RealtimeOptions

    manager = _fake_manager(tmp_path, {"fx": FakeServer()})
    manager.start()
    await manager.before_request()
    tools: list[McpTool] = manager.tools()
    client = RealtimeClient(RealtimeOptions(url="ws://127.0.0.1:9", api_key="k", tools=tools))
    session = client.session_config("m")
    assert session["tools"][0]["name"] == "mcp__fx__hello"  # declared to the model
    output, is_error = await client.execute_tool("call_1", "mcp__fx__hello", json.dumps({"name": "rt"}))
    assert (output, is_error) == ("hello rt", False)
    await manager.aclose()
