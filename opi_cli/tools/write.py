"""The ``write`` tool: create or overwrite a file (parents created), reporting real UTF-8 bytes."""

from __future__ import annotations

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.errors import ToolError
from opi_cli.tools.args import req_str
from opi_cli.tools.file_writer import FileWriterTool
from opi_cli.tools.paths import resolve_path

__all__ = ["WriteTool"]


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path to the file to write (relative or absolute)"},
        "content": {"type": "string", "description": "Content to write to the file"},
    },
    "required": ["path", "content"],
}


class WriteTool(FileWriterTool):
    """Write ``content`` to ``path``; writes to one path are serialised through ``path_locks``.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        path_locks: per-path locks shared with ``edit`` (default: private to this tool).
        home: the folder ``~`` expands to.
        file_states: where to record the written file, so ``edit`` may change it next.

    The file is replaced atomically (``FileOps.write_bytes``): on a full disk the old content
    stays whole. ``write`` does not ask for a read first: replacing a whole file is its job.
    """

    name = "write"
    description = (
        "Write content to a file. Creates the file if it doesn't exist, overwrites if it does. "
        "Automatically creates parent directories."
    )
    parameters_template = _PARAMETERS
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Create or overwrite files"

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
            path = req_str(args, "path")
            content = req_str(args, "content")
        except ToolError as exc:
            return error_result(str(exc))
        abs_path = resolve_path(path, self.cwd, self.home)
        data = content.encode("utf-8", "replace")
        async with self.path_locks.hold(abs_path):
            if signal.aborted:
                return error_result("Operation aborted")
            try:
                await self.replace(abs_path, data)
            except OSError as exc:
                return error_result(f"Cannot write {path}: {exc.strerror or exc}")
        return text_result(f"Successfully wrote {len(data)} bytes to {path}")
