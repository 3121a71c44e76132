"""MCP tools as agent tools: ``mcp__<server>__<tool>`` with the server's JSON Schema.

Names keep to what every provider accepts (``^[A-Za-z0-9_-]{1,64}$``): other characters
become ``_`` and a name that would be longer is cut and given a short hash (the manager
adds one too when two names come out equal). The input schema is passed through as the server sent it; one that is
not a valid JSON Schema is replaced by a plain object schema (the loop validates every call
against it, and a broken schema must not break the loop).
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback

__all__ = ["McpTool", "ToolCaller", "mcp_tool_name", "safe_schema", "short_hash"]

MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ToolCaller(Protocol):
    """Runs a call on a server (the manager, which restarts the server when needed)."""

    async def call_tool(
        self, server: str, tool: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult: ...


def mcp_tool_name(server: str, tool: str, prefix: str = "mcp") -> str:
    """``mcp__<server>__<tool>`` (also used for prompts), made safe for every provider."""
    raw = f"{prefix}__{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"
    if len(raw) <= MAX_NAME:
        return raw
    return f"{raw[: MAX_NAME - 7]}_{short_hash(server, tool)}"


def short_hash(*parts: str) -> str:
    """Six hex characters that tell apart names that sanitising made equal."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:6]


def safe_schema(schema: JsonValue) -> tuple[dict[str, JsonValue], str | None]:
    """(the schema to use, a problem if the server's could not be used as it is)."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}, "no inputSchema object"
    import jsonschema  # already needed by the loop's argument validation

    try:
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        return {"type": "object"}, f"invalid inputSchema ({exc.message})"
    return schema, None


class McpTool:
    """One tool of one server (see the module docstring)."""

    execution_mode: ExecutionMode = "parallel"

    def __init__(self, server: str, spec: dict[str, JsonValue], caller: ToolCaller, name: str,
                 parameters: dict[str, JsonValue]) -> None:
        self.server = server
        self.tool = str(spec.get("name", ""))
        self.name = name
        title = spec.get("title")
        desc = str(spec.get("description") or "").strip()
        self.description = desc or (str(title) if title else f"The {self.tool} tool of the MCP server {server}.")
        self.parameters = parameters
        self.spec = spec
        self._caller = caller

    @property
    def prompt_snippet(self) -> str:
        return self.description.splitlines()[0] if self.description else ""

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        return await self._caller.call_tool(self.server, self.tool, args, signal, on_update)

    def __repr__(self) -> str:
        return f"McpTool({self.name!r})"
