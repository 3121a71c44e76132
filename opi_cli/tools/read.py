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
from opi_cli.tools.file_state import FileStates
from opi_cli.tools.ops import FileOps, NotRegularFileError
from opi_cli.tools.paths import resolve_path
from opi_cli.tools.read_window import LineWindow, WindowResult
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, format_size

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
        file_states: where to record what the model saw, for ``edit`` (shared with it).

    FIFOs, sockets and devices are refused (reading them could block or never end). Only
    what the window and the output cap need is kept in memory (:mod:`.read_window`).
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
        self,
        cwd: str,
        file_ops: FileOps,
        *,
        supports_images: bool = True,
        home: str | None = None,
        file_states: FileStates | None = None,
    ) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(_PARAMETERS)
        self.cwd = cwd
        self.file_ops = file_ops
        self.supports_images = supports_images
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
            return await self._read(args, signal)
        except ToolError as exc:
            return error_result(str(exc))

    async def _read(self, args: dict[str, JsonValue], signal: AbortSignal) -> ToolResult:
        path = req_str(args, "path")
        offset = opt_int(args, "offset")
        limit = opt_int(args, "limit")
        abs_path = resolve_path(path, self.cwd, self.home)
        info = await self.file_ops.stat(abs_path)
        if info is None:
            return error_result(f"ENOENT: no such file or directory, access '{abs_path}'")
        if info.kind == "dir":
            return error_result(f"EISDIR: illegal operation on a directory, read '{abs_path}'")
        try:
            head = await self._head(abs_path, _BINARY_SNIFF)
            mime = sniff_image(head)
            if mime is not None:
                result = await self._image(path, abs_path, mime, info.size)
            elif b"\x00" in head:
                return error_result(
                    f"Cannot read {path}: it is a binary file ({format_size(info.size)}), not text. "
                    "Use bash (e.g. `file` or `xxd | head`) to inspect it."
                )
            else:
                window = LineWindow(max(0, offset - 1) if offset else 0, limit)
                await self.file_ops.read_chunks(abs_path, lambda chunk: not signal.aborted and window.feed(chunk))
                if signal.aborted:
                    return error_result("Operation aborted")
                result = self._text(path, window.result(), offset, limit, info.size)
        except NotRegularFileError as exc:
            return error_result(f"Cannot read {path}: {exc.strerror}.")
        except OSError as exc:
            return error_result(f"Cannot read {abs_path}: {exc.strerror or exc}")
        if not result.is_error and self.file_states is not None:
            self.file_states.record(abs_path, info)
        return result

    async def _head(self, abs_path: str, n: int) -> bytes:
        """Up to the first ``n`` bytes of a regular file."""
        got = bytearray()

        def feed(chunk: bytes) -> bool:
            got.extend(chunk[: n - len(got)])
            return len(got) < n

        await self.file_ops.read_chunks(abs_path, feed)
        return bytes(got)

    async def _image(self, path: str, abs_path: str, mime: str, size: int) -> ToolResult:
        if not self.supports_images:
            return error_result(
                f"Cannot read image file {path} [{mime}]: the current model does not support image input."
            )
        data = await self._head(abs_path, MAX_IMAGE_BYTES + 1) if size <= MAX_IMAGE_BYTES else b""
        if len(data) > MAX_IMAGE_BYTES or size > MAX_IMAGE_BYTES:
            return error_result(
                f"Image file {path} [{mime}] is {format_size(max(size, len(data)))}, larger than the "
                f"{format_size(MAX_IMAGE_BYTES)} that can be sent to the model."
            )
        encoded = base64.b64encode(data).decode("ascii")
        return ToolResult((TextContent(f"Read image file [{mime}]"), ImageContent(encoded, mime)))

    def _text(self, path: str, w: WindowResult, offset: int | None, limit: int | None, size: int) -> ToolResult:
        if w.beyond_end:
            return error_result(f"Offset {offset} is beyond end of file ({w.lines_total} lines total)")
        start = max(0, offset - 1) if offset else 0
        first = start + 1
        tr = w.truncation
        if tr.first_line_exceeds_limit:
            line_size = format_size(w.first_line_bytes) if w.first_line_exact else f"over {format_size(w.first_line_bytes)}"
            msg = (
                f"[Line {first} is {line_size}, exceeds {format_size(DEFAULT_MAX_BYTES)} limit. "
                f"Use bash: sed -n '{first}p' {path} | head -c {DEFAULT_MAX_BYTES}]"
            )
            return text_result(msg, {"truncation": tr.to_json()})
        if tr.truncated:
            last = first + tr.output_lines - 1
            limit_note = "" if tr.truncated_by == "lines" else f" ({format_size(DEFAULT_MAX_BYTES)} limit)"
            of = str(w.lines_total) if w.counted else f"{format_size(size)} file"
            notice = f"\n\n[Showing lines {first}-{last} of {of}{limit_note}. Use offset={last + 1} to continue.]"
            return text_result(tr.content + notice, {"truncation": tr.to_json()})
        if limit is not None and w.more_after:
            after = start + w.selected
            more = f"{w.lines_total - after} more lines in file" if w.counted else f"More lines in file ({format_size(size)})"
            return text_result(tr.content + f"\n\n[{more}. Use offset={after + 1} to continue.]")
        return text_result(tr.content)
