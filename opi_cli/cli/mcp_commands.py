"""The REPL's ``/mcp`` command and the MCP prompts offered as ``/mcp__server__prompt`` commands.

``/mcp`` lists every configured server with its state, tools and last error; ``/mcp NAME``
shows one in detail; ``/mcp restart NAME`` starts it again now; ``/mcp approve NAME`` and
``/mcp deny NAME`` answer for a project server. A prompt command takes its arguments in
the prompt's declared order (quotes group words; the last argument takes what is left),
fetches the prompt and sends it as the next message.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from opi_cli.cli.commands import Command, Handler, Host
    from opi_cli.cli.mcp_runtime import McpHost

__all__ = ["install_mcp_commands"]

_PREFIX = "mcp__"
_NO_SERVERS = ("No MCP servers are configured. Add one with `opi mcp add NAME -- COMMAND ARGS...`, "
               "or in .mcp.json / ~/.opi/settings.json (mcpServers); see the README.")
_STATE_STYLE = {"ready": "green", "starting": "cyan", "failed": "red", "needs approval": "yellow"}


def install_mcp_commands(table: dict[str, Command], mcp: McpHost | None) -> None:
    """Add ``/mcp`` to ``table``, and keep one command per MCP prompt in it as servers change."""
    from opi_cli.cli.commands import Command

    table["mcp"] = Command("mcp", "MCP servers: state, tools, last error", _mcp_handler(mcp),
                           "[NAME | restart NAME | approve NAME | deny NAME]", while_running=True)
    if mcp is None:
        return

    def refresh() -> None:
        fresh: dict[str, Command] = {}
        for name, server, spec in mcp.prompt_commands():
            declared = spec.get("arguments")
            args = [a for a in (declared if isinstance(declared, list) else []) if isinstance(a, dict)]
            usage = " ".join(f"<{a.get('name')}>" if a.get("required") else f"[{a.get('name')}]" for a in args)
            desc = str(spec.get("description") or f"the {spec.get('name')} prompt of {server}").splitlines()[0]
            fresh[name.lower()] = Command(name.lower(), f"{desc} (MCP: {server})",
                                          _prompt_handler(mcp, server, str(spec.get("name")), args), usage)
        for key in [k for k in table if k.startswith(_PREFIX)]:
            if key not in fresh:
                del table[key]
        table.update(fresh)

    mcp.manager.on_prompts_changed.append(refresh)
    refresh()


def _mcp_handler(mcp: McpHost | None) -> Handler:
    async def handler(host: Host, args: str) -> None:
        if mcp is None or not mcp.configured:
            host.print(Text(_NO_SERVERS))
            return
        words = args.split()
        if len(words) == 2 and words[0] in ("approve", "deny"):
            host.print(Text(mcp.approve(words[1], words[0] == "approve")))
        elif len(words) == 2 and words[0] == "restart":
            if not mcp.manager.has_server(words[1]):
                host.print(Text(f"No running MCP server named '{words[1]}' (/mcp lists them).", style="yellow"))
                return
            host.print(Text(f"Restarting MCP server '{words[1]}'…", style="dim"))
            ok = await mcp.manager.restart(words[1])
            host.print(Text(f"MCP server '{words[1]}' {'is ready' if ok else 'failed to start'}.",
                            style="green" if ok else "red"))
        elif len(words) == 1:
            host.print(_details(mcp, words[0]))
        elif not words:
            host.print(_overview(mcp))
        else:
            host.print(Text("Usage: /mcp [NAME | restart NAME | approve NAME | deny NAME]", style="yellow"))

    return handler


def _overview(mcp: McpHost) -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0))
    for col in ("server", "state", "tools", "last error"):
        table.add_column(col, style="bold" if col == "server" else None, overflow="fold")
    for s in mcp.statuses():
        tools = ", ".join(s.tools[:6]) + (f" (+{len(s.tools) - 6})" if len(s.tools) > 6 else "")
        table.add_row(s.name, Text(s.state, style=_STATE_STYLE.get(s.state, "")), tools or "-", s.last_error or "")
    return table


def _details(mcp: McpHost, name: str) -> Text | Table:
    found = next((s for s in mcp.statuses() if s.name == name), None)
    if found is None:
        return Text(f"No MCP server named '{name}' (/mcp lists them).", style="yellow")
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # paths and errors are shown whole
    about = f"{found.server_name} {found.server_version}".strip()
    rows: list[tuple[str, Text | str]] = [
        ("State", Text(found.state, style=_STATE_STYLE.get(found.state, ""))),
        ("Runs" if found.kind == "stdio" else "URL", found.target),
        ("From", found.source or "-"),
        ("Server", about or "-"),
        ("Tools", "\n".join(found.exposed) or "-"),
        ("Prompts", "\n".join(f"/{cmd.lower()}" for cmd, server, _ in mcp.prompt_commands() if server == name) or "-"),
        ("Last error", found.last_error or "-"),
        ("Log", found.log_path or "-"),
    ]
    for key, value in rows:
        table.add_row(Text(key, style="bold"), value)
    return table


def _split(args: str, count: int) -> list[str]:
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    if count and len(words) > count:
        words = [*words[: count - 1], " ".join(words[count - 1:])]
    return words


def _prompt_handler(mcp: McpHost, server: str, prompt: str, declared: list[dict[str, object]]) -> Handler:
    async def handler(host: Host, args: str) -> None:
        values = _split(args, len(declared))
        arguments = {str(a.get("name")): v for a, v in zip(declared, values, strict=False)}
        missing = [str(a.get("name")) for a in declared if a.get("required") and str(a.get("name")) not in arguments]
        if missing:
            host.print(Text(f"/{_PREFIX}{server}__{prompt} needs: {', '.join(missing)}", style="yellow"))
            return
        text, images = await mcp.run_prompt(server, prompt, arguments)
        if not text.strip() and not images:
            host.print(Text(f"The prompt {prompt} of {server} is empty.", style="yellow"))
            return
        await host.session.prompt(text, images)

    return handler
