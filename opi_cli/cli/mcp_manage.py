"""What ``opi mcp`` does: list, inspect, add, remove and approve MCP servers.

``list`` and ``get`` also start each server that may start (briefly, with at most a 10 s
wait) and report whether it answers and what it offers. ``add`` and ``remove`` edit the
``mcpServers`` object of the scope's file (``user``: ``OPI_HOME/settings.json``,
``project``: ``./.mcp.json``, ``local``: ``./.opi/settings.json``) and keep every other
key; a malformed file is refused, never overwritten. ``approve``/``deny`` answer for a
project server in this folder, as the REPL's question does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

from opi_cli.cli.mcp_config import (
    ConfiguredServer,
    Scope,
    approval_of,
    configured_servers,
    edit_servers,
    mcp_timeouts,
    record_approval,
    scope_file,
)
from opi_cli.cli.settings import Settings, load_json_file
from opi_cli.errors import ConfigError, UsageError

__all__ = ["add_server", "answer", "list_servers", "remove_server", "show_server"]

_CHECK_S = 10.0
_SCOPES: tuple[Scope, ...] = ("user", "project", "local")


class _AnyVariable(Mapping[str, str]):
    """Every ``${VAR}`` is set: checking a new entry's shape must not need its secrets."""

    def __getitem__(self, key: str) -> str:
        return "x"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _scope(value: str) -> Scope:
    for scope in _SCOPES:
        if value == scope:
            return scope
    raise UsageError(f"Unknown scope {value!r}: use user (~/.opi/settings.json), project (.mcp.json) or local "
                     "(.opi/settings.json).")


def _check(settings: Settings, servers: list[ConfiguredServer]) -> dict[str, Any]:  # name -> ServerStatus | error
    """Start the servers that may start, wait briefly, and return their statuses by name."""
    from opi_cli import __version__
    from opi_cli.mcp import McpManager, McpOptions, McpServerConfig, ServerStatus, parse_server

    _, call, connect = mcp_timeouts(settings)
    wait = min(connect, _CHECK_S)
    configs: list[McpServerConfig] = []
    out: dict[str, ServerStatus | str] = {}
    for s in servers:
        if approval_of(settings, s) != "approved":
            continue
        try:
            configs.append(parse_server(s.name, s.raw, env=settings.env, source=str(s.path), base_dir=settings.cwd))
        except ConfigError as exc:
            out[s.name] = str(exc)

    async def run() -> None:
        manager = McpManager(configs, McpOptions(
            log_dir=settings.home / "logs" / "mcp", env=settings.env, cwd=str(settings.cwd),
            connect_timeout_s=wait, tool_timeout_s=call, startup_wait_s=wait, client_version=__version__,
        ))
        manager.start()
        try:
            await manager.before_request()
            for status in manager.status():
                out[status.name] = status
        finally:
            await manager.aclose()

    asyncio.run(run())
    return out


def _describe(found: Any) -> Text:
    if isinstance(found, str):
        return Text(f"✗ invalid: {found}", style="red")
    if found.state == "ready":
        return Text(f"✓ ready · {len(found.tools)} tools, {len(found.prompts)} prompts", style="green")
    if found.state == "starting":
        return Text(f"… no answer within {_CHECK_S:g} s", style="yellow")
    return Text(f"✗ {found.last_error or found.state}", style="red")


def _state(settings: Settings, server: ConfiguredServer, checked: dict[str, Any]) -> Text:
    verdict = approval_of(settings, server)
    if verdict == "ask":
        return Text(f"needs approval (opi mcp approve {server.name})", style="yellow")
    if verdict == "denied":
        return Text("denied for this folder (opi mcp approve to allow)", style="dim")
    return _describe(checked.get(server.name, "not checked"))


def _target(raw: Any) -> tuple[str, str]:
    raw = raw if isinstance(raw, dict) else {}
    if "command" in raw and raw.get("type", "stdio") == "stdio":
        return "stdio", " ".join([str(raw.get("command")), *map(str, raw.get("args") or [])])
    return str(raw.get("type") or "http"), str(raw.get("url", ""))


def list_servers(settings: Settings, *, check: bool) -> int:
    """``opi mcp list``: every configured server, its scope, how it runs, and whether it answers."""
    servers, warnings = configured_servers(settings)
    console = Console(soft_wrap=True, highlight=False)
    for warning in warnings:
        console.print(Text(warning, style="yellow"))
    if not servers:
        console.print("No MCP servers configured. Add one with `opi mcp add NAME -- COMMAND [ARGS...]`.")
        return 0
    checked = _check(settings, servers) if check else {}
    for s in servers:
        kind, target = _target(s.raw)
        line = Text.assemble((s.name, "bold"), f"  {s.scope}  {kind}  {target}  ")
        if check or approval_of(settings, s) != "approved":
            line.append_text(_state(settings, s, checked))
        console.print(line)
    return 0


