"""Incremental Server-Sent Events decoder: bytes in, events out, no I/O.

Implements the framing rules of wire-formats.md §0.1: LF, CRLF and lone CR line ends
(a CR at the end of a chunk waits for the next byte), UTF-8 decoded per complete line,
comments ignored, one optional space after the colon, multi-line data joined with
``\\n``, and a pending event dispatched at EOF if it has data. The non-standard llama.cpp
``error:`` field is kept as an event named ``error``. Results never depend on how the
bytes are chunked.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SSEDecoder", "SSEEvent"]


class SSEEvent(NamedTuple):
    """One dispatched event: ``event`` is ``""`` when the server sent no ``event:`` line.

    A named tuple: one is made per network event, and a tuple is the cheapest immutable
    record to make.
    """

    event: str
    data: str


class SSEDecoder:
    """Feed bytes with :meth:`feed`, then call :meth:`close` once at EOF.

    Lines are split as bytes and only the field values are decoded (a line end never
    falls inside a UTF-8 sequence, so this is UTF-8 per complete line): one ``split`` and
    one ``decode`` per ``data:`` line is all the usual event costs.
    """

    __slots__ = ("_buf", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._pending_cr = False  # the last chunk ended with CR: a LF opening the next is its pair
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk; returns the events it completed (maybe none)."""
        if not chunk:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            if buf[-1:] == b"\r":
                self._pending_cr = True
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        out: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if line.startswith(b"data:"):  # the usual line first
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value.decode("utf-8", "replace"))
            elif not line:
                if data:
                    out.append(SSEEvent(self._event, data[0] if len(data) == 1 else "\n".join(data)))
                    data = self._data = []
                self._event = ""
            elif line.startswith(b"event:"):  # the usual other line (Anthropic, Responses)
                value = line[7:] if line[6:7] == b" " else line[6:]
                self._event = value.decode("utf-8", "replace")
            else:
                self._field(line, out)
        return out

    def close(self) -> list[SSEEvent]:
        """Flush at EOF: a last unterminated line and a pending event with data."""
        rest, self._buf = self._buf, b""
        out = self.feed(rest + b"\n") if rest else []  # the last line is complete at EOF
        if self._data:
            out.append(SSEEvent(self._event, "\n".join(self._data)))
        self._event, self._data, self._pending_cr = "", [], False
        return out

    def _field(self, line: bytes, out: list[SSEEvent]) -> None:
        """A line other than ``data:`` or a blank one: a comment, ``event:``, ``error:`` or ignored."""
        if line[:1] == b":":
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":  # "data" without a colon: an empty data line
            self._data.append("")
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"error":
            # llama.cpp before 2025-09: `error: {...}` as its own field
            out.append(SSEEvent("error", value.decode("utf-8", "replace")))
