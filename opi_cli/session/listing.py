"""One-line summaries of stored sessions for ``opi sessions``, ``-c`` and id-prefix lookup.

A summary is computed in one streaming pass over the entry lines and never builds messages:
the first user message, how many messages, the display name, and "modified" = the newest
user/assistant message time (falling back to the header time, then the file's mtime), as pi.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from opi_cli._util.jsonio import JsonValue, loads
from opi_cli._util.records import record
from opi_cli.session.entries import SessionHeader

__all__ = ["SessionInfo", "SummaryBuilder", "parse_iso"]

_PREVIEW_CHARS = 200


@record
class SessionInfo:
    """A stored session as listed.

    Attributes:
        location: the file path (JSONL) or ``postgresql:<id>`` / ``memory:<id>``.
        first_message: the text of the first user message ("" if none), cut to 200 chars.
        message_count: the number of ``message`` entries.
        modified: newest user/assistant message time (UTC).
        size: bytes stored.
    """

    id: str
    location: str
    cwd: str
    name: str | None
    first_message: str
    message_count: int
    created: datetime
    modified: datetime
    size: int
    version: int = 3

    def to_json(self) -> dict[str, JsonValue]:
        """The shape of ``opi sessions --json``."""
        return {
            "id": self.id,
            "path": self.location,
            "cwd": self.cwd,
            "name": self.name,
            "firstMessage": self.first_message,
            "messageCount": self.message_count,
            "created": _iso(self.created),
            "modified": _iso(self.modified),
            "size": self.size,
            "version": self.version,
        }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime | None:
    """An ISO timestamp (``Z`` allowed) as an aware datetime, or ``None``."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _text_of(content: JsonValue) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


class SummaryBuilder:
    """Feed entry lines, then :meth:`finish` a :class:`SessionInfo`."""

    def __init__(self, header: SessionHeader, location: str) -> None:
        self._header = header
        self._location = location
        self._first = ""
        self._count = 0
        self._name: str | None = None
        self._newest = 0

    def feed_lines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.feed(line)

    def feed(self, line: bytes) -> None:
        """One stored entry line; unreadable lines are ignored."""
        if b'"message"' not in line and b'"session_info"' not in line:
            return
        try:
            d = loads(line)
        except (ValueError, RecursionError):
            return
        if not isinstance(d, dict):
            return
        kind = d.get("type")
        if kind == "session_info":
            name = d.get("name")
            self._name = name if isinstance(name, str) and name.strip() else None
            return
        message = d.get("message")
        if kind != "message" or not isinstance(message, dict):
            return
        self._count += 1
        role = message.get("role")
        if role not in ("user", "assistant"):
            return
        ts = message.get("timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            self._newest = max(self._newest, int(ts))
        if role == "user" and not self._first:
            self._first = " ".join(_text_of(message.get("content")).split())[:_PREVIEW_CHARS]

    def finish(self, *, size: int, mtime: float | None = None) -> SessionInfo:
        h = self._header
        created = parse_iso(h.timestamp) or datetime.fromtimestamp(mtime or 0, UTC)
        if self._newest:
            modified = datetime.fromtimestamp(self._newest / 1000, UTC)
        elif parse_iso(h.timestamp) is not None:
            modified = created
        else:
            modified = datetime.fromtimestamp(mtime or 0, UTC)
        return SessionInfo(
            h.id,
            self._location,
            h.cwd,
            self._name,
            self._first,
            self._count,
            created,
            modified,
            size,
            h.version,
        )
