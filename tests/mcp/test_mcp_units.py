"""The MCP layer's parts on their own: config entries, tool names, result mapping, the protocol client."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from opi_cli._util.abort import AbortController
from opi_cli.ai.types import ImageContent, TextContent
from opi_cli.errors import ConfigError
from opi_cli.mcp import McpClient, McpError, RequestAborted, RequestTimeout, TransportClosed, parse_server
from opi_cli.mcp.config import expand_vars
from opi_cli.mcp.results import content_blocks, tool_result
from opi_cli.mcp.stdio import StdioTransport
from opi_cli.mcp.tools import mcp_tool_name, safe_schema
from tests.mcp.fakes import FakeServer

# -- configuration --------------------------------------------------------------------------------


def test_expand_vars_follows_claude_code() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand_vars("x${A}y", env, "w") == "x1y"
    assert expand_vars("${B:-dflt} ${EMPTY:-e} ${EMPTY}", env, "w") == "dflt e "
    assert expand_vars("$A ${A:-z}", env, "w") == "$A 1"  # a bare $VAR is left alone
    with pytest.raises(ConfigError, match=r"headers.Authorization: \$\{TOKEN\} is not set \(set it, or write"):
        expand_vars("Bearer ${TOKEN}", env, "headers.Authorization")


def test_parse_server_kinds_and_expansion(tmp_path: Path) -> None:
    env = {"HOME_DIR": str(tmp_path), "TOKEN": "t0k"}
    stdio = parse_server("fs", {"command": "npx", "args": ["-y", "pkg", "${HOME_DIR}"], "env": {"DEBUG": "${D:-0}"},
                                "cwd": "sub", "toolTimeoutMs": 2500}, env=env, base_dir=tmp_path)
    assert (stdio.kind, stdio.command, stdio.args) == ("stdio", "npx", ("-y", "pkg", str(tmp_path)))
    assert stdio.env == {"DEBUG": "0"} and stdio.cwd == str(tmp_path / "sub") and stdio.tool_timeout_s == 2.5
    http = parse_server("api", {"url": "https://x/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}, env=env)
    assert http.kind == "http" and http.headers == {"Authorization": "Bearer t0k"}
    assert parse_server("old", {"type": "sse", "url": "http://h/sse"}, env=env).kind == "sse"


@pytest.mark.parametrize(("raw", "message"), [
    ({"type": "ws", "url": "ws://x"}, "mcpServers.s.type: unknown type 'ws' (use stdio, http or sse)"),
    ({"args": ["x"]}, "mcpServers.s.url: an http server needs a url"),
    ({"type": "stdio"}, "mcpServers.s.command: a stdio server needs a command"),
    ({"url": "ftp://x"}, "mcpServers.s.url: expected an http:// or https:// URL, got 'ftp://x'"),
    ({"command": "x", "args": "a b"}, "mcpServers.s.args: expected a list of strings"),
    ({"command": "x", "env": {"K": ["v"]}}, "mcpServers.s.env.K: expected a string, got list"),
    ({"command": "x", "toolTimeoutMs": 0}, "mcpServers.s.toolTimeoutMs: expected a positive number"),
    ("npx server", "mcpServers.s: expected an object with a command or a url"),
])
def test_parse_server_errors_name_the_file_server_and_field(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_server("s", raw, env={}, source="/p/.mcp.json")
    assert str(err.value).startswith(f"/p/.mcp.json: {message}")


# -- names and schemas ----------------------------------------------------------------------------


def test_tool_names_fit_every_provider() -> None:
    assert mcp_tool_name("github", "create_issue") == "mcp__github__create_issue"
    assert mcp_tool_name("my.server", "files/read all") == "mcp__my_server__files_read_all"
    long = mcp_tool_name("s" * 40, "t" * 40)
    assert len(long) == 64 and long.startswith("mcp__ssss")
    assert long != mcp_tool_name("s" * 40, "t" * 41)  # cut names keep a distinguishing hash


def test_an_invalid_schema_is_replaced_not_passed_to_the_loop() -> None:
    good = {"type": "object", "properties": {"q": {"type": "string"}}}
    assert safe_schema(good) == (good, None)
    schema, problem = safe_schema({"type": "object", "properties": {"q": {"type": "strang"}}})
    assert schema == {"type": "object"} and problem is not None and "invalid inputSchema" in problem
    assert safe_schema(None)[0] == {"type": "object", "properties": {}}


# -- results --------------------------------------------------------------------------------------


def test_content_of_every_kind_is_mapped() -> None:
    blocks = content_blocks([
        {"type": "text", "text": "hi"},
        {"type": "image", "data": "AAAA", "mimeType": "image/jpeg"},
        {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"},
        {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt", "description": "the file"},
        {"type": "resource", "resource": {"uri": "x://img", "mimeType": "image/png", "blob": "AAAA"}},
        {"type": "resource", "resource": {"uri": "x://bin", "mimeType": "application/zip", "blob": "AAAA"}},
        {"type": "hologram"},
    ])
    assert blocks == [
        TextContent("hi"),
        ImageContent("AAAA", "image/jpeg"),
        TextContent("[audio (audio/wav, 3 bytes) not shown]"),
        TextContent("[resource link a.txt <file:///a.txt>: the file]"),
        TextContent('<resource uri="x://img" mimeType="image/png"></resource>'),
        ImageContent("AAAA", "image/png"),
        TextContent("[binary resource x://bin (application/zip, 3 bytes) not shown]"),
        TextContent("[unsupported content type 'hologram']"),
    ]


def test_structured_content_and_is_error() -> None:
    only_structured = tool_result({"content": [], "structuredContent": {"n": 1}}, "s", "t")
    assert only_structured.text == '{"n":1}' and only_structured.details == {
        "server": "s", "tool": "t", "structuredContent": {"n": 1}}
    failed = tool_result({"content": [{"type": "text", "text": "no"}], "isError": True}, "s", "t")
    assert failed.is_error and failed.text == "no"
    assert tool_result({}, "s", "t").text == "(no output)"


# -- the protocol client --------------------------------------------------------------------------


async def _connected(server: FakeServer, **kw: Any) -> McpClient:
    client = McpClient(server, **kw)
    await client.connect(timeout=5)
    return client


async def test_handshake_requests_and_errors() -> None:
    server = FakeServer()
    client = await _connected(server)
    assert client.server is not None and client.server.name == "fake"
    assert [m.get("method") for m in server.sent[:2]] == ["initialize", "notifications/initialized"]
    assert server.sent[0]["params"]["protocolVersion"] == "2025-06-18"
    assert (await client.list_all("tools/list", "tools", timeout=5))[0]["name"] == "hello"
    server.replies["tools/call"] = {"error": {"code": -32602, "message": "bad arguments"}}
    with pytest.raises(McpError, match="bad arguments") as err:
        await client.request("tools/call", {"name": "hello", "arguments": {}}, timeout=5)
    assert err.value.code == -32602
    await client.close()


async def test_server_requests_are_answered_and_notifications_delivered() -> None:
    server = FakeServer()
    seen: list[str] = []
    client = await _connected(server, on_notification=lambda method, _p: seen.append(method))
    server.push({"jsonrpc": "2.0", "id": "s1", "method": "ping"})
    server.push({"jsonrpc": "2.0", "id": "s2", "method": "sampling/createMessage", "params": {}})
    server.push({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    await client.request("ping", timeout=5)  # processed after the pushed messages
    replies = {m["id"]: m for m in server.sent if m.get("id") in ("s1", "s2")}
    assert replies["s1"]["result"] == {} and replies["s2"]["error"]["code"] == -32601
    assert seen == ["notifications/tools/list_changed"]
    await client.close()


async def test_timeout_and_abort_send_cancelled_and_a_crash_fails_calls_at_once() -> None:
    server = FakeServer()
    client = await _connected(server)
    server.hold.add("tools/call")
    with pytest.raises(RequestTimeout):
        await client.request("tools/call", {"name": "hello", "arguments": {}}, timeout=0.05)
    controller = AbortController()
    call = asyncio.ensure_future(client.request("tools/call", {"name": "hello", "arguments": {}}, timeout=60,
                                                signal=controller.signal))
    await asyncio.sleep(0)
    controller.abort("user pressed escape")
    with pytest.raises(RequestAborted):
        await call
    cancels = [m["params"] for m in server.sent if m.get("method") == "notifications/cancelled"]
    calls = [m["id"] for m in server.sent if m.get("method") == "tools/call"]
    assert cancels == [{"requestId": calls[0], "reason": "timed out"},
                       {"requestId": calls[1], "reason": "user pressed escape"}]
    pending = asyncio.ensure_future(client.request("tools/call", {"name": "hello", "arguments": {}}, timeout=60))
    await asyncio.sleep(0)
    server.hang_up()
    with pytest.raises(TransportClosed, match="exited with code 9"):
        await pending
    with pytest.raises(TransportClosed):
        await client.request("ping", timeout=5)
    await client.close()


async def test_an_unsupported_protocol_version_is_refused() -> None:
    server = FakeServer()
    server.replies["initialize"] = {"protocolVersion": "1999-01-01", "capabilities": {}}
    with pytest.raises(McpError, match="MCP 1999-01-01, which opi does not support"):
        await _connected(server)


async def test_progress_reaches_the_tool_update_callback() -> None:
    server = FakeServer()
    client = await _connected(server)
    server.hold.add("tools/call")
    updates: list[Any] = []
    call = asyncio.ensure_future(client.request("tools/call", {"name": "x"}, timeout=5, on_progress=updates.append))
    await asyncio.sleep(0)
    token = server.sent[-1]["params"]["_meta"]["progressToken"]
    server.push({"jsonrpc": "2.0", "method": "notifications/progress",
                 "params": {"progressToken": token, "progress": 1, "total": 4}})
    server.push({"jsonrpc": "2.0", "id": server.sent[-1]["id"], "result": {"content": []}})
    assert await call == {"content": []}
    assert updates == [{"progressToken": token, "progress": 1, "total": 4}]
    await client.close()


# -- the stdio transport --------------------------------------------------------------------------


def _script_transport(tmp_path: Path, code: str) -> StdioTransport:
    return StdioTransport(sys.executable, ["-c", code], env={"PATH": "/usr/bin:/bin"}, log_path=tmp_path / "s.log")


async def test_stdio_reads_batches_and_skips_blank_lines(tmp_path: Path) -> None:
    code = ("import sys; sys.stdout.write('\\n[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"b\"}]\\n'); sys.stdout.flush(); sys.stdin.read()")
    transport = _script_transport(tmp_path, code)
    await transport.start()
    assert [(await transport.receive())["method"] for _ in range(2)] == ["a", "b"]
    await transport.close()


@pytest.mark.parametrize(("output", "reason"), [
    ('{"id": 1}', "sent a JSON object that is not JSON-RPC 2.0"),
    ("[1, 2", "wrote invalid JSON on stdout: '[1, 2'"),
])
async def test_stdio_garbage_closes_the_transport_and_stops_the_process(
    tmp_path: Path, output: str, reason: str
) -> None:
    transport = _script_transport(tmp_path, f"import sys, time; print({output!r}, flush=True); time.sleep(600)")
    await transport.start()
    with pytest.raises(TransportClosed, match=reason.replace("[", r"\[")):
        await transport.receive()
    assert transport._proc is not None and transport._proc.returncode is not None  # not left running
    assert reason.split(":")[0] in (tmp_path / "s.log").read_text()


async def test_stdio_start_failures_say_what_is_wrong(tmp_path: Path) -> None:
    missing = StdioTransport("no-such-binary-xyz", env={"PATH": "/usr/bin"}, log_path=tmp_path / "m.log")
    with pytest.raises(TransportClosed, match="command not found: no-such-binary-xyz"):
        await missing.start()
    bad_cwd = StdioTransport("true", env={}, cwd=str(tmp_path / "nope"), log_path=tmp_path / "c.log")
    with pytest.raises(TransportClosed, match=r"working folder .* does not exist"):
        await bad_cwd.start()
    exits = _script_transport(tmp_path, "import sys; sys.exit(4)")
    await exits.start()
    with pytest.raises(TransportClosed, match="exited with code 4"):
        await exits.receive()
    await exits.close()
    assert oct((tmp_path / "s.log").stat().st_mode & 0o777) == "0o600"
