"""Collecting a command's output: a rolling tail for the model, the full text spilled to a file.

Only the last ``keep_bytes`` of output stay in memory. Once the output outgrows the byte
limit it is also streamed to a private temporary file; when the final result is truncated
for any reason (lines or bytes) that file is guaranteed to exist and hold everything (pi
defect 11).
"""

from __future__ import annotations

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.tools.ops import FileOps, TempFile
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, Truncation, format_size, truncate_tail

__all__ = ["CommandOutput", "OutputCollector"]


@record
class CommandOutput:
    """The text for the model (with the truncation notice) and the details for the UI."""

    text: str
    details: dict[str, JsonValue] | None


def _decode_tail(data: bytes | bytearray, cut: bool) -> str:
    start = 0
    if cut:
        while start < len(data) and (data[start] & 0xC0) == 0x80:
            start += 1
    return bytes(data[start:]).decode("utf-8", "replace")


class OutputCollector:
    """Accumulates output chunks; see the module docstring."""

    def __init__(self, file_ops: FileOps, *, keep_bytes: int = 2 * DEFAULT_MAX_BYTES) -> None:
        self._file_ops = file_ops
        self._keep = keep_bytes
        self._tail = bytearray()
        self._cut = False
        self._full: list[bytes] | None = []
        self._spill: TempFile | None = None
        self.total_bytes = 0
        self._newlines = 0
        self._last_line_bytes = 0

    @property
    def spill_path(self) -> str | None:
        return self._spill.path if self._spill is not None else None

    async def add(self, chunk: bytes) -> None:
        """Take one chunk of output."""
        self.total_bytes += len(chunk)
        nl = chunk.count(b"\n")
        self._newlines += nl
        self._last_line_bytes = (
            len(chunk) - chunk.rfind(b"\n") - 1 if nl else self._last_line_bytes + len(chunk)
        )
        if self._spill is not None:
            await self._spill.write(chunk)
        else:
            assert self._full is not None
            self._full.append(chunk)
            if self.total_bytes > DEFAULT_MAX_BYTES:
                await self._start_spill()
        self._tail += chunk
        if len(self._tail) > self._keep:
            del self._tail[: len(self._tail) - self._keep]
            self._cut = True

    async def _start_spill(self) -> None:
        assert self._full is not None
        self._spill = await self._file_ops.temp_file("opi-bash-", ".log")
        await self._spill.write(b"".join(self._full))
        self._full = None

    def _truncation(self) -> Truncation:
        tr = truncate_tail(_decode_tail(self._tail, self._cut))
        total_lines = self._newlines + 1
        if not self._cut:
            return tr
        return Truncation(
            tr.content,
            True,
            tr.truncated_by or "bytes",
            total_lines,
            self.total_bytes,
            tr.output_lines,
            tr.output_bytes,
            tr.last_line_partial,
            False,
            tr.max_lines,
            tr.max_bytes,
        )

    def preview(self) -> str:
        """The tail-truncated output so far (for progress updates)."""
        return self._truncation().content

    async def finish(self) -> CommandOutput:
        """Close the spill file and render the final text (``(no output)`` if empty)."""
        tr = self._truncation()
        if tr.truncated and self._spill is None:
            await self._start_spill()
        if self._spill is not None:
            await self._spill.close()
        text = tr.content or "(no output)"
        if not tr.truncated:
            return CommandOutput(text, None)
        path = self.spill_path
        end = tr.total_lines
        start = end - tr.output_lines + 1
        if tr.last_line_partial:
            notice = (
                f"[Showing last {format_size(tr.output_bytes)} of line {end} "
                f"(line is {format_size(self._last_line_bytes)}). Full output: {path}]"
            )
        elif tr.truncated_by == "lines":
            notice = f"[Showing lines {start}-{end} of {tr.total_lines}. Full output: {path}]"
        else:
            notice = (
                f"[Showing lines {start}-{end} of {tr.total_lines} "
                f"({format_size(DEFAULT_MAX_BYTES)} limit). Full output: {path}]"
            )
        return CommandOutput(f"{text}\n\n{notice}", {"truncation": tr.to_json(), "fullOutputPath": path})
