"""The one MCP hook of every run: start the servers if any are configured (else load nothing).

Kept tiny because every ``-p`` run imports it: the configuration readers and the MCP client
are imported only when ``mcpServers`` is in the settings or the folder has a ``.mcp.json``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from opi_cli.cli.settings import Settings

if TYPE_CHECKING:
    from opi_cli.agent.agent import Agent
    from opi_cli.cli.mcp_runtime import McpHost

__all__ = ["REFERENCE", "start_mcp"]

REFERENCE = re.compile(r"(?<!\S)@([A-Za-z0-9_-]+):([A-Za-z][A-Za-z0-9+.-]*://\S*)")
"""``@server:scheme://path``: an MCP resource to attach to a prompt (Claude Code's syntax)."""


def start_mcp(settings: Settings, agent: Agent) -> McpHost | None:
    """Start this folder's MCP servers for ``agent`` in the background; None when there are none."""
    if "mcpServers" not in settings.values and not (settings.cwd / ".mcp.json").is_file():
        return None
    from opi_cli.cli.mcp_config import configured_servers

    servers, warnings = configured_servers(settings)
    if not servers and not warnings:
        return None
    from opi_cli.cli.mcp_runtime import open_mcp

    return open_mcp(settings, agent, servers, warnings)
