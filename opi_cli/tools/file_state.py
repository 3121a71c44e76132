"""What the model has seen of each file, so ``edit`` never changes a file behind its back.

``read`` records a file's size and modification time when it returns its content; ``write``
and ``edit`` record the file they leave. ``edit`` then refuses a file the model has not
seen in this tool set (as Claude Code does: the old text must come from the file as it is),
and a file whose size or mtime changed since (the user, a formatter or a ``bash`` command
touched it). Reading it again, even a part of it, is enough to edit it.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime

from opi_cli._util.records import record
from opi_cli.tools.ops import FileStat

__all__ = ["FileStates"]


@record
class _Seen:
    size: int
    mtime_ns: int


@record(frozen=False)
class FileStates:
    """The state of each file (by absolute path) when the model last saw it; shared by read, write and edit."""

    _seen: dict[str, _Seen] = field(default_factory=dict)

    def record(self, path: str, stat: FileStat | None) -> None:
        """Remember ``path`` as the model now knows it (``None``: forget it)."""
        if stat is None:
            self._seen.pop(path, None)
        else:
            self._seen[path] = _Seen(stat.size, stat.mtime_ns)

    def problem(self, path: str, shown: str, stat: FileStat) -> str | None:
        """Why ``path`` (``shown`` in messages) must not be edited now, or ``None`` if it may be."""
        seen = self._seen.get(path)
        if seen is None:
            return f"Read {shown} before editing it: edit only changes files whose current content you have seen."
        if seen.size != stat.size:
            change = f"size {seen.size} -> {stat.size} bytes"
        elif seen.mtime_ns != stat.mtime_ns:
            when = datetime.fromtimestamp(stat.mtime_ns / 1e9).isoformat(sep=" ", timespec="seconds")
            change = f"modified at {when}"
        else:
            return None
        return f"{shown} changed on disk since you last read it ({change}). Read it again before editing."
