"""The ``edit`` tool: replace unique text in a file, one or several non-overlapping edits at once."""

from __future__ import annotations

import itertools
import json

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.errors import ToolError
from opi_cli.tools.args import req_str
from opi_cli.tools.edit_diff import line_diff
from opi_cli.tools.edit_match import Match, find_unique
from opi_cli.tools.file_writer import FileWriterTool
from opi_cli.tools.paths import resolve_path

__all__ = ["EditTool", "apply_edits", "parse_edits"]

_BOM = "\ufeff"
_EDIT_ITEM: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "oldText": {"type": "string", "description": "Exact text to find and replace (must match exactly)"},
        "newText": {"type": "string", "description": "New text to replace the old text with"},
    },
    "required": ["oldText", "newText"],
}


@record
class _Edit:
    old: str
    new: str


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _parse_edits(args: dict[str, JsonValue]) -> list[_Edit]:
    raw = args.get("edits")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ToolError("Parameter edits must be an array of {oldText, newText} objects") from exc
    edits: list[_Edit] = []
    if raw is not None:
        if not isinstance(raw, list):
            raise ToolError("Parameter edits must be an array of {oldText, newText} objects")
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ToolError(f"edits[{i}] must be an object with oldText and newText")
            edits.append(_Edit(req_str(item, "oldText"), req_str(item, "newText")))
    if "oldText" in args or "newText" in args:
        edits.append(_Edit(req_str(args, "oldText"), req_str(args, "newText")))
    if not edits:
        raise ToolError("Provide oldText and newText, or edits: [{oldText, newText}, ...]")
    return edits


parse_edits = _parse_edits
"""The edits of an ``edit`` call's arguments (raises :class:`ToolError` when malformed)."""


def _label(index: int, count: int) -> str:
    return "the exact text" if count == 1 else f"the exact text of edits[{index}]"


def apply_edits(original: str, edits: list[_Edit], path: str) -> str:
    """``original`` (BOM already stripped) with every edit applied; raises :class:`ToolError`.

    Each edit is matched against the original text and replaced in place: text outside the
    matched regions is kept byte for byte, and new text takes the file's line ending.
    """
    eol = "\r\n" if "\r\n" in original and original.find("\r\n") <= original.find("\n") else "\n"
    spans: list[tuple[Match, str, int]] = []
    for i, edit in enumerate(edits):
        old = _lf(edit.old)
        which = _label(i, len(edits))
        if not old:
            raise ToolError(f"oldText must not be empty (edit {i} in {path}).")
        found = find_unique(original, old)
        if isinstance(found, int):
            if found == 0:
                raise ToolError(
                    f"Could not find {which} in {path}. The old text must match exactly "
                    "including all whitespace and newlines."
                )
            raise ToolError(
                f"Found {found} occurrences of {'the text' if len(edits) == 1 else f'edits[{i}]'} "
                f"in {path}. The text must be unique. Please provide more context to make it unique."
            )
        spans.append((found, _lf(edit.new).replace("\n", eol), i))
    spans.sort(key=lambda s: s[0].start)
    for (a, _, ia), (b, _, ib) in itertools.pairwise(spans):
        if b.start < a.end:
            raise ToolError(
                f"edits[{min(ia, ib)}] and edits[{max(ia, ib)}] overlap in {path}. "
                "Merge them into one edit or make them target separate regions."
            )
    out: list[str] = []
    pos = 0
    for match, new, _ in spans:
        out.append(original[pos : match.start])
        out.append(new)
        pos = match.end
    out.append(original[pos:])
    return "".join(out)


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path to the file to edit (relative or absolute)"},
        "oldText": {"type": "string", "description": "Exact text to find and replace (must match exactly)"},
        "newText": {"type": "string", "description": "New text to replace the old text with"},
        "edits": {
            "type": "array",
            "items": _EDIT_ITEM,
            "description": "Several replacements in one file, each matched against the original",
        },
    },
    "required": ["path"],
}


class EditTool(FileWriterTool):
    """Replace text in a file; see :func:`apply_edits` for the matching rules.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        path_locks: per-path locks shared with ``write`` (default: private to this tool).
        home: the folder ``~`` expands to.
        file_states: what ``read``/``write`` recorded; when given, a file must have been read
            (or written) and be unchanged since to be edited (see :mod:`.file_state`).

    The file is replaced atomically (``FileOps.write_bytes``): a failure leaves it as it was.
    """

    name = "edit"
    description = (
        "Edit a file by replacing exact text. The oldText must match exactly (including "
        "whitespace). Use this for precise, surgical edits. Several separate changes to one file "
        "can be given as edits: [{oldText, newText}, ...]; each is matched against the original "
        "file and they must not overlap. Read the file first: a file not read, or changed on disk "
        "since, is refused."
    )
    parameters_template = _PARAMETERS
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Make surgical edits to files (find exact text and replace)"

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
            edits = _parse_edits(args)
            abs_path = resolve_path(path, self.cwd, self.home)
            async with self.path_locks.hold(abs_path):
                return await self._edit(path, abs_path, edits, signal)
        except ToolError as exc:
            return error_result(str(exc))

    async def _edit(self, path: str, abs_path: str, edits: list[_Edit], signal: AbortSignal) -> ToolResult:
        info = await self.file_ops.stat(abs_path)
        if info is None or info.kind != "file":
            return error_result(f"File not found: {path}")
        if self.file_states is not None and (problem := self.file_states.problem(abs_path, path, info)):
            return error_result(problem)
        try:
            raw = await self.file_ops.read_bytes(abs_path)
        except OSError:
            return error_result(f"File not found: {path}")
        text = raw.decode("utf-8", "surrogateescape")
        bom = text.startswith(_BOM)
        original = text[1:] if bom else text
        updated = apply_edits(original, edits, path)
        if updated == original:
            return error_result(
                f"No changes made to {path}. The replacement produced identical content. This might "
                "indicate an issue with special characters or the text not existing as expected."
            )
        if signal.aborted:
            return error_result("Operation aborted")
        data = ((_BOM if bom else "") + updated).encode("utf-8", "surrogateescape")
        try:
            await self.replace(abs_path, data)
        except OSError as exc:
            return error_result(f"Cannot write {path}: {exc.strerror or exc}")
        diff = line_diff(_lf(original), _lf(updated))
        message = (
            f"Successfully replaced text in {path}."
            if len(edits) == 1
            else f"Successfully replaced {len(edits)} blocks in {path}."
        )
        return text_result(message, {"diff": diff.diff, "firstChangedLine": diff.first_changed_line})
