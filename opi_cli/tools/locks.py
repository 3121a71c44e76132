"""Per-path mutation locks so parallel writes to one file serialise while other files proceed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["PathLocks"]


class PathLocks:
    """One ``asyncio.Lock`` per resolved path, created on demand and dropped when unused.

    Share one instance between the ``write`` and ``edit`` tools of an agent.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, path: str) -> AsyncIterator[None]:
        """Hold the lock of ``path`` (normalized) for the duration of the ``async with``."""
        key = os.path.normpath(path)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def __len__(self) -> int:
        """How many paths currently have a lock (held or awaited)."""
        return len(self._locks)
