"""The ``find`` tool: paths matching a glob below a folder, honouring ``.gitignore``; fd when present."""

from __future__ import annotations

import copy
import os
import re

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.errors import ToolError
from opi_cli.tools.args import opt_int, opt_str, req_str
from opi_cli.tools.external import accepts_flags, find_binary, run_lines
from opi_cli.tools.gitignore import glob_to_regex
from opi_cli.tools.ops import FileOps, ShellOps
from opi_cli.tools.paths import display_path, resolve_path
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, format_size, truncate_head
from opi_cli.tools.walk import load_ancestor_rules, walk

__all__ = ["FindTool"]

DEFAULT_LIMIT = 1000


def _sort_key(rel: str) -> list[str]:
    return rel.rstrip("/").split("/")


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "pattern": {
            "type": "string",
            "description": "Glob pattern to match files, e.g. '*.ts', '**/*.json', or 'src/**/*.spec.ts'",
        },
        "path": {"type": "string", "description": "Directory to search in (default: current directory)"},
        "limit": {"type": "number", "description": f"Maximum number of results (default: {DEFAULT_LIMIT})"},
    },
    "required": ["pattern"],
}


class FindTool:
    """Find files and folders whose name (or, for patterns with ``/``, relative path) matches a glob.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        shell_ops: the process seam, used to run ``fd``/``fdfind`` when it is on PATH.
        use_external: ``False`` forces the pure-Python walk.
        home: the folder ``~`` expands to.
    """

    name = "find"
    description = (
        "Search for files by glob pattern. Returns matching file paths relative to the search "
        f"directory. Respects .gitignore. Output is truncated to {DEFAULT_LIMIT} results or 50KB "
        "(whichever is hit first)."
    )
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Find files by glob pattern (respects .gitignore)"

    def __init__(
        self,
        cwd: str,
        file_ops: FileOps,
        shell_ops: ShellOps | None = None,
        *,
        use_external: bool = True,
        home: str | None = None,
    ) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(_PARAMETERS)
        self.cwd = cwd
        self.file_ops = file_ops
        self.shell_ops = shell_ops
        self.use_external = use_external
        self._fd_ok: bool | None = None  # does the installed fd accept --no-require-git?
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
            return await self._find(args, signal)
        except ToolError as exc:
            return error_result(str(exc))

    async def _find(self, args: dict[str, JsonValue], signal: AbortSignal) -> ToolResult:
        pattern = req_str(args, "pattern")
        search = resolve_path(opt_str(args, "path") or ".", self.cwd, self.home)
        limit = max(1, opt_int(args, "limit") or DEFAULT_LIMIT)
        kind = await self.file_ops.kind(search)
        if kind is None:
            return error_result(f"Path not found: {search}")
        if kind != "dir":
            return error_result(f"Not a directory: {search}")
        fd = None
        if self.use_external and self.shell_ops is not None and "/" not in pattern:
            fd = find_binary(self.shell_ops, "fd", "fdfind")
            if fd is not None and not await self._fd_usable(fd, signal):
                fd = None
        if fd is not None:
            found = await self._fd(fd, pattern, search, signal)
        else:
            found = await self._python(pattern, search, limit, signal)
        if signal.aborted:
            return error_result("Operation aborted")
        found.sort(key=_sort_key)
        if not found:
            return text_result("No files found matching pattern")
        reached = len(found) >= limit
        tr = truncate_head("\n".join(found[:limit]), max_lines=2**53)
        details: dict[str, JsonValue] = {}
        notices: list[str] = []
        if reached:
            notices.append(
                f"{limit} results limit reached. Use limit={limit * 2} for more, or refine pattern"
            )
            details["resultLimitReached"] = limit
        if tr.truncated:
            notices.append(f"{format_size(DEFAULT_MAX_BYTES)} limit reached")
            details["truncation"] = tr.to_json()
        text = tr.content + (f"\n\n[{'. '.join(notices)}]" if notices else "")
        return text_result(text, details or None)

    async def _python(self, pattern: str, search: str, limit: int, signal: AbortSignal) -> list[str]:
        by_path = "/" in pattern
        regex = re.compile(glob_to_regex(pattern.lstrip("/") if by_path else pattern), re.DOTALL)
        rules = await load_ancestor_rules(self.file_ops, search)
        found: list[str] = []
        async for entry in walk(self.file_ops, search, rules):
            if signal.aborted:
                break
            subject = entry.rel if by_path else entry.rel.rsplit("/", 1)[-1]
            if regex.fullmatch(subject):
                found.append(entry.rel + ("/" if entry.is_dir else ""))
                if len(found) >= limit:
                    break
        return found

    async def _fd_usable(self, fd: str, signal: AbortSignal) -> bool:
        if self._fd_ok is None:
            assert self.shell_ops is not None
            self._fd_ok = await accepts_flags(self.shell_ops, fd, ["--no-require-git"], self.cwd, signal)
        return self._fd_ok

    async def _fd(self, fd: str, pattern: str, search: str, signal: AbortSignal) -> list[str]:
        assert self.shell_ops is not None
        argv = [
            fd,
            "--glob",
            "--color=never",
            "--hidden",
            "--no-require-git",
            "--exclude",
            ".git",
            "--",
            pattern,
            search,
        ]
        found: list[str] = []

        def on_line(line: str) -> bool:
            line = line.strip()
            if line:
                slash = line.endswith("/")
                rel = display_path(
                    os.path.normpath(line if os.path.isabs(line) else os.path.join(self.cwd, line)), search
                )
                found.append(rel + ("/" if slash and not rel.endswith("/") else ""))
            return True

        run = await run_lines(self.shell_ops, argv, self.cwd, signal, on_line)
        if run.code not in (None, 0):
            raise ToolError(f"fd exited with code {run.code}")
        return found
