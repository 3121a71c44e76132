"""Incremental Server-Sent Events decoder: bytes in, events out, no I/O.

Implements the framing rules of wire-formats.md §0.1: LF, CRLF and lone CR line ends
(a CR at the end of a chunk waits for the next byte), UTF-8 decoded per complete line,
comments ignored, one optional space after the colon, multi-line data joined with
``\\n``, and a pending event dispatched at EOF if it has data. The non-standard llama.cpp
``error:`` field is kept as an event named ``error``. Results never depend on how the
bytes are chunked.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: ``event`` is ``""`` when the server sent no ``event:`` line."""

    event: str
    data: str


class SSEDecoder:
    """Feed bytes with :meth:`feed`, then call :meth:`close` once at EOF."""

    __slots__ = ("_buf", "_data", "_decoder", "_event", "_has_data", "_pending_cr")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._pending_cr = False
        self._event = ""
        self._data: list[str] = []
        self._has_data = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk; returns the events it completed (maybe none)."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        out: list[SSEEvent] = []
        buf = self._buf + text if self._buf else text
        if "\r" not in buf:  # the usual case: LF only, one split instead of a scan per line
            lines = buf.split("\n")
            self._buf = lines.pop()
            for line in lines:
                self._line(line, out)
            return out
        start = 0
        n = len(buf)
        while True:
            # find the next line end (\r or \n)
            i_n = buf.find("\n", start)
            i_r = buf.find("\r", start)
            if i_n < 0 and i_r < 0:
                break
            if i_r < 0 or (0 <= i_n < i_r):
                end, nxt = i_n, i_n + 1
            else:
                end = i_r
                if i_r + 1 < n:
                    nxt = i_r + 2 if buf[i_r + 1] == "\n" else i_r + 1
                else:
                    nxt = i_r + 1
                    self._pending_cr = True
            self._line(buf[start:end], out)
            start = nxt
        self._buf = buf[start:]
        return out

    def close(self) -> list[SSEEvent]:
        """Flush at EOF: a last unterminated line and a pending event with data."""
        out: list[SSEEvent] = []
        tail = self._decoder.decode(b"", final=True)
        rest = self._buf + tail
        self._buf = ""
        if rest:
            self._line(rest, out)
        if self._has_data:
            out.append(SSEEvent(self._event, "\n".join(self._data)))
        self._event, self._data, self._has_data = "", [], False
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._has_data:
                out.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event, self._data, self._has_data = "", [], False
            return
        if line[0] == ":":
            return
        colon = line.find(":")
        if colon < 0:
            name, value = line, ""
        else:
            name, value = line[:colon], line[colon + 1 :]
            if value.startswith(" "):
                value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "error":
            # llama.cpp before 2025-09: `error: {...}` as its own field
            out.append(SSEEvent("error", value))
