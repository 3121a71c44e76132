"""MCP (Model Context Protocol) client: external tools, prompts and resources from MCP servers.

A sibling of ``tools``, ``session`` and ``realtime`` (layer 3): it may use the agent layer
and below. :class:`Transport` is the seed's channel (stdio child process, streamable HTTP,
legacy SSE); :class:`McpClient` speaks the protocol over one; :class:`McpManager` runs the
configured servers of a run and offers their tools as agent tools. The official ``mcp``
SDK is used for the HTTP transports only, and imported only when such a server starts.
"""

from __future__ import annotations

from opi_cli.mcp.client import McpClient, McpError, RequestAborted, RequestTimeout, ServerInfo
from opi_cli.mcp.config import McpServerConfig, expand_vars, parse_server
from opi_cli.mcp.manager import McpManager, McpOptions, McpUnavailable
from opi_cli.mcp.server import ServerStatus
from opi_cli.mcp.tools import McpTool, mcp_tool_name
from opi_cli.mcp.transport import JsonRpcMessage, Transport, TransportClosed

__all__ = [
    "JsonRpcMessage",
    "McpClient",
    "McpError",
    "McpManager",
    "McpOptions",
    "McpServerConfig",
    "McpTool",
    "McpUnavailable",
    "RequestAborted",
    "RequestTimeout",
    "ServerInfo",
    "ServerStatus",
    "Transport",
    "TransportClosed",
    "expand_vars",
    "mcp_tool_name",
    "parse_server",
]
