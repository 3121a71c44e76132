"""The stdin reader of the machine modes hands the lines of one read to the event loop together."""

from __future__ import annotations

import asyncio
import os

from opi_cli.cli.stdin_lines import LineReader, TooLong


def test_lines_written_together_arrive_together_in_order() -> None:
    """A message and a control request written at once are both there when the first is handled,
    so the second is answered before the run the first starts can write anything."""

    async def go() -> None:
        read_end, write_end = os.pipe()
        os.write(write_end, b'{"type": "user"}\n{"type": "control_request"}\n\n' + b"x" * 50 + b"\n")
        reader = LineReader(read_end, limit=40)
        reader.start()
        first = await reader.get()
        assert first == b'{"type": "user"}'
        assert reader._queue.qsize() == 3  # the rest of that read is already queued, not on its way
        assert [reader._queue.get_nowait() for _ in range(3)] == [b'{"type": "control_request"}', b"", TooLong(50)]
        os.close(write_end)
        assert await reader.get() is None
        os.close(read_end)

    asyncio.run(go())
