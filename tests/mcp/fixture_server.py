"""A real MCP server for the tests, written with the SDK's FastMCP, over stdio, streamable HTTP or SSE.

Tools: ``echo``, ``add`` (structured output), ``getenv``, ``pid``, ``picture`` (an image), ``fail``
(``isError``), ``crash`` (the process exits mid-call), ``sleepy`` (never answers, the
server stays responsive), ``freeze`` (blocks the whole server), ``garbage`` (writes a line
that is not JSON on stdout), ``grow`` (adds the tool ``extra`` and sends
``notifications/tools/list_changed``), ``progress``, ``note`` (an embedded resource).
Prompt ``review(code, focus)``; resource ``notes://today``.

    python -m tests.mcp.fixture_server [--transport stdio|http|sse] [--port-file F] [--name N]
        [--exit-at-start CODE] [--stderr TEXT] [--cancel-log F] [--delay-start SECONDS]

Over HTTP it binds 127.0.0.1 on a free port and writes the port to ``--port-file``.
``--cancel-log``: ``sleepy`` appends a JSON line there when it starts and when the client's
cancellation stops it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import types
from mcp.server.fastmcp import Context, FastMCP, Image

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def build(name: str, cancel_log: str | None) -> FastMCP:
    server = FastMCP(name, log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return f"echo: {text}"

    @server.tool()
    def add(a: int, b: int) -> dict[str, int]:
        """Add two integers."""
        return {"sum": a + b}

    @server.tool()
    def getenv(name: str) -> str:
        """The value of an environment variable of the server process."""
        return os.environ.get(name, "<unset>")

    @server.tool()
    def pid() -> str:
        """This server's process id."""
        return str(os.getpid())

    @server.tool()
    def picture() -> Image:
        """A one-pixel PNG."""
        return Image(data=PNG_1PX, format="png")

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise ValueError(f"cannot do it: {reason}")

    @server.tool()
    def crash() -> str:
        """Exit the process in the middle of the call."""
        sys.stderr.write("about to crash\n")
        sys.stderr.flush()
        os._exit(3)

    @server.tool()
    async def sleepy() -> str:
        """Never answers (the server itself stays responsive)."""
        if cancel_log:
            with open(cancel_log, "a") as fh:
                fh.write(json.dumps({"started": "sleepy"}) + "\n")
        try:
            await anyio.sleep(3600)
        except anyio.get_cancelled_exc_class():
            if cancel_log:  # the client's notifications/cancelled reached the call
                with open(cancel_log, "a") as fh:
                    fh.write(json.dumps({"cancelled": "sleepy"}) + "\n")
            raise
        return "woke up"

    @server.tool()
    def freeze() -> str:
        """Blocks the whole server."""
        time.sleep(3600)
        return "thawed"

    @server.tool()
    def garbage() -> str:
        """Write something that is not JSON on stdout, then answer normally."""
        os.write(1, b"this is not json\n")
        return "sent garbage"

    @server.tool()
    async def grow(ctx: Context[Any, Any, Any]) -> str:
        """Add the tool `extra` and announce the change."""

        def extra(word: str) -> str:
            """A tool that appeared later."""
            return f"extra: {word}"

        server.add_tool(extra)
        await ctx.session.send_notification(
            types.ServerNotification(types.ToolListChangedNotification()), related_request_id=ctx.request_id
        )
        return "grew a tool"

    @server.tool()
    async def progress(ctx: Context[Any, Any, Any]) -> str:
        """Reports progress twice."""
        await ctx.report_progress(1, 2, "half way")
        await ctx.report_progress(2, 2, "done")
        return "progressed"

    @server.tool()
    def note() -> types.EmbeddedResource:
        """An embedded text resource."""
        return types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(uri="notes://today", mimeType="text/plain", text="buy milk"),
        )

    @server.prompt()
    def review(code: str, focus: str = "bugs") -> str:
        """Review some code."""
        return f"Please review this code for {focus}:\n{code}"

    @server.resource("notes://today")
    def today() -> str:
        """Today's notes."""
        return "NOTES: water the plants"

    return server


def _serve_http(server: FastMCP, kind: str, port_file: str) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    app = server.streamable_http_app() if kind == "http" else server.sse_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    tmp = Path(port_file + ".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    tmp.replace(port_file)
    uv.run(sockets=[sock])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--transport", default="stdio", choices=["stdio", "http", "sse"])
    p.add_argument("--port-file")
    p.add_argument("--name", default="fixture")
    p.add_argument("--exit-at-start", type=int)
    p.add_argument("--stderr", default="fixture server starting")
    p.add_argument("--cancel-log")
    p.add_argument("--delay-start", type=float, default=0.0)
    a = p.parse_args()
    sys.stderr.write(a.stderr + "\n")
    sys.stderr.flush()
    if a.exit_at_start is not None:
        sys.exit(a.exit_at_start)
    time.sleep(a.delay_start)
    server = build(a.name, a.cancel_log)
    if a.transport == "stdio":
        server.run("stdio")
    else:
        _serve_http(server, a.transport, a.port_file)


if __name__ == "__main__":
    main()