def show_server(settings: Settings, name: str) -> int:
    """``opi mcp get NAME``: where it is configured, how it runs, its state, tools and prompts."""
    servers, _ = configured_servers(settings)
    server = next((s for s in servers if s.name == name), None)
    if server is None:
        raise UsageError(f"No MCP server named '{name}'. `opi mcp list` shows the configured ones.")
    console = Console(soft_wrap=True, highlight=False)
    kind, target = _target(server.raw)
    console.print(Text(name, style="bold"))
    console.print(f"  scope: {server.scope} ({server.path})")
    console.print(f"  type: {kind}")
    console.print(f"  {'command' if kind == 'stdio' else 'url'}: {target}")
    raw = server.raw if isinstance(server.raw, dict) else {}
    for key in ("env", "headers"):
        if isinstance(raw.get(key), dict) and raw[key]:
            console.print(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in raw[key].items()))
    found = _check(settings, [server]).get(name)
    console.print(Text("  state: ").append_text(_state(settings, server, {name: found} if found else {})))
    if found is not None and not isinstance(found, str):
        if found.exposed:
            console.print("  tools: " + ", ".join(found.exposed))
        if found.prompts:
            console.print("  prompts: " + ", ".join(found.prompts))
        console.print(f"  log: {found.log_path}")
    return 0


def _pairs(values: list[str], sep: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, found, value = v.partition(sep)
        if not found or not key.strip():
            raise UsageError(f"Bad {what} {v!r}: write it as NAME{sep}{'VALUE' if sep == '=' else ' value'}.")
        out[key.strip()] = value.strip() if sep == ":" else value
    return out


def add_server(settings: Settings, name: str, target: list[str], *, scope: str, transport: str,
               env: list[str], headers: list[str]) -> int:
    """``opi mcp add``: a new entry in the scope's file (every other key is kept)."""
    from opi_cli.mcp import parse_server

    where = _scope(scope)
    if transport not in ("stdio", "http", "sse"):
        raise UsageError(f"Unknown transport {transport!r}: use stdio, http or sse.")
    if not target:
        raise UsageError("Give the command to run (after --) or the server's URL.")
    entry: dict[str, Any]
    if transport == "stdio":
        entry = {"type": "stdio", "command": target[0], "args": target[1:]}
        if env:
            entry["env"] = _pairs(env, "=", "--env")
    else:
        if len(target) != 1:
            raise UsageError(f"An {transport} server takes one URL, got: {' '.join(target)}")
        entry = {"type": transport, "url": target[0]}
        if headers:
            entry["headers"] = _pairs(headers, ":", "--header")
    try:
        parse_server(name, entry, env=_AnyVariable())
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    path = scope_file(settings, where)

    def change(servers: dict[str, Any]) -> None:
        if name in servers:
            raise UsageError(f"{path} already has an MCP server named '{name}'; remove it first "
                             f"(opi mcp remove {name} --scope {where}).")
        servers[name] = entry

    edit_servers(path, change, mode=0o600 if where == "user" else 0o644)
    print(f"Added MCP server '{name}' to {path}.")
    if where != "user":
        print(f"Project servers start only once approved here: opi mcp approve {name}")
    return 0


def _names(settings: Settings, scope: Scope) -> set[str]:
    data = load_json_file(scope_file(settings, scope)) or {}
    servers = data.get("mcpServers")
    return set(servers) if isinstance(servers, dict) else set()


def remove_server(settings: Settings, name: str, *, scope: str | None) -> int:
    """``opi mcp remove``: drop the entry from the one file that has it (every other key is kept)."""
    scopes = [_scope(scope)] if scope else list(_SCOPES)
    holders = [s for s in scopes if name in _names(settings, s)]
    if not holders:
        files = ", ".join(str(scope_file(settings, s)) for s in scopes)
        raise UsageError(f"No MCP server named '{name}' in {files}.")
    if len(holders) > 1:
        raise UsageError(f"'{name}' is configured in several scopes ({', '.join(holders)}); choose one with --scope.")
    path = scope_file(settings, holders[0])
    edit_servers(path, lambda servers: servers.pop(name), mode=0o600)
    print(f"Removed MCP server '{name}' from {path}.")
    return 0


def answer(settings: Settings, names: list[str], *, approved: bool) -> int:
    """``opi mcp approve|deny``: the user's answer for project servers of this folder."""
    servers = {s.name: s for s in configured_servers(settings)[0]}
    for name in names:
        server = servers.get(name)
        if server is None or server.scope == "user":
            raise UsageError(f"'{name}' is not a project MCP server here (.mcp.json or .opi/settings.json).")
        record_approval(settings, server, approved)
        print(f"MCP server '{name}' {'approved' if approved else 'denied'} for {settings.cwd}.")
    return 0
