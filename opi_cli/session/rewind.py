"""``/undo`` and ``/rewind``: put files (and the conversation) back as they were at a user message.

The file snapshots of :mod:`~opi_cli.session.snapshots` on the current path say what each
file held before the first change after each user message. Rewinding to a user message
restores, for every file changed after it, its earliest snapshot there (deleting files
that did not exist yet); ``/undo`` does the same for the last turn whose changes are not
undone yet. Before a file is overwritten its current content is stored too, and an
``opi.files_restored`` entry records what was restored, so nothing is ever lost and a
later ``/undo`` moves on to the turn before. Rewinding the conversation moves the
session's position to just before the chosen message (a ``leaf`` entry, as ``/tree``
does). Changes made by ``bash`` are not tracked.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import field

from opi_cli._util.atomic import replace_file
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.ai.types import UserMessage
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.entries import CustomEntry, Entry, MessageEntry
from opi_cli.session.navigation import user_text
from opi_cli.session.snapshots import RESTORED_TYPE, BlobStore, FileSnapshot, read_file_state, snapshot_of

__all__ = ["RestoreReport", "RewindPoint", "rewind_points", "rewind_to", "undo_last_turn"]


@record
class RewindPoint:
    """A user message on the current path and the files changed after it (oldest first)."""

    entry_id: str
    parent_id: str | None
    text: str
    files: tuple[str, ...]


@record(frozen=False)
class RestoreReport:
    """What a restore did: files written back, files removed, and failures (path, reason)."""

    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.restored) + len(self.deleted)


@record(frozen=False)
class _Path:
    users: list[tuple[int, MessageEntry]] = field(default_factory=list)  # (position, entry)
    snapshots: list[tuple[int, FileSnapshot]] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)


def _read_path(entries: list[Entry]) -> _Path:
    out = _Path()
    for pos, e in enumerate(entries):
        if isinstance(e, MessageEntry) and isinstance(e.message, UserMessage):
            out.users.append((pos, e))
            continue
        snap = snapshot_of(e)
        if snap is not None:
            out.snapshots.append((pos, snap))
        elif isinstance(e, CustomEntry) and e.custom_type == RESTORED_TYPE and isinstance(e.data, dict):
            ids = e.data.get("snapshots")
            if isinstance(ids, list):
                out.consumed.update(i for i in ids if isinstance(i, str))
    return out


def _earliest(snaps: list[FileSnapshot]) -> dict[str, FileSnapshot]:
    plan: dict[str, FileSnapshot] = {}
    for s in snaps:
        plan.setdefault(s.path, s)
    return plan


async def _entries(session: AgentSession) -> list[Entry]:
    await session.flush()
    return await session.writer.path_entries()


async def rewind_points(session: AgentSession) -> list[RewindPoint]:
    """The user messages of the current path, oldest first, with the files changed after each."""
    p = _read_path(await _entries(session))
    points = []
    for pos, entry in p.users:
        files = _earliest([s for at, s in p.snapshots if at > pos])
        points.append(RewindPoint(entry.id, entry.parent_id, user_text(entry.message), tuple(files)))
    return points


async def _restore(session: AgentSession, plan: dict[str, FileSnapshot], blobs: BlobStore, reason: str) -> RestoreReport:
    report = RestoreReport()
    kept: list[dict[str, JsonValue]] = []
    for path, snap in plan.items():
        try:
            current = await asyncio.to_thread(read_file_state, path)
            kept_digest = await blobs.put(current[0]) if current is not None else None
            kept.append({"path": path, "before": kept_digest})
            if snap.before is None:
                if current is not None:
                    await asyncio.to_thread(os.remove, path)
                    report.deleted.append(path)
                continue
            content = await blobs.get(snap.before)
            # through a symlink to the file it names, as edit and write change it
            await asyncio.to_thread(replace_file, path, content, mode=snap.mode)
            report.restored.append(path)
        except OSError as exc:
            report.failed.append((path, exc.strerror or str(exc)))
    failed = {p for p, _ in report.failed}
    data: dict[str, JsonValue] = {
        "reason": reason,
        "snapshots": [s.entry_id for p, s in plan.items() if p not in failed],
        "files": kept,  # the content each file had just before the restore (kept, never lost)
    }
    await session.writer.append_custom(RESTORED_TYPE, data)
    await session.writer.sync()
    return report


async def undo_last_turn(session: AgentSession, blobs: BlobStore) -> tuple[RewindPoint | None, RestoreReport]:
    """Restore the files changed in the last turn not undone yet; (that turn's message, report)."""
    await session.agent.wait_for_idle()
    p = _read_path(await _entries(session))
    for i in range(len(p.users) - 1, -1, -1):
        start, entry = p.users[i]
        end = p.users[i + 1][0] if i + 1 < len(p.users) else None
        snaps = [s for at, s in p.snapshots if at > start and (end is None or at < end) and s.entry_id not in p.consumed]
        if snaps:
            plan = _earliest(snaps)
            point = RewindPoint(entry.id, entry.parent_id, user_text(entry.message), tuple(plan))
            return point, await _restore(session, plan, blobs, "undo")
    return None, RestoreReport()


async def rewind_to(
    session: AgentSession, entry_id: str, blobs: BlobStore | None, *, conversation: bool, files: bool
) -> RestoreReport:
    """Go back to just before the user message ``entry_id``: its files, the conversation, or both
    (``blobs`` is needed for the files).

    Raises:
        ValueError: ``entry_id`` is not a user message on the current path.
    """
    await session.agent.wait_for_idle()
    p = _read_path(await _entries(session))
    found = next(((pos, e) for pos, e in p.users if e.id == entry_id), None)
    if found is None:
        raise ValueError(f"{entry_id} is not a user message on the current path")
    pos, entry = found
    report = RestoreReport()
    if files and blobs is not None:
        plan = _earliest([s for at, s in p.snapshots if at > pos])
        if plan:
            report = await _restore(session, plan, blobs, "rewind")
    if conversation:
        if entry.parent_id is not None:
            await session.navigate(entry.parent_id)
        else:
            await session.writer.move_to(None)
            await session.writer.sync()
            session.agent.replace_messages([])
    return report
