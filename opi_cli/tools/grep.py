"""The ``grep`` tool: search file contents, honouring ``.gitignore``; ripgrep when present, else Python."""

from __future__ import annotations

import copy
import json
import os
import re

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.errors import ToolError
from opi_cli.tools.args import opt_bool, opt_int, opt_str, req_str
from opi_cli.tools.external import find_binary, run_lines
from opi_cli.tools.gitignore import parse_gitignore
from opi_cli.tools.ops import FileOps, ShellOps
from opi_cli.tools.paths import display_path, resolve_path
from opi_cli.tools.truncate import (
    DEFAULT_MAX_BYTES,
    GREP_MAX_LINE_LENGTH,
    format_size,
    truncate_head,
    truncate_line,
)
from opi_cli.tools.walk import load_ancestor_rules, walk

__all__ = ["GrepTool"]

DEFAULT_LIMIT = 100
_Hit = tuple[str, int]


def _file_lines(data: bytes) -> list[str]:
    """A file's lines as ripgrep numbers them (no phantom empty line after a final newline)."""
    lines = [line.removesuffix("\r") for line in data.decode("utf-8", "replace").split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "pattern": {"type": "string", "description": "Search pattern (regex or literal string)"},
        "path": {"type": "string", "description": "Directory or file to search (default: current directory)"},
        "glob": {
            "type": "string",
            "description": "Filter files by glob pattern, e.g. '*.ts' or '**/*.spec.ts'",
        },
        "ignoreCase": {"type": "boolean", "description": "Case-insensitive search (default: false)"},
        "literal": {
            "type": "boolean",
            "description": "Treat pattern as literal string instead of regex (default: false)",
        },
        "context": {
            "type": "number",
            "description": "Number of lines to show before and after each match (default: 0)",
        },
        "limit": {
            "type": "number",
            "description": f"Maximum number of matches to return (default: {DEFAULT_LIMIT})",
        },
    },
    "required": ["pattern"],
}


