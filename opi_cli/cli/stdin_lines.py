"""The lines of stdin for the machine modes (``--mode rpc``, ``--input-format stream-json``).

A daemon thread reads the file descriptor (stdin may be a file, a pipe or a terminal, and
asyncio can watch only some of those) and hands each line to the event loop. A line longer
than the limit is skipped whole and reported as :class:`TooLong`, so a runaway writer
costs at most ``limit`` bytes of memory and the reader stays in step with line boundaries.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from opi_cli._util.records import record

__all__ = ["MAX_LINE", "LineReader", "TooLong"]

MAX_LINE = 64 * 1024 * 1024
"""The longest line read (images come base64-encoded inside a command)."""


@record
class TooLong:
    """A line that was skipped: ``size`` bytes, more than the limit."""

    size: int


Line = bytes | TooLong | None  # None: the end of the input


def split_lines(fd: int, put: Callable[[list[Line]], None], limit: int) -> None:
    """Read ``fd`` to its end, calling ``put`` with the lines (without ``\\n``) each read
    completed, together, then with ``[None]``.

    The lines of one read go to the event loop at once: lines a program wrote together (a
    message, then a control request) are then handled in their order before a run that the
    first one started can write anything, whatever the thread scheduling.

    ``os.read`` rather than ``sys.stdin.buffer``: a daemon thread blocked inside the
    buffered reader would hold its lock while the interpreter shuts down.
    """
    buf = bytearray()
    skipped = 0  # > 0 while skipping the rest of a line longer than ``limit``
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        start = 0
        lines: list[Line] = []
        while (nl := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:nl]
            if skipped:
                lines.append(TooLong(skipped + len(piece)))
                skipped = 0
            elif len(buf) + len(piece) > limit:
                lines.append(TooLong(len(buf) + len(piece)))
            else:
                lines.append(bytes(buf + piece))
            buf.clear()
            start = nl + 1
        if lines:
            put(lines)
        rest = chunk[start:]
        if skipped:
            skipped += len(rest)
        else:
            buf += rest
            if len(buf) > limit:
                skipped, buf = len(buf), bytearray()
    if skipped:
        put([TooLong(skipped), None])
    elif buf:
        put([bytes(buf), None])
    else:
        put([None])


class LineReader:
    """Lines of ``fd`` as an async source: ``await get()`` until it returns ``None``."""

    def __init__(self, fd: int, *, limit: int = MAX_LINE) -> None:
        self.fd = fd
        self.limit = limit
        self._queue: asyncio.Queue[Line] = asyncio.Queue()
        self._ended = False

    def start(self) -> None:
        """Start reading (call inside the running event loop)."""
        loop = asyncio.get_running_loop()

        def put(items: list[Line]) -> None:
            try:
                loop.call_soon_threadsafe(self._put_all, items)
            except RuntimeError:
                pass  # the loop is gone: the process is ending

        threading.Thread(target=split_lines, args=(self.fd, put, self.limit), name="opi-stdin", daemon=True).start()

    def _put_all(self, items: list[Line]) -> None:
        for item in items:
            self._queue.put_nowait(item)

    async def get(self) -> bytes | TooLong | None:
        """The next line; ``None`` at the end of the input (or after :meth:`end`)."""
        if self._ended:
            return None
        item = await self._queue.get()
        if item is None:
            self._ended = True
        return item

    def end(self) -> None:
        """Stop early: the next :meth:`get` returns ``None`` (the thread may read on, unheard)."""
        self._ended = True
        self._queue.put_nowait(None)  # wakes a get() that is waiting
