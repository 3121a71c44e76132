"""A window of a text file's lines, read as a stream: memory bounded by the output cap, not the file.

``read`` shows at most 2000 lines / 50 KB, from line ``offset`` for ``limit`` lines. The
file's bytes pass through :class:`LineWindow` chunk by chunk; it keeps only the lines that
can still be shown and measures the rest without keeping it. Past what is shown it reads on
only to count lines for the notices ("of N", "N more lines"), and for at most
:data:`COUNT_BUDGET` bytes, so three lines of a 2 GB log cost three lines, not 2 GB of I/O;
the notices then give the file's size instead of its line count.

The outcome equals splitting the whole decoded file on ``\\n`` (a trailing newline makes a
last, empty line), sizes being UTF-8 bytes after invalid bytes became U+FFFD. Invalid
sequences never span a ``\\n`` (it is ASCII), so decoding line by line gives the same text.
"""

from __future__ import annotations

import codecs
from dataclasses import field

from opi_cli._util.records import record
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, DEFAULT_MAX_LINES, TruncatedBy, Truncation

__all__ = ["COUNT_BUDGET", "LineWindow", "WindowResult"]

COUNT_BUDGET = 32 << 20


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")("replace")


@record
class WindowResult:
    """What a :class:`LineWindow` saw.

    Attributes:
        counted: the whole file was read, so every count below is exact (else lower bounds).
        beyond_end: the file has no line at the window's start (only when ``counted``).
        lines_total: lines in the file.
        selected: lines in the selection.
        more_after: a line follows the selection (known even when not ``counted``).
        truncation: the selection cut to the output cap, as ``truncate_head`` cuts it.
        first_line_bytes: size of the selection's first line; ``first_line_exact`` says
            whether that line was read to its end.
    """

    counted: bool
    beyond_end: bool
    lines_total: int
    selected: int
    more_after: bool
    truncation: Truncation
    first_line_bytes: int
    first_line_exact: bool


