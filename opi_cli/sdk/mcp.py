"""MCP servers for a library agent: ``AgentBuilder().with_mcp_server(name, ...)``.

The servers start on the agent's first request (or :meth:`McpBinding.ready`, which the
Realtime client awaits before declaring its tools), concurrently; the first request waits
for them at most ``startup_wait_s``. Their tools join the agent's own under
``mcp__<server>__<tool>`` and follow the servers' ``tools/list_changed`` notifications.
Server stderr goes to ``OPI_HOME/logs/mcp/<server>.log`` (``OPI_HOME`` from the builder's
environment, default ``~/.opi``). ``await agent.aclose()`` stops them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.agent import LoopAgent
from opi_cli.agent.hooks import AgentHooks, compose_hooks
from opi_cli.agent.messages import AgentMessage
from opi_cli.mcp import McpManager, McpOptions, McpServerConfig, McpTool

__all__ = ["McpBinding", "mcp_log_dir"]


def mcp_log_dir(env: Mapping[str, str]) -> Path:
    """``OPI_HOME/logs/mcp`` from ``env`` (``~/.opi`` without ``OPI_HOME``)."""
    home = Path(env["OPI_HOME"]).expanduser() if env.get("OPI_HOME") else Path.home() / ".opi"
    return home / "logs" / "mcp"


class McpBinding:
    """The MCP servers of one library agent (see the module docstring)."""

    def __init__(self, loop: LoopAgent, configs: Sequence[McpServerConfig], env: Mapping[str, str],
                 *, startup_wait_s: float = 5.0, tool_timeout_s: float = 120.0) -> None:
        self.manager = McpManager(configs, McpOptions(
            log_dir=mcp_log_dir(env), env=env, startup_wait_s=startup_wait_s, tool_timeout_s=tool_timeout_s,
        ))
        self._loop = loop
        self._started = False
        self.manager.on_tools_changed.append(self._sync)
        loop.options.hooks = compose_hooks(loop.options.hooks, AgentHooks(transform_context=self._before_request))

    def _sync(self) -> None:
        keep = [t for t in self._loop.options.tools if not isinstance(t, McpTool)]
        self._loop.set_tools([*keep, *self.manager.tools()])

    async def ready(self) -> None:
        """Start the servers if needed and wait for them (at most the startup wait, the first time)."""
        if not self._started:
            self._started = True
            self.manager.start()
        await self.manager.before_request()

    async def _before_request(self, messages: list[AgentMessage], _signal: AbortSignal) -> list[AgentMessage]:
        await self.ready()
        return messages

    async def aclose(self) -> None:
        """Stop the servers (the next request starts them again)."""
        self._started = False
        await self.manager.aclose()
