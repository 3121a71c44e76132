"""Identifiers and timestamps in the shapes the session format uses."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

__all__ = ["new_entry_id", "new_session_id", "now_iso", "now_ms"]


def new_session_id() -> str:
    """A UUID4 string for a session (also the library's ``generate_id()``)."""
    return str(uuid.uuid4())


def new_entry_id(taken: set[str] | None = None) -> str:
    """Eight lowercase hex chars, re-drawn on collision with ``taken``."""
    for _ in range(100):
        candidate = uuid.uuid4().hex[:8]
        if taken is None or candidate not in taken:
            return candidate
    return uuid.uuid4().hex


def now_ms() -> int:
    """Milliseconds since the epoch (message timestamps)."""
    return int(time.time() * 1000)


def now_iso() -> str:
    """ISO-8601 UTC time with milliseconds and a ``Z`` (entry timestamps)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
