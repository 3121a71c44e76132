"""Cancellation passed down explicitly: an abort controller and the signal it hands out.

Task cancellation stops awaits; the signal lets code that owns other resources (a child
process group, an HTTP response) notice the abort and clean up, and lets callbacks be
registered that run exactly once when the abort happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["AbortController", "AbortSignal"]


class AbortSignal:
    """Read side of an abort: query it, wait on it, or register a callback."""

    __slots__ = ("_callbacks", "_event", "_reason")

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._reason = ""

    @property
    def aborted(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    async def wait(self) -> None:
        await self._event.wait()

    def add_callback(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Run ``fn`` once on abort (at once if already aborted); returns a remover."""
        if self.aborted:
            fn()
            return lambda: None
        self._callbacks.append(fn)

        def remove() -> None:
            try:
                self._callbacks.remove(fn)
            except ValueError:
                pass

        return remove

    def _fire(self, reason: str) -> None:
        if self._event.is_set():
            return
        self._reason = reason
        self._event.set()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn()


class AbortController:
    """Owner side: ``abort()`` fires the signal once."""

    __slots__ = ("signal",)

    def __init__(self) -> None:
        self.signal = AbortSignal()

    def abort(self, reason: str = "aborted") -> None:
        self.signal._fire(reason)


def never_aborted() -> AbortSignal:
    """A fresh signal nobody will fire (for callers that do not cancel)."""
    return AbortSignal()
