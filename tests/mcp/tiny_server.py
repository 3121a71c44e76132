"""A minimal stdio MCP server in plain Python (no SDK), which starts in milliseconds.

One tool, ``hello(name)``. ``--delay-start SECONDS`` sleeps before reading stdin (a server
that is still starting); ``--tool NAME`` renames the tool.

    python -m tests.mcp.tiny_server [--delay-start SECONDS] [--tool NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--delay-start", type=float, default=0.0)
    p.add_argument("--tool", default="hello")
    a = p.parse_args()
    time.sleep(a.delay_start)
    tool = {"name": a.tool, "description": "Say hello.",
            "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
    for line in sys.stdin:
        msg = json.loads(line)
        if "id" not in msg:
            continue
        method = msg.get("method")
        if method == "initialize":
            result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "tiny", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": [tool]}
        elif method == "tools/call":
            name = msg["params"]["arguments"].get("name", "")
            result = {"content": [{"type": "text", "text": f"hello {name}"}]}
        elif method == "ping":
            result = {}
        else:
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                         "error": {"code": -32601, "message": "Method not found"}}) + "\n")
            sys.stdout.flush()
            continue
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
