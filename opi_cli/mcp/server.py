"""One configured MCP server's life: start, what it offers, failures, and when to try again.

A :class:`ServerSlot` holds the current connection (if any), the tools and prompts it
listed, the last error and the restart backoff. Backoff counts failures in a row (failed
starts, crashes, hangs, garbage): the first restart may happen at once, later ones wait
1, 2, 4 … up to 30 seconds; a call that succeeds resets it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Literal

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.mcp.client import McpClient, ServerInfo
from opi_cli.mcp.config import McpServerConfig
from opi_cli.mcp.tools import McpTool
from opi_cli.mcp.transport import Transport

__all__ = ["ServerSlot", "ServerState", "ServerStatus", "default_transport", "log_file"]

ServerState = Literal["starting", "ready", "failed", "stopped"]
_MAX_BACKOFF_S = 30.0


@record
class ServerStatus:
    """A snapshot of one server for ``/mcp`` and ``opi mcp list``."""

    name: str
    kind: str
    target: str
    state: str
    tools: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    last_error: str | None = None
    log_path: str = ""
    source: str = ""
    server_name: str = ""
    server_version: str = ""
    exposed: tuple[str, ...] = ()  # the tools' names as the model sees them (mcp__server__tool)


def log_file(log_dir: Path, server: str) -> Path:
    """Where a server's stderr and connection events are appended."""
    return log_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', server) or 'server'}.log"


def default_transport(config: McpServerConfig, log_path: Path, env: Mapping[str, str], cwd: str | None) -> Transport:
    """The transport for ``config``: a child process (with ``env`` plus the entry's own) or HTTP."""
    if config.kind == "stdio":
        from opi_cli.mcp.stdio import StdioTransport

        return StdioTransport(config.command, config.args, env={**env, **config.env}, cwd=config.cwd or cwd,
                              log_path=log_path)
    from opi_cli.mcp.http import HttpTransport

    return HttpTransport(config.url, headers=config.headers, kind=config.kind, log_path=log_path)


@record(frozen=False)
class ServerSlot:
    """Mutable state of one server (owned by the manager)."""

    config: McpServerConfig
    log_path: Path
    state: ServerState = "starting"
    client: McpClient | None = None
    info: ServerInfo | None = None
    tools: list[McpTool] = field(default_factory=list)
    prompts: list[dict[str, JsonValue]] = field(default_factory=list)
    last_error: str | None = None
    failures: int = 0
    next_attempt: float = 0.0
    connecting: asyncio.Task[bool] | None = None
    checking: asyncio.Task[None] | None = None  # a ping after a timed-out call: is it hung?
    refreshing: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def live_client(self) -> McpClient | None:
        client = self.client
        return client if client is not None and client.is_open else None

    def failed(self, reason: str) -> None:
        """Record a failure and push the next restart back."""
        self.state = "failed"
        self.client = None
        self.last_error = reason
        self.failures += 1
        delay = 0.0 if self.failures <= 1 else min(_MAX_BACKOFF_S, 2.0 ** (self.failures - 2))
        self.next_attempt = time.monotonic() + delay

    def wait_s(self) -> float:
        """Seconds until a restart may be tried (0: now)."""
        return max(0.0, self.next_attempt - time.monotonic())

    def status(self) -> ServerStatus:
        c = self.config
        return ServerStatus(
            c.name, c.kind, c.target, self.state, tuple(t.tool for t in self.tools),
            tuple(str(p.get("name", "")) for p in self.prompts), self.last_error, str(self.log_path), c.source,
            self.info.name if self.info else "", self.info.version if self.info else "",
            tuple(t.name for t in self.tools),
        )
