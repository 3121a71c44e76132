"""The ``read`` tool: a text file's lines with offset/limit and continuation notices, or an image."""

from __future__ import annotations

import base64
import copy

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, error_result, text_result
from opi_cli.ai.types import ImageContent, TextContent
from opi_cli.errors import ToolError
from opi_cli.tools.args import opt_int, req_str
from opi_cli.tools.ops import FileOps
from opi_cli.tools.paths import resolve_path
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, format_size, truncate_head, utf8_len

__all__ = ["MAX_IMAGE_BYTES", "ReadTool", "sniff_image"]

MAX_IMAGE_BYTES = 4_500_000
_BINARY_SNIFF = 8192


def sniff_image(data: bytes) -> str | None:
    """The MIME type of a png/jpeg/gif/webp image judged by its magic bytes, else ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path to the file to read (relative or absolute)"},
        "offset": {"type": "number", "description": "Line number to start reading from (1-indexed)"},
        "limit": {"type": "number", "description": "Maximum number of lines to read"},
    },
    "required": ["path"],
}


class ReadTool:
    """Read a file: text with 1-based ``offset``/``limit`` and pi's notices, or an image block.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        supports_images: whether the model accepts image input; if not, images are refused.
        home: the folder ``~`` expands to (default: the user's home).
    """

    name = "read"
    description = (
        "Read the contents of a file. Supports text files and images (jpg, png, gif, webp). "
        "Images are sent as attachments. For text files, output is truncated to 2000 lines or "
        "50KB (whichever is hit first). Use offset/limit for large files. When you need the "
        "full file, continue with offset until complete."
    )
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Read file contents"

    def __init__(
        self, cwd: str, file_ops: FileOps, *, supports_images: bool = True, home: str | None = None
    ) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(_PARAMETERS)
        self.cwd = cwd
        self.file_ops = file_ops
        self.supports_images = supports_images
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
            return await self._read(args)
        except ToolError as exc:
            return error_result(str(exc))

    async def _read(self, args: dict[str, JsonValue]) -> ToolResult:
        path = req_str(args, "path")
        offset = opt_int(args, "offset")
        limit = opt_int(args, "limit")
        abs_path = resolve_path(path, self.cwd, self.home)
        kind = await self.file_ops.kind(abs_path)
        if kind is None:
            return error_result(f"ENOENT: no such file or directory, access '{abs_path}'")
        if kind == "dir":
            return error_result(f"EISDIR: illegal operation on a directory, read '{abs_path}'")
        try:
            data = await self.file_ops.read_bytes(abs_path)
        except OSError as exc:
            return error_result(f"Cannot read {abs_path}: {exc.strerror or exc}")
        mime = sniff_image(data)
        if mime is not None:
            return self._image(path, data, mime)
        if b"\x00" in data[:_BINARY_SNIFF]:
            return error_result(
                f"Cannot read {path}: it is a binary file ({format_size(len(data))}), not text. "
                "Use bash (e.g. `file` or `xxd | head`) to inspect it."
            )
        return self._text(path, data.decode("utf-8", "replace"), offset, limit)

    def _image(self, path: str, data: bytes, mime: str) -> ToolResult:
        if not self.supports_images:
            return error_result(
                f"Cannot read image file {path} [{mime}]: the current model does not support image input."
            )
        if len(data) > MAX_IMAGE_BYTES:
            return error_result(
                f"Image file {path} [{mime}] is {format_size(len(data))}, larger than the "
                f"{format_size(MAX_IMAGE_BYTES)} that can be sent to the model."
            )
        encoded = base64.b64encode(data).decode("ascii")
        return ToolResult((TextContent(f"Read image file [{mime}]"), ImageContent(encoded, mime)))

    def _text(self, path: str, text: str, offset: int | None, limit: int | None) -> ToolResult:
        lines = text.split("\n")
        total = len(lines)
        start = max(0, offset - 1) if offset else 0
        if start >= total:
            return error_result(f"Offset {offset} is beyond end of file ({total} lines total)")
        first = start + 1
        if limit is not None:
            end = min(start + max(limit, 0), total)
            selected = "\n".join(lines[start:end])
            user_lines: int | None = end - start
        else:
            selected = "\n".join(lines[start:])
            user_lines = None
        tr = truncate_head(selected)
        if tr.first_line_exceeds_limit:
            size = format_size(utf8_len(lines[start]))
            msg = (
                f"[Line {first} is {size}, exceeds {format_size(DEFAULT_MAX_BYTES)} limit. "
                f"Use bash: sed -n '{first}p' {path} | head -c {DEFAULT_MAX_BYTES}]"
            )
            return text_result(msg, {"truncation": tr.to_json()})
        if tr.truncated:
            last = first + tr.output_lines - 1
            limit_note = "" if tr.truncated_by == "lines" else f" ({format_size(DEFAULT_MAX_BYTES)} limit)"
            notice = f"\n\n[Showing lines {first}-{last} of {total}{limit_note}. Use offset={last + 1} to continue.]"
            return text_result(tr.content + notice, {"truncation": tr.to_json()})
        if user_lines is not None and start + user_lines < total:
            remaining = total - (start + user_lines)
            notice = f"\n\n[{remaining} more lines in file. Use offset={start + user_lines + 1} to continue.]"
            return text_result(tr.content + notice)
        return text_result(tr.content)
