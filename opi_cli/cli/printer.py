"""Print finished output once into the terminal's scrollback, above a running prompt_toolkit app.

Renderables committed while the app runs are batched (at most one print every
``interval`` seconds) and printed inside ``in_terminal``, which erases the app, lets the
print scroll the terminal normally and redraws the app below it; the whole step is wrapped
in synchronized-output markers so terminals that know them show one complete frame.
Until a batch is printed, :attr:`ScrollbackPrinter.pending` lets the app keep showing it.
"""

from __future__ import annotations

import asyncio
import time

from prompt_toolkit.application import Application, in_terminal
from rich.console import Console, RenderableType

__all__ = ["ScrollbackPrinter"]

_BSU, _ESU = "\x1b[?2026h", "\x1b[?2026l"  # begin / end synchronized update


class ScrollbackPrinter:
    """Batches renderables and prints them above ``app`` with ``console``.

    Args:
        console: writes to the terminal (the same one the app draws on).
        app: the running application (printing goes straight out when it is not running).
        interval: the shortest time between two prints, in seconds.
    """

    def __init__(self, console: Console, app: Application[str], *, interval: float = 0.03) -> None:
        self.console = console
        self.app = app
        self.interval = interval
        self.pending: list[RenderableType] = []
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0

    def commit(self, renderable: RenderableType) -> None:
        """Queue ``renderable`` for the next print (scheduled at once if none is)."""
        self.pending.append(renderable)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # what streams in meanwhile joins this print
        app = self.app
        while self.pending:
            items, self.pending = self.pending, []
            if not app.is_running:
                self.print_now(items)
                continue
            app.output.write_raw(_BSU)
            app.output.flush()
            async with in_terminal():
                self.print_now(items)
            app.output.write_raw(_ESU)
            app.output.flush()
        self._last = time.monotonic()

    def print_now(self, items: list[RenderableType]) -> None:
        """Print ``items`` directly (the app is not drawing, or is paused)."""
        for r in items:
            self.console.print(r)
        self.console.file.flush()

    async def close(self) -> None:
        """Print whatever is still pending (call after the app has exited)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.print_now(self.pending)
        self.pending = []
