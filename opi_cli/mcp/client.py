"""An MCP client on any :class:`~opi_cli.mcp.transport.Transport`: requests, replies, notifications.

One reader task owns the transport's incoming side: replies resolve the request waiting
for them, server requests are answered (``ping``; anything else "method not found", since
we declare no client capabilities), notifications go to a callback. When the transport
closes, every request in flight fails at once with the reason (a crashed server never
leaves a call hanging). A request that times out or is aborted sends
``notifications/cancelled`` for its id and stops waiting; nothing else is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import field

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.mcp.transport import JsonRpcMessage, Transport, TransportClosed

__all__ = [
    "PROTOCOL_VERSION",
    "McpClient",
    "McpError",
    "RequestAborted",
    "RequestTimeout",
    "ServerInfo",
]

PROTOCOL_VERSION = "2025-06-18"
_SUPPORTED = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
Progress = Callable[[JsonRpcMessage], None]
Notify = Callable[[str, JsonRpcMessage], None]


class McpError(Exception):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: JsonValue = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class RequestTimeout(Exception):
    """No reply within the request's timeout (the request was cancelled)."""


class RequestAborted(Exception):
    """The caller aborted the request (the request was cancelled)."""


@record
class ServerInfo:
    """What ``initialize`` told us about the server."""

    name: str
    version: str
    protocol_version: str
    capabilities: dict[str, JsonValue] = field(default_factory=dict)
    instructions: str = ""


