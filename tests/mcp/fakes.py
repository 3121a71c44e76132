"""An in-memory MCP server behind the Transport protocol, for client and manager tests."""

from __future__ import annotations

import asyncio
from typing import Any

from opi_cli.mcp.transport import JsonRpcMessage, TransportClosed

Json = dict[str, Any]


class FakeServer:
    """Answers initialize, tools/list, tools/call (``hello``) and ping; scriptable.

    ``gate`` holds ``start()`` until set; ``tools`` is what tools/list returns;
    ``replies[method]`` overrides a reply (a dict result, or ``{"error": {...}}``);
    ``hold`` lists methods never answered; ``sent`` records what the client sent.
    """

    def __init__(self, tools: list[Json] | None = None, *, gate: asyncio.Event | None = None) -> None:
        self.gate = gate
        self.tools = tools if tools is not None else [
            {"name": "hello", "description": "Say hello.", "inputSchema": {"type": "object"}}]
        self.replies: dict[str, Json] = {}
        self.hold: set[str] = set()
        self.sent: list[JsonRpcMessage] = []
        self.inbox: asyncio.Queue[JsonRpcMessage | None] = asyncio.Queue()
        self.closed = False

    @property
    def description(self) -> str:
        return "fake"

    async def start(self) -> None:
        if self.gate is not None:
            await self.gate.wait()

    async def send(self, message: JsonRpcMessage) -> None:
        if self.closed:
            raise TransportClosed("closed")
        self.sent.append(message)
        method, rid = message.get("method"), message.get("id")
        if rid is None or method is None or method in self.hold:
            return
        if method in self.replies:
            reply = self.replies[method]
            body: Json = {"error": reply["error"]} if "error" in reply else {"result": reply}
        elif method == "initialize":
            body = {"result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                               "serverInfo": {"name": "fake", "version": "1"}}}
        elif method == "tools/list":
            body = {"result": {"tools": self.tools}}
        elif method == "tools/call":
            name = message["params"]["arguments"].get("name", "")
            body = {"result": {"content": [{"type": "text", "text": f"hello {name}"}]}}
        else:
            body = {"result": {}}
        await self.inbox.put({"jsonrpc": "2.0", "id": rid, **body})

    def push(self, message: JsonRpcMessage) -> None:
        """Something the server sends on its own (a notification or a request)."""
        self.inbox.put_nowait(message)

    def hang_up(self) -> None:
        self.inbox.put_nowait(None)

    async def receive(self) -> JsonRpcMessage:
        if self.closed:
            raise TransportClosed("closed")
        message = await self.inbox.get()
        if message is None:
            self.closed = True
            raise TransportClosed("exited with code 9")
        return message

    async def close(self) -> None:
        self.closed = True
