"""The seed's ``Transport``: a channel that carries JSON-RPC messages to an MCP server and back.

A transport knows how to reach one server (a child process, an HTTP endpoint) and nothing
of MCP itself: :class:`~opi_cli.mcp.client.McpClient` speaks the protocol over any
:class:`Transport`. A message is one JSON-RPC object as a dict. ``receive`` raises
:class:`TransportClosed` once the channel is gone for good (the process exited, the
connection dropped, the server wrote something that is not JSON-RPC); a closed transport
is never reused: the client starts a new one.
"""

from __future__ import annotations

from typing import Protocol

from opi_cli._util.jsonio import JsonValue

__all__ = ["JsonRpcMessage", "Transport", "TransportClosed", "check_message"]

JsonRpcMessage = dict[str, JsonValue]


class TransportClosed(Exception):
    """The transport cannot carry messages any more; ``str(exc)`` says why, for people."""


class Transport(Protocol):
    """A JSON-RPC channel to one MCP server.

    Attributes:
        description: how the server is reached, for messages (``stdio: cmd args``, a URL).
    """

    @property
    def description(self) -> str: ...

    async def start(self) -> None:
        """Open the channel (spawn the process, prepare the HTTP client).

        Raises:
            TransportClosed: the channel could not be opened (the message says why).
        """
        ...

    async def send(self, message: JsonRpcMessage) -> None:
        """Deliver one message.

        Raises:
            TransportClosed: the channel is gone.
        """
        ...

    async def receive(self) -> JsonRpcMessage:
        """The next message from the server.

        Raises:
            TransportClosed: the channel is gone (end of output, a dropped connection, or
                output that is not JSON-RPC, which also closes the channel).
        """
        ...

    async def close(self) -> None:
        """Release everything (terminate the process group, close the connection); idempotent."""
        ...


def check_message(value: object) -> JsonRpcMessage:
    """``value`` if it is a JSON-RPC 2.0 object, else :class:`TransportClosed` naming the problem."""
    if not isinstance(value, dict):
        raise TransportClosed(f"sent a JSON {type(value).__name__} where a JSON-RPC message object belongs")
    if value.get("jsonrpc") != "2.0":
        raise TransportClosed('sent a JSON object that is not JSON-RPC 2.0 (no "jsonrpc": "2.0")')
    if "method" not in value and "id" not in value:
        raise TransportClosed("sent a JSON-RPC object with neither a method nor an id")
    return value
