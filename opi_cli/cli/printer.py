"""Print finished output once into the terminal's scrollback, above a running prompt_toolkit app.

Renderables committed while the app runs are batched (at most one print every
``interval`` seconds) and printed inside ``in_terminal``, which erases the app, lets the
print scroll the terminal normally and redraws the app below it; the whole step is wrapped
in synchronized-output markers so terminals that know them show one complete frame.
Until a batch is printed, :attr:`ScrollbackPrinter.pending` lets the app keep showing it.

Everything printed is also kept (the last :data:`TRANSCRIPT_ITEMS` renderables), because a
resize cannot be repaired in place: most terminals re-wrap their rows when the width
changes, so the app's old frame no longer has the height prompt_toolkit remembers and
erasing it would leave stale rows (a separator, half a paragraph) in the scrollback.
:meth:`ScrollbackPrinter.redraw` clears the screen and the scrollback and prints the kept
conversation again at the new size, so every line is on the screen exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable, Iterable

from prompt_toolkit.application import Application, in_terminal
from rich.console import Console, RenderableType
from rich.text import Text

__all__ = ["TRANSCRIPT_ITEMS", "ScrollbackPrinter"]

_BSU, _ESU = "\x1b[?2026h", "\x1b[?2026l"  # begin / end synchronized update
_CLEAR_ALL = "\x1b[H\x1b[2J\x1b[3J"  # home, erase the screen, erase the scrollback (xterm's E3)
TRANSCRIPT_ITEMS = 4000
"""How many printed renderables a redraw after a resize prints again (older ones are named)."""


class ScrollbackPrinter:
    """Batches renderables and prints them above ``app`` with ``console``.

    Args:
        console: writes to the terminal (the same one the app draws on).
        app: the running application (printing goes straight out when it is not running).
        interval: the shortest time between two prints, in seconds.
        keep: how many printed renderables :meth:`redraw` can print again.
    """

    def __init__(
        self, console: Console, app: Application[str], *, interval: float = 0.03, keep: int = TRANSCRIPT_ITEMS
    ) -> None:
        self.console = console
        self.app = app
        self.interval = interval
        self.pending: list[RenderableType] = []
        self.transcript: deque[RenderableType] = deque(maxlen=keep)
        self.forgotten = 0  # printed renderables that fell out of the transcript
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._last = 0.0

    def commit(self, renderable: RenderableType) -> None:
        """Queue ``renderable`` for the next print (scheduled at once if none is)."""
        self.pending.append(renderable)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush())

    def _remember(self, items: Iterable[RenderableType]) -> None:
        for item in items:
            if len(self.transcript) == self.transcript.maxlen:
                self.forgotten += 1
            self.transcript.append(item)

    async def _flush(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # what streams in meanwhile joins this print
        async with self._lock:
            while self.pending:
                items, self.pending = self.pending, []
                self._remember(items)
                await self._above_app(functools.partial(self._print, items))
        self._last = time.monotonic()

    async def _above_app(self, write: Callable[[], None]) -> None:
        """Run ``write`` with the app erased (redrawn after), as one synchronized frame."""
        app = self.app
        if not app.is_running:
            write()
            return
        app.output.write_raw(_BSU)
        app.output.flush()
        async with in_terminal():
            write()
        app.output.write_raw(_ESU)
        app.output.flush()

    def _print(self, items: Iterable[RenderableType]) -> None:
        for r in items:
            self.console.print(r)
        self.console.file.flush()

    def print_now(self, items: list[RenderableType]) -> None:
        """Print ``items`` directly (the app is not drawing, or is paused) and keep them."""
        self._remember(items)
        self._print(items)

    async def redraw(self) -> None:
        """After a resize: clear the screen and the scrollback, print the kept conversation
        again at the terminal's new size, and let the app draw itself below it."""
        async with self._lock:
            items, self.pending = self.pending, []
            self._remember(items)
            if not self.app.is_running:
                self._print(items)
                return
            await self._above_app(self._print_all)

    def _print_all(self) -> None:
        self.console.file.write(_CLEAR_ALL)
        if self.forgotten:
            self.console.print(Text(f"… {self.forgotten} earlier blocks are not redrawn after a resize "
                                    "(/export writes the whole session)", style="dim"))
        self._print(self.transcript)

    async def close(self) -> None:
        """Print whatever is still pending (call after the app has exited)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.print_now(self.pending)
        self.pending = []
