"""MCP servers as tools: the agent starts examples/mcp_server.py over stdio and calls its tools.

``with_mcp_server`` takes a stdio server (``command``, ``args``, ``env``, ``cwd``) or an HTTP
one (``url``, ``headers``, ``transport="http"`` or ``"sse"``). The servers start with the first
request; their tools are named ``mcp__<server>__<tool>``. ``async with`` stops them at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from opi_cli import AgentBuilder, Config

SERVER = Path(__file__).with_name("mcp_server.py")


async def main() -> None:
    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(os.environ["OPENAI_API_KEY"]).with_model("gpt-4o"))
        .with_system_prompt("You keep the user's notes with your tools.")
        .with_mcp_server("notes", command=sys.executable, args=[str(SERVER)])
        .with_mcp_timeouts(startup_wait_s=60)  # the first request waits for the server (default: 5 s)
        .build()
    )
    async with agent:
        print(await agent.run("Remember that the meeting moved to 3pm."))
        print("MCP tools:", ", ".join(t.name for t in agent.tools if t.name.startswith("mcp__")))


if __name__ == "__main__":
    asyncio.run(main())
