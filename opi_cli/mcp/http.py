"""The HTTP transports: streamable HTTP and the legacy SSE transport, on the official ``mcp`` SDK.

The SDK's transports are async context managers that hand out a pair of anyio memory
streams; anyio requires a context to be left in the task that entered it, so one owner
task per connection enters it, publishes the streams and waits until :meth:`close`.
Messages cross as dicts: SDK messages are dumped with their wire names, ours are validated
into SDK messages on the way out. The SDK reports broken server output as an exception
item in the stream; that closes the transport, as garbage does on stdio.

The SDK (and pydantic, anyio, httpx under it) is imported when a connection starts, so a
run without HTTP servers never loads it. Its loggers get a ``NullHandler``: its errors
reach the user through our messages and the server log, never as tracebacks on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from opi_cli.mcp.stdio import open_log
from opi_cli.mcp.transport import JsonRpcMessage, TransportClosed

__all__ = ["HttpTransport", "describe_failure"]

HttpKind = Literal["http", "sse"]
_CLOSE_WAIT_S = 2.0


def describe_failure(exc: BaseException) -> str:
    """One line for an exception from the SDK or httpx (an exception group: its first leaf)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if name in ("ConnectError", "ConnectTimeout"):
        return f"cannot connect: {text or name}"
    if name == "HTTPStatusError":
        return f"HTTP error: {text}"
    return f"{name}: {text}" if text else name


class HttpTransport:
    """An MCP server at ``url`` over streamable HTTP (``kind="http"``) or SSE (``kind="sse"``).

    Args:
        url: the endpoint (``https://host/mcp``, or the SSE stream URL).
        headers: sent with every request (e.g. ``Authorization``).
        kind: ``http`` (streamable HTTP) or ``sse`` (the 2024-11-05 transport).
        log_path: where connection failures are recorded.
    """

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None, kind: HttpKind = "http",
                 log_path: Path) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.kind = kind
        self.log_path = log_path
        self._read: Any = None
        self._write: Any = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._error: str | None = None

    @property
    def description(self) -> str:
        return f"{self.kind}: {self.url}"

    async def start(self) -> None:
        self._owner = asyncio.create_task(self._own(), name=f"opi-mcp-{self.kind}")
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready, self._owner}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._read is None:
            await self._finish_owner()
            raise TransportClosed(self._error or "could not connect")

    async def _own(self) -> None:
        quiet = logging.getLogger("mcp")
        if not any(isinstance(h, logging.NullHandler) for h in quiet.handlers):
            quiet.addHandler(logging.NullHandler())
        try:
            if self.kind == "sse":
                from mcp.client.sse import sse_client

                async with sse_client(self.url, headers=self.headers) as (read, write):
                    await self._serve(read, write)
            else:
                from mcp.client.streamable_http import streamable_http_client
                from mcp.shared._httpx_utils import create_mcp_http_client

                async with (
                    create_mcp_http_client(headers=self.headers) as client,
                    streamable_http_client(self.url, http_client=client) as (read, write, _session_id),
                ):
                    await self._serve(read, write)
        except ImportError as exc:
            self._error = f"HTTP and SSE servers need the mcp package ({exc}): pip install 'mcp>=1.24,<2'"
        except asyncio.CancelledError:
            if self._error is None:
                self._error = "the connection was closed"
            raise
        except Exception as exc:  # the connection's end: recorded, then reported by receive()
            self._error = describe_failure(exc)
            self._log(f"connection failed: {self._error}")
        finally:
            self._read = self._write = None
            self._ready.set()

    async def _serve(self, read: Any, write: Any) -> None:
        self._read, self._write = read, write
        self._log(f"connected: {self.description}")
        self._ready.set()
        await self._stop.wait()

    def _log(self, line: str) -> None:
        with contextlib.suppress(OSError):
            fd = open_log(self.log_path, line)
            os.close(fd)

    async def send(self, message: JsonRpcMessage) -> None:
        write = self._write
        if write is None:
            raise TransportClosed(self._error or "not connected")
        from mcp.shared.message import SessionMessage
        from mcp.types import JSONRPCMessage

        try:
            await write.send(SessionMessage(JSONRPCMessage.model_validate(message)))
        except Exception as exc:  # anyio's closed/broken stream: the connection has ended
            raise TransportClosed(await self._ended()) from exc

    async def receive(self) -> JsonRpcMessage:
        read = self._read
        if read is None:
            raise TransportClosed(self._error or "not connected")
        try:
            item = await read.receive()
        except Exception as exc:  # end of stream: the SDK's side has given up
            raise TransportClosed(await self._ended()) from exc
        if isinstance(item, Exception):
            broken = type(item).__name__ in ("ValidationError", "JSONDecodeError", "ValueError")
            what = "sent an invalid message" if broken else "lost the connection"
            self._error = f"{what} ({describe_failure(item)})"
            self._log(self._error)
            await self.close()
            raise TransportClosed(self._error)
        dumped: JsonRpcMessage = item.message.model_dump(by_alias=True, mode="json", exclude_none=True)
        return dumped

    async def _ended(self) -> str:
        """The streams have closed: let the owner finish (it may know why) and say why."""
        self._stop.set()
        await self._finish_owner()
        return self._error or "lost the connection"

    async def _finish_owner(self) -> None:
        """Wait briefly for the owner task, so its recorded error is known."""
        owner = self._owner
        if owner is not None and not owner.done():
            await asyncio.wait({owner}, timeout=_CLOSE_WAIT_S)

    async def close(self) -> None:
        self._stop.set()
        owner = self._owner
        if owner is None or owner.done():
            return
        done, _ = await asyncio.wait({owner}, timeout=_CLOSE_WAIT_S)
        if not done:
            owner.cancel()
            await asyncio.gather(owner, return_exceptions=True)
