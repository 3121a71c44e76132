"""The ``write`` tool: create or overwrite a file (parents created), reporting real UTF-8 bytes."""

from __future__ import annotations

import copy

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.errors import ToolError
from opi_cli.tools.args import req_str
from opi_cli.tools.file_state import FileStates
from opi_cli.tools.locks import PathLocks
from opi_cli.tools.ops import FileOps
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


class WriteTool:
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
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Create or overwrite files"

    def __init__(
        self,
        cwd: str,
        file_ops: FileOps,
        *,
        path_locks: PathLocks | None = None,
        home: str | None = None,
        file_states: FileStates | None = None,
    ) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(_PARAMETERS)
        self.cwd = cwd
        self.file_ops = file_ops
        self.path_locks = path_locks if path_locks is not None else PathLocks()
        self.home = home
        self.file_states = file_states

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
                await self.file_ops.write_bytes(abs_path, data)
            except OSError as exc:
                return error_result(f"Cannot write {path}: {exc.strerror or exc}")
            if self.file_states is not None:
                self.file_states.record(abs_path, await self.file_ops.stat(abs_path))
        return text_result(f"Successfully wrote {len(data)} bytes to {path}")