class GrepTool:
    """Search for a regex (or literal) in the files below a folder, or in one file.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        shell_ops: the process seam, used to run ``rg`` when it is on PATH.
        use_external: ``False`` forces the pure-Python search.
        home: the folder ``~`` expands to.
    """

    name = "grep"
    description = (
        "Search file contents for a pattern. Returns matching lines with file paths and line "
        f"numbers. Respects .gitignore. Output is truncated to {DEFAULT_LIMIT} matches or 50KB "
        f"(whichever is hit first). Long lines are truncated to {GREP_MAX_LINE_LENGTH} chars."
    )
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Search file contents for patterns (respects .gitignore)"

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
            return await self._grep(args, signal)
        except ToolError as exc:
            return error_result(str(exc))

    async def _grep(self, args: dict[str, JsonValue], signal: AbortSignal) -> ToolResult:
        pattern = req_str(args, "pattern")
        search = resolve_path(opt_str(args, "path") or ".", self.cwd, self.home)
        glob = opt_str(args, "glob")
        ignore_case = opt_bool(args, "ignoreCase")
        literal = opt_bool(args, "literal")
        context = max(0, opt_int(args, "context") or 0)
        limit = max(1, opt_int(args, "limit") or DEFAULT_LIMIT)
        kind = await self.file_ops.kind(search)
        if kind is None:
            return error_result(f"Path not found: {search}")
        try:
            regex = re.compile(
                re.escape(pattern) if literal else pattern, re.IGNORECASE if ignore_case else 0
            )
        except re.error as exc:
            return error_result(f"Invalid regex pattern: {exc}")
        # rg's --glob overrides .gitignore; a basename glob goes in as an rg type filter (which
        # respects it), and a glob with a "/" uses the Python path, so results never differ
        external = self.use_external and self.shell_ops is not None and not (glob and "/" in glob)
        rg = find_binary(self.shell_ops, "rg") if external and self.shell_ops else None
        if rg is not None:
            hits, reached = await self._rg(rg, pattern, search, glob, ignore_case, literal, limit, signal)
        else:
            hits, reached = await self._python(regex, search, kind == "dir", glob, limit, signal)
        if signal.aborted:
            return error_result("Operation aborted")
        if not hits:
            return text_result("No matches found")
        return await self._format(hits, reached, search, kind == "dir", context, limit)

    async def _python(
        self,
        regex: re.Pattern[str],
        search: str,
        is_dir: bool,
        glob: str | None,
        limit: int,
        signal: AbortSignal,
    ) -> tuple[list[_Hit], bool]:
        hits: list[_Hit] = []
        files: list[str] = []
        if not is_dir:
            files = [search]
        else:
            rules = await load_ancestor_rules(self.file_ops, search)
            globs = parse_gitignore(glob.lstrip("!") if glob else "")
            negated = bool(glob and glob.startswith("!"))
            if globs and negated:
                rules = rules.extended(globs)
            async for entry in walk(self.file_ops, search, rules):
                if entry.is_dir or entry.is_symlink:
                    continue
                if globs and not negated and not globs[0].matches(entry.rel, False):
                    continue
                files.append(entry.abs_path)
        for path in files:
            if signal.aborted:
                break
            try:
                data = await self.file_ops.read_bytes(path)
            except OSError:
                continue
            if is_dir and b"\x00" in data:
                continue
            for number, line in enumerate(_file_lines(data), start=1):
                if regex.search(line):
                    hits.append((path, number))
                    if len(hits) >= limit:
                        return hits, True
        return hits, False

    async def _rg(
        self,
        rg: str,
        pattern: str,
        search: str,
        glob: str | None,
        ignore_case: bool,
        literal: bool,
        limit: int,
        signal: AbortSignal,
    ) -> tuple[list[_Hit], bool]:
        assert self.shell_ops is not None
        argv = [
            rg,
            "--json",
            "--line-number",
            "--color=never",
            "--hidden",
            "--sort",
            "path",
            "--no-require-git",
            "--no-ignore-global",
            "--no-ignore-exclude",
            "--no-ignore-dot",
            "--glob",
            "!.git",
        ]
        if ignore_case:
            argv.append("--ignore-case")
        if literal:
            argv.append("--fixed-strings")
        if glob:
            argv += ["--type-add", f"opiglob:{glob}", "--type", "opiglob"]
        argv += ["--regexp", pattern, "--", search]
        hits: list[_Hit] = []

        def on_line(line: str) -> bool | None:
            try:
                event = json.loads(line)
            except ValueError:
                return None
            if not isinstance(event, dict) or event.get("type") != "match":
                return True
            data = event.get("data", {})
            hits.append((data.get("path", {}).get("text", ""), int(data.get("line_number", 0))))
            return len(hits) < limit

        run = await run_lines(self.shell_ops, argv, self.cwd, signal, on_line)
        if run.code not in (None, 0, 1) and not hits:
            raise ToolError(f"ripgrep exited with code {run.code}: {' '.join(run.other).strip()}")
        return hits, len(hits) >= limit

    async def _format(
        self, hits: list[_Hit], reached: bool, search: str, is_dir: bool, context: int, limit: int
    ) -> ToolResult:
        cache: dict[str, list[str]] = {}
        out: list[str] = []
        long_lines = False
        for path, number in hits:
            if path not in cache:
                try:
                    cache[path] = _file_lines(await self.file_ops.read_bytes(path))
                except OSError:
                    cache[path] = []
            lines = cache[path]
            shown = display_path(path, search) if is_dir else os.path.basename(path)
            if not lines:
                out.append(f"{shown}:{number}: (unable to read file)")
                continue
            for current in range(max(1, number - context), min(len(lines), number + context) + 1):
                text, cut = truncate_line(lines[current - 1])
                long_lines = long_lines or cut
                sep = ":" if current == number else "-"
                out.append(f"{shown}{sep}{current}{sep} {text}")
        tr = truncate_head("\n".join(out), max_lines=2**53)
        details: dict[str, JsonValue] = {}
        notices: list[str] = []
        if reached:
            notices.append(
                f"{limit} matches limit reached. Use limit={limit * 2} for more, or refine pattern"
            )
            details["matchLimitReached"] = limit
        if tr.truncated:
            notices.append(f"{format_size(DEFAULT_MAX_BYTES)} limit reached")
            details["truncation"] = tr.to_json()
        if long_lines:
            notices.append(
                f"Some lines truncated to {GREP_MAX_LINE_LENGTH} chars. Use read tool to see full lines"
            )
            details["linesTruncated"] = True
        text = tr.content + (f"\n\n[{'. '.join(notices)}]" if notices else "")
        return text_result(text, details or None)
