"""opi's HTTP/1.1 transport for httpx: asyncio streams and h11, one pool of keep-alive connections.

httpx's own async transport is httpcore, and httpcore under asyncio needs anyio's asyncio
backend for its locks and sockets: httpcore, h11 and anyio cost every run ~45 ms of imports
before its first request (a third of what opi adds to the interpreter). A model API needs
none of what they offer beyond HTTP/1.1 over TCP or TLS, so :class:`AsyncioTransport` speaks
that itself, with the same h11 that httpcore uses:

- one connection per ``(scheme, host, port)`` is kept open after a response read to its
  end, and the next request reuses it (a connection the server closed meanwhile is
  dropped; a response closed early, cut short or marked ``Connection: close`` closes its
  connection);
- TLS verifies with the context it is given (:func:`~opi_cli.ai.client_setup.trust_context`,
  whose certificates load once, in a worker thread);
- the request's ``timeout`` extension bounds the connect, its ``trace`` extension hears
  ``http11.send_request_headers.started`` as from httpcore (the request guard starts its
  first-byte clock there); every other time limit is the caller's (the guard closes the
  response or cancels the send);
- failures are httpx's own exceptions (``ConnectError``, ``ConnectTimeout``, ``ReadError``,
  ``WriteError``, ``RemoteProtocolError``), so callers handle them as before.

A proxy from the environment is not this transport's: httpx mounts its own transport for
the proxied URLs (and loads httpcore then).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

from opi_cli.ai.client_setup import load_trust

__all__ = ["AsyncioTransport"]

_READ_SIZE = 64 * 1024
_Key = tuple[str, str, int]


class _Connection:
    """One TCP (or TLS) connection and its h11 state."""

    __slots__ = ("h11", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def reusable(self) -> bool:
        """Idle on both sides, and the server has not closed it meanwhile (an idle connection
        that is readable was closed, or got bytes nobody asked for: either way it is done)."""
        if not (self.h11.our_state is h11.IDLE and self.h11.their_state is h11.IDLE):
            return False
        if self.writer.is_closing() or self.reader.at_eof():
            return False
        sock = self.writer.get_extra_info("socket")
        try:
            return sock is None or not select.select([sock], [], [], 0)[0]
        except (OSError, ValueError):
            return False

    async def send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.h11.receive_data(await self.reader.read(_READ_SIZE))  # b"" at EOF

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Body(httpx.AsyncByteStream):
    """A response body; read to its end, its connection goes back to the pool."""

    def __init__(self, pool: AsyncioTransport, key: _Key, conn: _Connection, request: httpx.Request) -> None:
        self._pool, self._key, self._conn, self._request = pool, key, conn, request
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        try:
            while not self._done:
                event = await conn.next_event()
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._done = True
                    self._release()
                elif isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("Server disconnected before the response ended.",
                                                    request=self._request)
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=self._request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=self._request) from exc

    def _release(self) -> None:
        conn = self._conn
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            with contextlib.suppress(h11.LocalProtocolError):
                conn.h11.start_next_cycle()
        self._pool.give_back(self._key, conn)

    async def aclose(self) -> None:
        if not self._done:  # closed before its end: the connection is in an unknown state
            self._done = True
            self._conn.close()


class AsyncioTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio streams, with keep-alive connections (see the module docstring)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context
        self._idle: dict[_Key, list[_Connection]] = {}
        self._closed = False

    def give_back(self, key: _Key, conn: _Connection) -> None:
        if conn.reusable() and not self._closed:
            self._idle.setdefault(key, []).append(conn)
        else:
            conn.close()

    def _reuse(self, key: _Key) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.reusable():
                return conn
            conn.close()
        return None

    async def _connect(self, request: httpx.Request, key: _Key) -> _Connection:
        scheme, host, port = key
        timeout = (request.extensions.get("timeout") or {}).get("connect")
        tls = scheme == "https"
        if tls:
            await load_trust(self._ssl)
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._ssl if tls else None, server_hostname=host if tls else None,
                    limit=_READ_SIZE,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(reader, writer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.",
                                            request=request)
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        conn = self._reuse(key) or await self._connect(request, key)
        try:
            trace = request.extensions.get("trace")
            if trace is not None:
                await trace("http11.send_request_headers.started", {"request": request})
            try:
                await conn.send(h11.Request(method=request.method, target=url.raw_path, headers=request.headers.raw))
                async for chunk in request.stream:  # type: ignore[union-attr]
                    await conn.send(h11.Data(data=chunk))
                await conn.send(h11.EndOfMessage())
            except OSError as exc:
                raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
            try:
                event = await conn.next_event()
                while isinstance(event, h11.InformationalResponse):
                    event = await conn.next_event()
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        except h11.RemoteProtocolError as exc:
            conn.close()
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except BaseException:
            conn.close()
            raise
        return httpx.Response(
            event.status_code, headers=event.headers, stream=_Body(self, key, conn, request),
            extensions={"http_version": b"HTTP/" + event.http_version, "reason_phrase": event.reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
