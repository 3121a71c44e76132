"""The MCP servers of one CLI run, wired to the agent: tools, status lines, approvals, ``@server:uri``.

:class:`McpHost` starts the approved servers in the background, keeps the agent's tool set
in step with theirs (``Agent.set_tools`` whenever a server comes up or its list changes;
before each model request the manager waits for servers still starting, the first time
only, and for pending list refreshes), and reports trouble as one line per incident: on
stderr for ``-p``/``--json``, above the input in the REPL (after :meth:`McpHost.attach`).
Project servers that are not approved yet are asked about once in the REPL; a headless
run skips them and says how to approve them.

This module loads the MCP client; :func:`~opi_cli.cli.mcp_start.start_mcp` imports it
only when some server is configured.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from rich.text import Text

from opi_cli import __version__
from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import Agent
from opi_cli.agent.hooks import AgentHooks, compose_hooks
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.types import ImageContent
from opi_cli.cli.commands import Host
from opi_cli.cli.mcp_config import ConfiguredServer, approval_of, mcp_timeouts, record_approval
from opi_cli.cli.mcp_start import REFERENCE
from opi_cli.cli.settings import Settings
from opi_cli.errors import ConfigError, OpiError
from opi_cli.mcp import (
    McpManager,
    McpOptions,
    McpServerConfig,
    McpTool,
    McpUnavailable,
    ServerStatus,
    parse_server,
)
from opi_cli.mcp.results import split_blocks

__all__ = ["McpHost", "open_mcp"]


def _parse(settings: Settings, server: ConfiguredServer) -> McpServerConfig:
    return parse_server(server.name, server.raw, env=settings.env, source=str(server.path), base_dir=settings.cwd)


class McpHost:
    """See the module docstring. Build with :func:`open_mcp`; ``await aclose()`` at the end."""

    def __init__(self, settings: Settings, agent: Agent, servers: Sequence[ConfiguredServer],
                 warnings: Sequence[str]) -> None:
        self.settings = settings
        self.agent = agent
        self.configured = {s.name: s for s in servers}
        self.pending: list[ConfiguredServer] = []  # project servers awaiting approval
        self.denied: list[str] = []
        self.invalid: dict[str, str] = {}
        self._host: Host | None = None
        self._asking: asyncio.Task[None] | None = None
        self._told_pending = False
        startup, call, connect = mcp_timeouts(settings)
        logs = settings.home / "logs" / "mcp"
        self.manager = McpManager([], McpOptions(
            log_dir=logs, env=settings.env, cwd=str(settings.cwd), connect_timeout_s=connect,
            tool_timeout_s=call, startup_wait_s=startup, client_version=__version__,
        ))
        self.manager.on_status.append(lambda _name, line: self.say(line))
        self.manager.on_tools_changed.append(self._sync_tools)
        for line in warnings:
            self.say(line)
        for server in servers:
            verdict = approval_of(settings, server)
            if verdict == "ask":
                self.pending.append(server)
            elif verdict == "denied":
                self.denied.append(server.name)
            else:
                self._add(server)
        agent.options.hooks = compose_hooks(agent.options.hooks, AgentHooks(transform_context=self._before_request))

    def _add(self, server: ConfiguredServer) -> None:
        try:
            self.manager.add_server(_parse(self.settings, server))
        except ConfigError as exc:
            self.invalid[server.name] = str(exc)
            self.say(f"MCP server '{server.name}' was not started: {exc}")

    # -- output -------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        """One status line: above the REPL's input once attached, else on stderr."""
        if self._host is not None:
            self._host.print(Text(line, style="yellow"))
        else:
            sys.stderr.write(f"opi: {line}\n")
            sys.stderr.flush()

    def attach(self, host: Host) -> None:
        """The REPL is up: print status there, and ask about project servers not yet approved."""
        self._host = host
        if self.pending:
            self._asking = asyncio.get_running_loop().create_task(self._ask_all(host))

    async def _ask_all(self, host: Host) -> None:
        for server in list(self.pending):
            target = _parse_or_raw(self.settings, server)
            idx = await host.choose(
                f"{server.path} asks to start the MCP server '{server.name}' ({target}). Start it?",
                ["Yes, and remember for this folder", "No, and remember for this folder"],
            )
            if idx is None:
                host.print(Text(f"MCP server '{server.name}' not started (/mcp approve {server.name} starts it).",
                                style="dim"))
                continue
            host.print(Text(self.approve(server.name, idx == 0), style="green" if idx == 0 else "dim"))

    def approve(self, name: str, approved: bool) -> str:
        """Record the user's answer about a project server; start it when approved. Returns a line to show."""
        server = self.configured.get(name)
        if server is None or server.scope == "user":
            return f"'{name}' is not a project MCP server (/mcp lists them)."
        record_approval(self.settings, server, approved)
        self.pending = [s for s in self.pending if s.name != name]
        if not approved:
            if name not in self.denied:
                self.denied.append(name)
            return f"MCP server '{name}' denied for this folder."
        self.denied = [n for n in self.denied if n != name]
        if not self.manager.has_server(name):
            self._add(server)
        return f"MCP server '{name}' approved for this folder; starting it."

    # -- the agent's side ---------------------------------------------------------------------

    def _sync_tools(self) -> None:
        keep = [t for t in self.agent.options.tools if not isinstance(t, McpTool)]
        self.agent.set_tools([*keep, *self.manager.tools()])

    async def _before_request(self, messages: list[AgentMessage], _signal: AbortSignal) -> list[AgentMessage]:
        if self._host is None and self.pending and not self._told_pending:
            self._told_pending = True
            for server in self.pending:
                self.say(f"MCP server '{server.name}' from {server.path} was not started: project servers need "
                         f"approval (`opi mcp approve {server.name}`, or answer the question in `opi`)")
        await self.manager.before_request()
        return messages

    async def expand(self, text: str, images: list[ImageContent]) -> tuple[str, list[ImageContent]]:
        """Attach the ``@server:uri`` resources mentioned in ``text`` (before it).

        Raises:
            OpiError: an unknown server, or one that could not read the resource.
        """
        blocks: list[str] = []
        extra: list[ImageContent] = []
        for match in REFERENCE.finditer(text):
            server, uri = match.group(1), match.group(2).rstrip(".,;:!?)]}'\"")  # "see @a:b://c." ends at c
            if not self.manager.has_server(server):
                known = ", ".join(sorted(self.configured)) or "none"
                raise OpiError(f"{match.group(0)}: no MCP server named '{server}' is running (configured: {known})")
            try:
                content = await self.manager.read_resource(server, uri)
            except McpUnavailable as exc:
                raise OpiError(f"Cannot attach {match.group(0)}: {exc}") from exc
            body, found = split_blocks(content)
            blocks.append(f'<resource server="{server}" uri="{uri}">\n{body}\n</resource>')
            extra.extend(found)
        if not blocks:
            return text, images
        return "\n".join(blocks) + "\n\n" + text, [*images, *extra]

    # -- listing ------------------------------------------------------------------------------

    def statuses(self) -> list[ServerStatus]:
        """Every configured server: running ones from the manager, the rest with why not."""
        rows = self.manager.status()
        running = {r.name for r in rows}
        for s in self.configured.values():
            if s.name in running:
                continue
            state = ("needs approval" if any(p.name == s.name for p in self.pending)
                     else "denied" if s.name in self.denied else "invalid")
            rows.append(ServerStatus(s.name, "", _parse_or_raw(self.settings, s), state,
                                     last_error=self.invalid.get(s.name), source=str(s.path)))
        return rows

    def prompt_commands(self) -> list[tuple[str, str, dict[str, JsonValue]]]:
        """(command name, server, prompt spec) of every prompt the servers offer."""
        return self.manager.prompts()

    async def run_prompt(self, server: str, prompt: str, arguments: dict[str, str]) -> tuple[str, list[ImageContent]]:
        try:
            blocks = await self.manager.get_prompt(server, prompt, arguments)
        except McpUnavailable as exc:
            raise OpiError(str(exc)) from exc
        text, images = split_blocks(blocks)
        return text, images

    async def aclose(self) -> None:
        if self._asking is not None and not self._asking.done():
            self._asking.cancel()
            await asyncio.gather(self._asking, return_exceptions=True)
        await self.manager.aclose()


def _parse_or_raw(settings: Settings, server: ConfiguredServer) -> str:
    try:
        return _parse(settings, server).target
    except ConfigError:
        raw = server.raw if isinstance(server.raw, dict) else {}
        return str(raw.get("url") or " ".join([str(raw.get("command", "")), *map(str, raw.get("args") or [])]))


def open_mcp(settings: Settings, agent: Agent, servers: Sequence[ConfiguredServer], warnings: Sequence[str]) -> McpHost:
    """Start the approved servers of ``servers`` in the background and bind them to ``agent``."""
    return McpHost(settings, agent, servers, warnings)

