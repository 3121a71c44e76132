"""The ``ls`` tool: a folder's entries, dotfiles included, sorted case-insensitively, ``/`` after folders."""

from __future__ import annotations

import copy

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.errors import ToolError
from opi_cli.tools.args import opt_int, opt_str
from opi_cli.tools.ops import FileOps
from opi_cli.tools.paths import resolve_path
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, format_size, truncate_head

__all__ = ["LsTool"]

DEFAULT_LIMIT = 500


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Directory to list (default: current directory)"},
        "limit": {
            "type": "number",
            "description": f"Maximum number of entries to return (default: {DEFAULT_LIMIT})",
        },
    },
}


class LsTool:
    """List one folder.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        home: the folder ``~`` expands to.
    """

    name = "ls"
    description = (
        "List directory contents. Returns entries sorted alphabetically, with '/' suffix for "
        f"directories. Includes dotfiles. Output is truncated to {DEFAULT_LIMIT} entries or 50KB "
        "(whichever is hit first)."
    )
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "List directory contents"

    def __init__(self, cwd: str, file_ops: FileOps, *, home: str | None = None) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(_PARAMETERS)
        self.cwd = cwd
        self.file_ops = file_ops
        self.home = home

    async def execute(
        self,
        call_id: str,
        args: dict[str, JsonValue],
        signal: AbortSignal,
        on_update: UpdateCallback | None,
    ) -> ToolResult:
        if signal.aborted:
            return error_result("Operation aborted")
        try:
            path = resolve_path(opt_str(args, "path") or ".", self.cwd, self.home)
            limit = max(1, opt_int(args, "limit") or DEFAULT_LIMIT)
        except ToolError as exc:
            return error_result(str(exc))
        kind = await self.file_ops.kind(path)
        if kind is None:
            return error_result(f"Path not found: {path}")
        if kind != "dir":
            return error_result(f"Not a directory: {path}")
        try:
            entries = await self.file_ops.list_dir(path)
        except OSError as exc:
            return error_result(f"Cannot read directory: {exc.strerror or exc}")
        entries.sort(key=lambda e: (e.name.lower(), e.name))
        names = [e.name + ("/" if e.kind == "dir" else "") for e in entries[:limit]]
        if not names:
            return text_result("(empty directory)")
        tr = truncate_head("\n".join(names), max_lines=2**53)
        details: dict[str, JsonValue] = {}
        notices: list[str] = []
        if len(entries) > limit:
            notices.append(f"{limit} entries limit reached. Use limit={limit * 2} for more")
            details["entryLimitReached"] = limit
        if tr.truncated:
            notices.append(f"{format_size(DEFAULT_MAX_BYTES)} limit reached")
            details["truncation"] = tr.to_json()
        text = tr.content + (f"\n\n[{'. '.join(notices)}]" if notices else "")
        return text_result(text, details or None)