class McpClient:
    """The protocol side of one connection (see the module docstring).

    Args:
        transport: the channel, not started yet.
        on_notification: called with (method, params) for each server notification.
        client_version: sent in ``clientInfo``.
    """

    def __init__(self, transport: Transport, *, on_notification: Notify | None = None,
                 client_version: str = "0") -> None:
        self.transport = transport
        self.on_notification = on_notification
        self.client_version = client_version
        self.server: ServerInfo | None = None
        self.closed_reason: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[JsonRpcMessage]] = {}
        self._progress: dict[int | str, Progress] = {}
        self._reader: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._reader is not None and self.closed_reason is None

    async def wait_closed(self) -> str:
        """Wait until the connection ends; returns why."""
        await self._closed.wait()
        return self.closed_reason or "closed"

    # -- lifecycle ----------------------------------------------------------------------------

    async def connect(self, timeout: float) -> ServerInfo:
        """Start the transport and run the ``initialize`` handshake.

        Raises:
            TransportClosed, McpError, RequestTimeout: the server could not be reached or refused.
        """
        await self.transport.start()
        self._reader = asyncio.create_task(self._read_loop(), name="opi-mcp-reader")
        result = await self.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "opi", "version": self.client_version},
        }, timeout=timeout)
        version = str(result.get("protocolVersion", ""))
        if version not in _SUPPORTED:
            raise McpError(-32602, f"the server speaks MCP {version or '(no version)'}, which opi does not support")
        raw_info = result.get("serverInfo")
        info: JsonRpcMessage = raw_info if isinstance(raw_info, dict) else {}
        caps = result.get("capabilities")
        self.server = ServerInfo(
            str(info.get("name", "")), str(info.get("version", "")), version,
            caps if isinstance(caps, dict) else {}, str(result.get("instructions") or ""),
        )
        await self.notify("notifications/initialized")
        return self.server

    async def close(self) -> None:
        """Stop reading, close the transport, fail what is in flight; idempotent."""
        if self.closed_reason is None:
            self.closed_reason = "closed"
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        for chore in list(self._chores):
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        await self.transport.close()
        self._fail_all(self.closed_reason)
        self._closed.set()

    # -- requests -----------------------------------------------------------------------------

    async def notify(self, method: str, params: JsonRpcMessage | None = None) -> None:
        message: JsonRpcMessage = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.transport.send(message)

    async def request(
        self,
        method: str,
        params: JsonRpcMessage | None = None,
        *,
        timeout: float,
        signal: AbortSignal | None = None,
        on_progress: Progress | None = None,
    ) -> JsonRpcMessage:
        """Send a request and wait for its result.

        Raises:
            McpError: the server answered with an error.
            RequestTimeout: no answer within ``timeout`` seconds (cancelled on the server).
            RequestAborted: ``signal`` fired first (cancelled on the server).
            TransportClosed: the connection ended first.
        """
        if self.closed_reason is not None:
            raise TransportClosed(self.closed_reason)
        rid = next(self._ids)
        body: JsonRpcMessage = dict(params or {})
        if on_progress is not None:
            body["_meta"] = {"progressToken": rid}
            self._progress[rid] = on_progress
        future: asyncio.Future[JsonRpcMessage] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future

        def aborted() -> None:
            if not future.done():
                future.set_exception(RequestAborted(signal.reason if signal else "aborted"))

        remove = signal.add_callback(aborted) if signal is not None else (lambda: None)
        try:
            await self.transport.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": body})
            # asyncio.wait, not wait_for: on 3.11 wait_for loses a cancellation that arrives
            # just as the reply (or the connection's failure) does
            done, _ = await asyncio.wait({future}, timeout=timeout)
            if not done:
                await self._cancel(rid, "timed out")
                raise RequestTimeout(f"no answer to {method} within {timeout:g} s")
            return future.result()
        except RequestAborted as exc:
            await self._cancel(rid, str(exc) or "aborted")
            raise
        except asyncio.CancelledError:
            self._chore(self._cancel(rid, "cancelled"))
            raise
        finally:
            remove()
            self._pending.pop(rid, None)
            self._progress.pop(rid, None)
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: a failure nobody waits for any more is not an error

    async def _cancel(self, rid: int, reason: str) -> None:
        if self.closed_reason is None:
            with contextlib.suppress(TransportClosed):
                await self.notify("notifications/cancelled", {"requestId": rid, "reason": reason})

    def _chore(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def list_all(self, method: str, key: str, *, timeout: float) -> list[JsonRpcMessage]:
        """Every item of a paginated list (``tools/list`` → ``tools``, ...)."""
        items: list[JsonRpcMessage] = []
        cursor: JsonValue = None
        for _ in range(1000):  # a server that never stops paging is cut off
            result = await self.request(method, {"cursor": cursor} if cursor else {}, timeout=timeout)
            page = result.get(key)
            items.extend(x for x in (page if isinstance(page, list) else []) if isinstance(x, dict))
            cursor = result.get("nextCursor")
            if not cursor:
                break
        return items

    # -- incoming -----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "closed"
        try:
            while True:
                await self._dispatch(await self.transport.receive())
        except TransportClosed as exc:
            reason = str(exc) or "the connection closed"
        finally:
            if self.closed_reason is None:
                self.closed_reason = reason
            self._fail_all(self.closed_reason)
            self._closed.set()

    async def _dispatch(self, msg: JsonRpcMessage) -> None:
        method = msg.get("method")
        rid = msg.get("id")
        if method is None:
            future = self._pending.get(rid) if isinstance(rid, int | str) else None
            if future is None or future.done():
                return  # a late reply to a cancelled request
            error = msg.get("error")
            if isinstance(error, dict):
                future.set_exception(McpError(int(error.get("code", -32603)), str(error.get("message", "")),
                                              error.get("data")))
            else:
                result = msg.get("result")
                future.set_result(result if isinstance(result, dict) else {})
            return
        raw_params = msg.get("params")
        params: JsonRpcMessage = raw_params if isinstance(raw_params, dict) else {}
        if rid is not None:  # a request from the server
            reply: JsonRpcMessage = {"jsonrpc": "2.0", "id": rid}
            if method == "ping":
                reply["result"] = {}
            else:
                reply["error"] = {"code": -32601, "message": f"Method not found: {method}"}
            with contextlib.suppress(TransportClosed):
                await self.transport.send(reply)
            return
        if method == "notifications/progress":
            token = params.get("progressToken")
            callback = self._progress.get(token) if isinstance(token, int | str) else None
            if callback is not None:
                callback(params)
        elif self.on_notification is not None:
            self.on_notification(str(method), params)

    def _fail_all(self, reason: str) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(TransportClosed(reason))
        self._pending.clear()
