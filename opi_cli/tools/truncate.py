"""Head and tail truncation of tool output by lines and UTF-8 bytes, and human-readable sizes.

The rules and the ``details.truncation`` keys are pi's (reference/pi.md §6): whole lines are
kept until either ``max_lines`` or ``max_bytes`` (newlines counted) would be exceeded.
"""

from __future__ import annotations

from typing import Literal

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_LINES",
    "GREP_MAX_LINE_LENGTH",
    "TruncatedBy",
    "Truncation",
    "format_size",
    "truncate_head",
    "truncate_line",
    "truncate_tail",
    "utf8_len",
]

DEFAULT_MAX_LINES = 2000
DEFAULT_MAX_BYTES = 51200
GREP_MAX_LINE_LENGTH = 500

TruncatedBy = Literal["lines", "bytes"]


@record
class Truncation:
    """The outcome of a truncation: the kept ``content`` and what was cut."""

    content: str
    truncated: bool
    truncated_by: TruncatedBy | None
    total_lines: int
    total_bytes: int
    output_lines: int
    output_bytes: int
    last_line_partial: bool
    first_line_exceeds_limit: bool
    max_lines: int
    max_bytes: int

    def to_json(self) -> dict[str, JsonValue]:
        """The camelCase ``details.truncation`` dict of pi."""
        return {
            "content": self.content,
            "truncated": self.truncated,
            "truncatedBy": self.truncated_by,
            "totalLines": self.total_lines,
            "totalBytes": self.total_bytes,
            "outputLines": self.output_lines,
            "outputBytes": self.output_bytes,
            "lastLinePartial": self.last_line_partial,
            "firstLineExceedsLimit": self.first_line_exceeds_limit,
            "maxLines": self.max_lines,
            "maxBytes": self.max_bytes,
        }


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (lone surrogates count as replaced)."""
    return len(text.encode("utf-8", "surrogatepass"))


def format_size(n: int) -> str:
    """``123B``, ``50.0KB``, ``1.2MB``."""
    if n < 1024:
        return f"{n}B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f}KB"
    return f"{n / (1024 * 1024):.1f}MB"


def _untruncated(content: str, lines: int, size: int, max_lines: int, max_bytes: int) -> Truncation:
    return Truncation(content, False, None, lines, size, lines, size, False, False, max_lines, max_bytes)


def truncate_head(
    content: str, *, max_lines: int = DEFAULT_MAX_LINES, max_bytes: int = DEFAULT_MAX_BYTES
) -> Truncation:
    """Keep whole lines from the top; nothing at all if the first line alone is too big."""
    total_bytes = utf8_len(content)
    lines = content.split("\n")
    total = len(lines)
    if total <= max_lines and total_bytes <= max_bytes:
        return _untruncated(content, total, total_bytes, max_lines, max_bytes)
    if utf8_len(lines[0]) > max_bytes:
        return Truncation("", True, "bytes", total, total_bytes, 0, 0, False, True, max_lines, max_bytes)
    kept: list[str] = []
    size = 0
    by: TruncatedBy = "lines"
    for i, line in enumerate(lines[:max_lines]):
        n = utf8_len(line) + (1 if i > 0 else 0)
        if size + n > max_bytes:
            by = "bytes"
            break
        kept.append(line)
        size += n
    if len(kept) >= max_lines and size <= max_bytes:
        by = "lines"
    out = "\n".join(kept)
    return Truncation(
        out, True, by, total, total_bytes, len(kept), utf8_len(out), False, False, max_lines, max_bytes
    )


def _tail_bytes(line: str, max_bytes: int) -> str:
    """The longest suffix of ``line`` that fits in ``max_bytes`` UTF-8 bytes, cut on a character."""
    raw = line.encode("utf-8", "surrogatepass")[-max_bytes:]
    start = 0
    while start < len(raw) and (raw[start] & 0xC0) == 0x80:
        start += 1
    return raw[start:].decode("utf-8", "replace")


def truncate_tail(
    content: str, *, max_lines: int = DEFAULT_MAX_LINES, max_bytes: int = DEFAULT_MAX_BYTES
) -> Truncation:
    """Keep whole lines from the bottom; a too-big last line keeps its trailing bytes."""
    total_bytes = utf8_len(content)
    lines = content.split("\n")
    total = len(lines)
    if total <= max_lines and total_bytes <= max_bytes:
        return _untruncated(content, total, total_bytes, max_lines, max_bytes)
    kept: list[str] = []
    size = 0
    by: TruncatedBy = "lines"
    partial = False
    for line in reversed(lines):
        if len(kept) >= max_lines:
            break
        n = utf8_len(line) + (1 if kept else 0)
        if size + n > max_bytes:
            by = "bytes"
            if not kept:
                cut = _tail_bytes(line, max_bytes)
                kept.append(cut)
                size = utf8_len(cut)
                partial = True
            break
        kept.append(line)
        size += n
    if len(kept) >= max_lines and size <= max_bytes:
        by = "lines"
    kept.reverse()
    out = "\n".join(kept)
    return Truncation(
        out, True, by, total, total_bytes, len(kept), utf8_len(out), partial, False, max_lines, max_bytes
    )


def truncate_line(line: str, max_chars: int = GREP_MAX_LINE_LENGTH) -> tuple[str, bool]:
    """Cut a single line to ``max_chars`` characters, marking the cut with ``... [truncated]``."""
    if len(line) <= max_chars:
        return line, False
    return f"{line[:max_chars]}... [truncated]", True
