"""The MCP servers of one run: started together in the background, used as tools, restarted on demand.

:meth:`McpManager.start` starts every server concurrently and returns at once. Before a
model request, :meth:`McpManager.before_request` waits (the first time only, at most
``startup_wait_s``) for servers still starting, and for any tool-list refresh that a
``notifications/tools/list_changed`` set off, so the request carries the current tools.
Whenever the tool set changes, the ``on_tools_changed`` listeners run (the owner calls
``Agent.set_tools``).

Failures never raise into the loop: a call to a server that crashed, hung or wrote garbage
returns an error result saying what happened, the user gets one status line per incident
through ``on_status``, and the server is started again by the next call (with backoff,
see :mod:`opi_cli.mcp.server`). A call that times out is cancelled on the server; if the
server then does not answer a ping it is considered hung and stopped. An abort cancels
only the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.tool import ToolResult, ToolUpdate, UpdateCallback, error_result
from opi_cli.ai.types import TextContent
from opi_cli.mcp.client import McpClient, McpError, RequestAborted, RequestTimeout
from opi_cli.mcp.config import McpServerConfig
from opi_cli.mcp.results import Block, content_blocks, resource_blocks, tool_result
from opi_cli.mcp.server import ServerSlot, ServerStatus, default_transport, log_file
from opi_cli.mcp.stdio import open_log
from opi_cli.mcp.tools import McpTool, mcp_tool_name, safe_schema, short_hash
from opi_cli.mcp.transport import Transport, TransportClosed

__all__ = ["McpManager", "McpOptions", "McpUnavailable", "TransportFactory"]

TransportFactory = Callable[[McpServerConfig, Path], Transport]
T = TypeVar("T")
_PING_S = 5.0
_REFRESH_WAIT_S = 10.0


class McpUnavailable(Exception):
    """A server cannot serve a request now (not configured, not started, backing off)."""


@record
class McpOptions:
    """How the manager runs servers.

    Attributes:
        log_dir: where each server's log file goes.
        env: the environment stdio servers inherit (their ``env`` entries are added).
        cwd: the working folder of stdio servers without a ``cwd``.
        connect_timeout_s: one start attempt (spawn or connect, initialize, list).
        tool_timeout_s: one call, unless the server's entry says otherwise.
        startup_wait_s: how long the first request waits for servers still starting.
        client_version: sent to servers as ``clientInfo.version``.
        heartbeat_s: how often a server reached over HTTP is pinged while a call runs.
        transport_factory: builds a transport (tests and embedders may replace it).
    """

    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    connect_timeout_s: float = 30.0
    tool_timeout_s: float = 120.0
    startup_wait_s: float = 5.0
    client_version: str = "0"
    heartbeat_s: float = 5.0
    transport_factory: TransportFactory | None = None


class McpManager:
    """The servers of one run (see the module docstring); ``await aclose()`` when done."""

    def __init__(self, configs: Sequence[McpServerConfig], options: McpOptions) -> None:
        self.options = options
        self._slots: dict[str, ServerSlot] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._waited = False
        self._closing = False
        self.on_tools_changed: list[Callable[[], None]] = []
        self.on_prompts_changed: list[Callable[[], None]] = []
        self.on_status: list[Callable[[str, str], None]] = []
        for config in configs:
            self._slots[config.name] = ServerSlot(config, log_file(options.log_dir, config.name))

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every server in the background (returns at once)."""
        for slot in self._slots.values():
            self._begin(slot)

    def add_server(self, config: McpServerConfig) -> None:
        """Add a server (e.g. one the user just approved) and start it."""
        slot = self._slots[config.name] = ServerSlot(config, log_file(self.options.log_dir, config.name))
        self._begin(slot)

    async def restart(self, name: str) -> bool:
        """Stop and start a server now, whatever its backoff; True if it came up."""
        slot = self._slot(name)
        client, slot.client = slot.client, None  # the watcher stays silent: this stop is wanted
        if client is not None:
            await client.close()
        slot.next_attempt = 0.0
        return await self._begin(slot)

    async def aclose(self) -> None:
        """Stop every server and background task (``start`` may be called again afterwards)."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients = [s.client for s in self._slots.values() if s.client is not None]
        for slot in self._slots.values():
            slot.client, slot.state = None, "stopped"
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        self._closing, self._waited = False, False  # start() may bring them up again

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _begin(self, slot: ServerSlot) -> asyncio.Task[bool]:
        """The running start attempt of ``slot``, or a new one."""
        if slot.connecting is None or slot.connecting.done():
            slot.state = "starting"
            slot.connecting = self._spawn(self._connect(slot))
        return slot.connecting

    async def _connect(self, slot: ServerSlot) -> bool:
        opts = self.options
        factory = opts.transport_factory or (
            lambda c, log: default_transport(c, log, opts.env, opts.cwd)
        )
        client = McpClient(factory(slot.config, slot.log_path), client_version=opts.client_version)
        client.on_notification = lambda method, params: self._notified(slot, client, method)
        try:
            slot.info = await client.connect(opts.connect_timeout_s)
            specs = await self._list(client, "tools")
            prompts = await self._list(client, "prompts")
        except asyncio.CancelledError:  # opi is closing mid-start: the server must not outlive it
            await client.close()
            raise
        except Exception as exc:  # a boundary like running a tool: a broken server never stops the run
            await client.close()
            known = isinstance(exc, TransportClosed | McpError | RequestTimeout)
            reason = str(exc) if known else f"{type(exc).__name__}: {exc}"
            self._report(slot, reason, f"failed to start ({reason})")
            return False
        slot.client, slot.state, slot.last_error = client, "ready", None
        slot.prompts = prompts
        self._set_tools(slot, specs)
        self._fire(self.on_prompts_changed)
        self._spawn(self._watch(slot, client))
        return True

    async def _list(self, client: McpClient, what: str) -> list[dict[str, JsonValue]]:
        caps = client.server.capabilities if client.server else {}
        if what not in caps:
            return []
        return await client.list_all(f"{what}/list", what, timeout=self.options.connect_timeout_s)

    async def _watch(self, slot: ServerSlot, client: McpClient) -> None:
        reason = await client.wait_closed()
        self._lost(slot, client, reason)
        await client.close()

    def _lost(self, slot: ServerSlot, client: McpClient, reason: str) -> None:
        """``client``'s connection has ended on its own: report it once (the watcher or the next call)."""
        if slot.client is client and not self._closing:
            self._report(slot, reason, f"stopped ({reason}); it restarts on the next call")

    def _report(self, slot: ServerSlot, reason: str, text: str) -> None:
        """Record a failure (``reason``) and give the user one line (``text``)."""
        slot.failed(reason)
        self._log(slot, text)
        line = f"MCP server '{slot.name}' {text} (log: {slot.log_path})"
        for fn in list(self.on_status):
            fn(slot.name, line)

    @staticmethod
    def _fire(listeners: list[Callable[[], None]]) -> None:
        for fn in list(listeners):
            fn()

    # -- tools ----------------------------------------------------------------------------------

    def _set_tools(self, slot: ServerSlot, specs: list[dict[str, JsonValue]]) -> None:
        taken = {t.name for s in self._slots.values() if s is not slot for t in s.tools}
        tools: list[McpTool] = []
        for spec in specs:
            tool = str(spec.get("name") or "")
            if not tool:
                continue
            key = (slot.name, tool)
            name = self._names.get(key) or mcp_tool_name(slot.name, tool)
            if name in taken:
                name = f"{name[:57]}_{short_hash(slot.name, tool)}"
            self._names[key] = name
            taken.add(name)
            schema, problem = safe_schema(spec.get("inputSchema"))
            if problem:
                self._log(slot, f"tool {tool}: {problem}; using a plain object schema")
            tools.append(McpTool(slot.name, spec, self, name, schema))
        slot.tools = tools
        self._fire(self.on_tools_changed)

    @staticmethod
    def _log(slot: ServerSlot, line: str) -> None:
        with contextlib.suppress(OSError):
            os.close(open_log(slot.log_path, f"opi: {line}"))

    def tools(self) -> list[McpTool]:
        """Every listed tool of every server (a crashed server's too: calling one restarts it)."""
        return [t for s in self._slots.values() for t in s.tools]

    def _notified(self, slot: ServerSlot, client: McpClient, method: str) -> None:
        if method == "notifications/tools/list_changed":
            task = self._spawn(self._refresh(slot, client, "tools"))
        elif method == "notifications/prompts/list_changed":
            task = self._spawn(self._refresh(slot, client, "prompts"))
        else:
            return
        slot.refreshing.add(task)
        task.add_done_callback(slot.refreshing.discard)

    async def _refresh(self, slot: ServerSlot, client: McpClient, what: str) -> None:
        try:
            items = await client.list_all(f"{what}/list", what, timeout=self.options.connect_timeout_s)
        except (TransportClosed, McpError, RequestTimeout) as exc:
            self._log(slot, f"{what}/list after list_changed failed: {exc}")
            return
        if slot.client is not client:
            return
        if what == "tools":
            self._set_tools(slot, items)
        else:
            slot.prompts = items
            self._fire(self.on_prompts_changed)

    async def before_request(self) -> None:
        """Wait for servers still starting (first time only) and for tool-list refreshes."""
        if not self._waited:
            self._waited = True
            starting = [s.connecting for s in self._slots.values() if s.connecting and not s.connecting.done()]
            if starting and self.options.startup_wait_s > 0:
                await asyncio.wait(starting, timeout=self.options.startup_wait_s)
        refreshing = [t for s in self._slots.values() for t in s.refreshing]
        if refreshing:
            await asyncio.wait(refreshing, timeout=_REFRESH_WAIT_S)

    # -- calls ----------------------------------------------------------------------------------

    def _slot(self, name: str) -> ServerSlot:
        slot = self._slots.get(name)
        if slot is None:
            raise McpUnavailable(f"no MCP server named '{name}' is configured")
        return slot

    async def _client(self, slot: ServerSlot) -> McpClient:
        """A live connection, restarting the server if it is down and its backoff allows."""
        if slot.checking is not None and not slot.checking.done():
            await asyncio.wait({slot.checking})  # is it hung? no new call before the verdict
        client = slot.client
        if client is not None and not client.is_open:
            self._lost(slot, client, client.closed_reason or "closed")
        client = slot.live_client
        if client is not None:
            return client
        if slot.connecting is None or slot.connecting.done():
            wait = slot.wait_s()
            if wait > 0:
                raise McpUnavailable(
                    f"MCP server '{slot.name}' is unavailable ({slot.last_error}); "
                    f"the next restart attempt is in {math.ceil(wait)} s"
                )
        if not await self._begin(slot) or slot.client is None:
            raise McpUnavailable(f"MCP server '{slot.name}' could not be started ({slot.last_error})")
        return slot.client

    def _timeout(self, slot: ServerSlot) -> float:
        return slot.config.tool_timeout_s or self.options.tool_timeout_s

    async def call_tool(
        self, server: str, tool: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        """Run ``tool`` on ``server``; every failure is an error result the model can read."""
        try:
            slot = self._slot(server)
            client = await self._client(slot)
        except McpUnavailable as exc:
            return error_result(str(exc))

        def progress(params: dict[str, JsonValue]) -> None:
            if on_update is None:
                return
            done, total = params.get("progress"), params.get("total")
            text = f"{done:g}" if isinstance(done, int | float) else ""
            text += f"/{total:g}" if isinstance(total, int | float) else ""
            text = f"{text} {params.get('message') or ''}".strip()
            on_update(ToolUpdate((TextContent(text),)))

        timeout = self._timeout(slot)
        # over HTTP a server that dies mid-call just stops answering: a ping every few
        # seconds notices the dead connection (a slow ping is left alone: the call may be busy)
        heartbeat = self._spawn(self._heartbeat(client)) if slot.config.kind != "stdio" else None
        try:
            result = await client.request("tools/call", {"name": tool, "arguments": args}, timeout=timeout,
                                          signal=signal, on_progress=progress)
        except McpError as exc:
            return error_result(f"MCP server '{server}' refused the call to {tool}: {exc} (error {exc.code})")
        except RequestAborted as exc:
            return error_result(f"The call to {tool} was cancelled ({exc}).")
        except RequestTimeout:
            slot.checking = self._spawn(self._check_alive(slot, client, min(_PING_S, max(timeout, 1.0))))
            return error_result(
                f"The MCP tool {tool} (server '{server}') did not answer within {timeout:g} s; the call was "
                "cancelled. Try again, or with a smaller request."
            )
        except TransportClosed as exc:
            return error_result(
                f"The MCP server '{server}' failed during the call to {tool} ({exc}); it is restarted on the next call."
            )
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
        slot.failures = 0
        return tool_result(result, server, tool)

    async def _heartbeat(self, client: McpClient) -> None:
        while client.is_open:
            await asyncio.sleep(self.options.heartbeat_s)
            with contextlib.suppress(McpError, RequestTimeout, TransportClosed):
                await client.request("ping", timeout=_PING_S)

    async def _check_alive(self, slot: ServerSlot, client: McpClient, within: float) -> None:
        """After a timeout: a server that does not answer a ping either is hung; stop it. The
        ping gets the call's own time limit (at least 1 s, at most 5): an answer to a ping
        takes milliseconds from a server that is not stuck."""
        try:
            await client.request("ping", timeout=within)
        except (McpError, TransportClosed):
            return  # an error reply means it is alive; a closed one is the watcher's to report
        except RequestTimeout:
            if slot.client is client:
                self._report(slot, "stopped answering (a call timed out and a ping got no answer)",
                             "stopped answering (a call timed out and a ping got no answer); "
                             "stopped it; it restarts on the next call")
                await client.close()

    # -- prompts and resources ------------------------------------------------------------------

    def prompts(self) -> list[tuple[str, str, dict[str, JsonValue]]]:
        """(slash command name ``mcp__server__prompt``, server, prompt spec) of every listed prompt."""
        return [(mcp_tool_name(s.name, str(p.get("name", ""))), s.name, p)
                for s in self._slots.values() for p in s.prompts if p.get("name")]

    async def get_prompt(self, server: str, prompt: str, arguments: dict[str, str]) -> list[Block]:
        """The prompt's messages as content blocks.

        Raises:
            McpUnavailable: the server is down, failed, or answered with an error.
        """
        result = await self._request(server, "prompts/get", {"name": prompt, "arguments": arguments})
        blocks: list[Block] = []
        for message in result.get("messages") or []:
            if isinstance(message, dict):
                blocks.extend(content_blocks([message.get("content")]))
        return blocks

    async def read_resource(self, server: str, uri: str) -> list[Block]:
        """A resource's contents as content blocks.

        Raises:
            McpUnavailable: the server is down, failed, or answered with an error.
        """
        result = await self._request(server, "resources/read", {"uri": uri})
        return [b for item in (result.get("contents") or []) for b in resource_blocks(item)]

    async def _request(self, server: str, method: str, params: dict[str, JsonValue]) -> dict[str, JsonValue]:
        slot = self._slot(server)
        client = await self._client(slot)
        try:
            return await client.request(method, params, timeout=self._timeout(slot))
        except (McpError, RequestTimeout, TransportClosed) as exc:
            raise McpUnavailable(f"MCP server '{server}': {method} failed: {exc}") from exc

    def status(self) -> list[ServerStatus]:
        return [s.status() for s in self._slots.values()]

    def has_server(self, name: str) -> bool:
        return name in self._slots

