"""A small MCP server (the official SDK's FastMCP) that keeps notes: tools, a resource, a prompt.

opi starts it over stdio when it is configured (see the README's MCP section), or from the
library (examples/mcp_tools.py). Run it alone with ``python examples/mcp_server.py``: it then
waits for MCP messages on stdin.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

server = FastMCP("notes", log_level="WARNING")
notes: list[str] = []


@server.tool()
def add_note(text: str) -> str:
    """Save a note for later."""
    notes.append(text)
    return f"Saved note #{len(notes)}: {text}"


@server.tool()
def list_notes() -> list[str]:
    """All notes saved so far, oldest first."""
    return notes


@server.resource("notes://all")
def all_notes() -> str:
    """Every note, one per line."""
    return "\n".join(notes) or "(no notes yet)"


@server.prompt()
def summarize(style: str = "short") -> str:
    """Ask for a summary of the notes."""
    return f"Summarize my notes ({style}). Use the list_notes tool first."


if __name__ == "__main__":
    server.run("stdio")
