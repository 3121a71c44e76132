"""opi's HTTP/1.1 transport (ai/transport.py) against a raw asyncio server on 127.0.0.1.

The server answers each request with a small body; per connection it can close after an
answer (with or without saying so) and it counts the connections it accepted.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from opi_cli.ai.client_setup import trust_context
from opi_cli.ai.transport import AsyncioTransport


class Server:
    def __init__(self, *, close_after: bool = False, announce_close: bool = False, chunks: int = 1) -> None:
        self.close_after, self.announce_close, self.chunks = close_after, announce_close, chunks
        self.connections = 0
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1/x"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                body = [f"part{i};".encode() for i in range(self.chunks)]
                extra = b"connection: close\r\n" if self.announce_close else b""
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n" + extra + b"\r\n")
                for part in body:
                    writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                if self.close_after or self.announce_close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        self.closed.set()


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AsyncioTransport(trust_context()))


async def _get(c: httpx.AsyncClient, url: str) -> str:
    r = await c.post(url, content=b"{}")
    return r.text


def test_answers_read_to_their_end_share_one_connection() -> None:
    async def go() -> None:
        async with Server(chunks=3) as srv, client() as c:
            assert [await _get(c, srv.url) for _ in range(4)] == ["part0;part1;part2;"] * 4
            assert srv.connections == 1

    asyncio.run(go())


@pytest.mark.parametrize("announce", [True, False])
def test_a_connection_the_server_closed_is_not_reused(announce: bool) -> None:
    async def go() -> None:
        async with Server(close_after=True, announce_close=announce) as srv, client() as c:
            assert await _get(c, srv.url) == "part0;"
            await srv.closed.wait()  # the server has closed its end (the client may not have read it yet)
            assert await _get(c, srv.url) == "part0;"
            assert srv.connections == 2

    asyncio.run(go())


def test_a_response_closed_before_its_end_closes_its_connection() -> None:
    async def go() -> None:
        async with Server(chunks=50) as srv, client() as c:
            async with c.stream("POST", srv.url, content=b"{}") as r:
                async for _ in r.aiter_raw():
                    break  # leave after the first piece
            assert await _get(c, srv.url) == "".join(f"part{i};" for i in range(50))
            assert srv.connections == 2

    asyncio.run(go())


def test_failures_are_httpx_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens on it once closed

    async def go() -> None:
        async with client() as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(f"http://127.0.0.1:{port}/")
            with pytest.raises(httpx.UnsupportedProtocol):
                await c.get("ftp://127.0.0.1/")

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await writer.drain()
            writer.close()  # seven bytes short

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        async with client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(url)
        server.close()

    asyncio.run(go())


def test_a_proxy_in_the_environment_keeps_httpxs_own_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours HTTPS_PROXY/ALL_PROXY (and NO_PROXY) only for its own transports."""
    from opi_cli.ai.http import make_client

    async def transports() -> tuple[str, str]:
        async with make_client() as c:
            return (type(c._transport_for_url(httpx.URL("https://api.example.com/v1"))).__name__,
                    type(c._transport_for_url(httpx.URL("http://127.0.0.1:8080/v1"))).__name__)

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert asyncio.run(transports()) == ("AsyncioTransport", "AsyncioTransport")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert asyncio.run(transports()) == ("AsyncHTTPTransport", "AsyncHTTPTransport")