@record(frozen=False)
class LineWindow:
    """Feed it a file's bytes in order (:meth:`feed`), then take the :meth:`result`.

    Args:
        start: index (0-based) of the selection's first line.
        limit: lines in the selection (``None``: to the end of the file).
    """

    start: int
    limit: int | None = None
    max_lines: int = DEFAULT_MAX_LINES
    max_bytes: int = DEFAULT_MAX_BYTES
    budget: int = COUNT_BUDGET
    line: int = 0  # index of the line the next byte belongs to (= newlines seen)
    closed: bool = False  # the newline ending the selection's last line was seen
    stopped: bool = False  # reading stopped before the end of the file
    kept: list[str] = field(default_factory=list)
    kept_bytes: int = 0
    keeping: bool = True
    byte_break: bool = False
    open_parts: list[str] = field(default_factory=list)  # the open line's text, while it may be kept
    open_bytes: int = 0
    first_bytes: int = 0
    selected_bytes: int = 0
    spent: int = 0  # bytes read only to measure or count
    span_decoder: codecs.IncrementalDecoder = field(default_factory=_decoder)
    line_decoder: codecs.IncrementalDecoder = field(default_factory=_decoder)

    @property
    def _end(self) -> int | None:
        return None if self.limit is None else self.start + max(self.limit, 0)

    @property
    def _first_done(self) -> bool:
        return self.line > self.start

    def feed(self, chunk: bytes) -> bool:
        """Take the next bytes; returns False once nothing more needs reading."""
        pos = 0
        while pos < len(chunk) and not self.stopped:
            if self.line < self.start:
                pos = self._skip(chunk, pos)
            elif not self.closed and (self._end is None or self.line < self._end):
                pos = self._select(chunk, pos)
            else:
                self.closed = True
                self.line += chunk.count(b"\n", pos)
                self._spend(len(chunk) - pos)
                break
        return not self.stopped

    def _spend(self, n: int) -> None:
        self.spent += n
        if self.spent >= self.budget:
            self.stopped = True

    def _skip(self, chunk: bytes, pos: int) -> int:
        """Pass over whole lines before the selection."""
        while self.line < self.start:
            nl = chunk.find(b"\n", pos)
            if nl < 0:
                return len(chunk)
            self.line += 1
            pos = nl + 1
        return pos

    def _select(self, chunk: bytes, pos: int) -> int:
        """Take selected bytes up to the selection's closing newline or the chunk's end."""
        stop, closes = len(chunk), False
        end = self._end
        if end is not None:
            at = pos
            for _ in range(end - self.line):
                nl = chunk.find(b"\n", at)
                if nl < 0:
                    break
                at = nl + 1
            else:
                stop, closes = at - 1, True
        span = chunk[pos:stop]
        self.selected_bytes += _size(self.span_decoder.decode(span, final=closes))
        if self.keeping or not self._first_done:
            self._lines(span, closes)
        else:
            self._spend(len(span))
        self.line += span.count(b"\n")
        if closes:
            self.line += 1
            self.closed = True
            return stop + 1
        return len(chunk)

    def _lines(self, span: bytes, closes: bool) -> None:
        """Keep what fits of each line in ``span``; measure the first line whatever its size."""
        pieces = span.split(b"\n")
        for k, piece in enumerate(pieces):
            index = self.line - self.start + k
            ends = k < len(pieces) - 1 or closes
            if not self.keeping and index > 0:
                self._spend(len(piece) + 1)
                continue
            text = self.line_decoder.decode(piece, final=ends)
            size = _size(text)
            self.open_bytes += size
            if index == 0:
                self.first_bytes += size
            if self.keeping:
                self._keep(index, text)
            else:
                self._spend(len(piece))
            if ends:
                self._close_line(index)

    def _keep(self, index: int, text: str) -> None:
        if index >= self.max_lines:
            self.keeping = False  # a line past the cap: cut by lines
        elif self.kept_bytes + (1 if index else 0) + self.open_bytes > self.max_bytes:
            self.keeping = False
            self.byte_break = True
        else:
            self.open_parts.append(text)
            return
        self.open_parts.clear()

    def _close_line(self, index: int) -> None:
        if self.keeping:
            self.kept.append("".join(self.open_parts))
            self.kept_bytes += self.open_bytes + (1 if index else 0)
        self.open_parts.clear()
        self.open_bytes = 0

    def result(self) -> WindowResult:
        """What was seen, once :meth:`feed` returned False or the file ended (its open line is then complete)."""
        counted = not self.stopped
        end = self._end
        closed = self.closed or (end is not None and end <= self.start <= self.line)
        if counted and self.line >= self.start and not closed:
            self.selected_bytes += _size(self.span_decoder.decode(b"", final=True))
            if self.keeping or not self._first_done:
                self._lines(b"", True)
        first_exact = self._first_done or counted
        selected = (self._end or 0) - self.start if closed else max(0, self.line - self.start + 1)
        return WindowResult(
            counted=counted,
            beyond_end=counted and self.line < self.start,
            lines_total=self.line + 1,
            selected=selected,
            more_after=closed,
            truncation=self._truncation(selected),
            first_line_bytes=self.first_bytes,
            first_line_exact=first_exact,
        )

    def _truncation(self, selected: int) -> Truncation:
        lines, size = max(selected, 1), self.selected_bytes
        if self.keeping:
            content = "\n".join(self.kept)
            return Truncation(content, False, None, lines, size, lines, size, False, False, self.max_lines, self.max_bytes)
        if self.first_bytes > self.max_bytes:
            return Truncation("", True, "bytes", lines, size, 0, 0, False, True, self.max_lines, self.max_bytes)
        content = "\n".join(self.kept)
        by: TruncatedBy = "bytes" if self.byte_break else "lines"
        return Truncation(
            content, True, by, lines, size, len(self.kept), _size(content), False, False, self.max_lines, self.max_bytes
        )
