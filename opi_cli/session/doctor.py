"""``opi sessions doctor``: check a session file and write a repaired copy, keeping the original as ``*.bak``.

The check reads every line in full (stricter than loading, which parses lazily) and reports
the header, unreadable lines, a torn tail, orphans (entries whose parent is missing),
duplicate ids and ``leaf`` entries that point nowhere. The repair writes what loading would
see: a header (rebuilt from the file name if it was lost), only readable lines, orphans
attached where loading attaches them, and later duplicates given fresh ids.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import field
from pathlib import Path

from opi_cli._util.ids import new_entry_id, new_session_id, now_iso
from opi_cli._util.jsonio import JsonValue, loads
from opi_cli._util.records import record
from opi_cli.errors import SessionError
from opi_cli.session.entries import (
    CURRENT_VERSION,
    Entry,
    EntryError,
    LeafEntry,
    SessionHeader,
    entry_to_line,
    header_to_line,
    parse_entry,
    parse_entry_line,
    parse_header_line,
)
from opi_cli.session.index import Damage
from opi_cli.session.migrate import migrate_records
from opi_cli.session.stores.jsonl_file import LockFile
from opi_cli.session.tree import SessionTree, node_of

__all__ = ["DoctorReport", "check", "repair", "require_session"]

_NAME = re.compile(r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)_(?P<id>[0-9a-fA-F-]{36})$")


@record(frozen=False)
class DoctorReport:
    """What :func:`check` found (``ok`` when nothing needs repair)."""

    path: Path
    header: SessionHeader | None = None
    header_error: str | None = None
    entries: int = 0
    damaged: list[Damage] = field(default_factory=list)
    torn_tail: bool = False
    orphans: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    bad_leaves: list[str] = field(default_factory=list)
    entry_like: int = 0
    """Lines that are JSON objects with a string ``type`` and ``id``, as every entry has."""

    @property
    def is_session(self) -> bool:
        """Whether the file looks like a session at all: a header, or lines shaped like entries."""
        return self.header is not None or self.entries > 0 or self.entry_like > 0

    @property
    def ok(self) -> bool:
        return self.header is not None and not (
            self.damaged or self.torn_tail or self.orphans or self.duplicate_ids
        )

    def problems(self) -> list[str]:
        """One human-readable line per problem."""
        out: list[str] = []
        if self.header_error:
            out.append(f"header: {self.header_error}")
        out += [f"line {d.line}: {d.reason}" for d in self.damaged]
        if self.torn_tail:
            out.append("the last line is torn (a crash mid-write)")
        out += [f"entry {i}: parent missing (re-attached to the previous entry)" for i in self.orphans]
        out += [f"entry id {i} is used more than once" for i in self.duplicate_ids]
        out += [f"leaf entry {i} points at a missing entry" for i in self.bad_leaves]
        return out


def _json(line: bytes) -> JsonValue | EntryError:
    try:
        return loads(line)
    except (ValueError, RecursionError) as exc:
        return EntryError(f"not JSON: {exc}"[:200])


def _read(path: Path) -> tuple[DoctorReport, list[tuple[int, Entry]]]:
    report = DoctorReport(path)
    lines = path.read_bytes().split(b"\n")
    tail = lines.pop()  # b"" when the file ends in a newline
    if tail.strip():
        if isinstance(_json(tail), EntryError):
            report.torn_tail = True
        else:
            lines.append(tail)
    header = parse_header_line(lines[0]) if lines else EntryError("empty file")
    first = 1
    if isinstance(header, EntryError):
        report.header_error = "missing" if not lines or not lines[0].strip() else header.reason
        if lines and not isinstance(parse_entry_line(lines[0]), EntryError):
            first = 0  # the header is missing and line 1 is an entry
        version = CURRENT_VERSION
    else:
        report.header = header
        version = header.version
    records: list[tuple[int, dict[str, JsonValue]]] = []
    for n, line in enumerate(lines[first:], start=first + 1):
        if not line.strip():
            continue
        value = _json(line)
        if isinstance(value, EntryError):
            report.damaged.append(Damage(n, value.reason))
        elif not isinstance(value, dict):
            report.damaged.append(Damage(n, "not a JSON object"))
        else:
            records.append((n, value))
            if isinstance(value.get("type"), str) and isinstance(value.get("id"), str):
                report.entry_like += 1
    if version < CURRENT_VERSION:
        migrated = migrate_records(version, [r for _, r in records])
        records = [(n, rec) for (n, _), rec in zip(records, migrated, strict=True)]
    entries: list[tuple[int, Entry]] = []
    for n, rec in records:
        entry = parse_entry(rec)
        if isinstance(entry, EntryError):
            report.damaged.append(Damage(n, entry.reason))
        else:
            entries.append((n, entry))
    report.entries = len(entries)
    return report, entries


def require_session(report: DoctorReport) -> None:
    """Refuse a file that is not a session at all (a ``package.json``, a log): nothing is written.

    Raises:
        SessionError: naming the file.
    """
    if not report.is_session:
        raise SessionError(
            f"{report.path} is not a session file (no session header and no session entries); nothing was changed."
        )


def check(path: Path) -> DoctorReport:
    """Check a session file without changing it."""
    report, entries = _read(path)
    _analyse(report, entries)
    return report


def _analyse(report: DoctorReport, entries: list[tuple[int, Entry]]) -> None:
    tree = SessionTree()
    seen: set[str] = set()
    for _, entry in entries:
        if entry.id in seen:
            report.duplicate_ids.append(entry.id)
        seen.add(entry.id)
        before = tree.leaf
        pos = tree.add(node_of(entry))
        if isinstance(entry, LeafEntry) and entry.target_id is not None and tree.leaf == before:
            report.bad_leaves.append(entry.id)
        if tree.reattached and tree.reattached[-1] == pos:
            report.orphans.append(entry.id)


def _header_from_name(path: Path) -> SessionHeader:
    m = _NAME.match(path.stem)
    sid = m.group("id") if m else new_session_id()
    ts = now_iso()
    if m:
        d, t = m.group("ts").split("T")
        hh, mm, ss, ms = t.rstrip("Z").split("-")
        ts = f"{d}T{hh}:{mm}:{ss}.{ms}Z"
    folder = path.parent.name
    cwd = "/" + folder.strip("-").replace("-", "/") if folder.startswith("--") else ""
    return SessionHeader(sid, ts, cwd, extra={"repairedHeader": True})


def _fixed_lines(header: SessionHeader, entries: list[tuple[int, Entry]]) -> list[bytes]:
    out = [header_to_line(header)]
    tree = SessionTree()
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    for _, original in entries:
        entry = original
        if entry.parent_id is not None and entry.parent_id in renamed:
            entry = dataclasses.replace(entry, parent_id=renamed[entry.parent_id])
        if entry.id in seen:
            fresh = new_entry_id(seen)
            renamed[entry.id] = fresh
            entry = dataclasses.replace(entry, id=fresh)
        seen.add(entry.id)
        pos = tree.add(node_of(entry))
        if not isinstance(entry, LeafEntry):
            parent = tree.parent(pos)
            parent_id = None if parent is None else tree.node(parent).id
            if parent_id != entry.parent_id:
                entry = dataclasses.replace(entry, parent_id=parent_id)
        out.append(entry_to_line(entry))
    return out


def repair(path: Path) -> tuple[Path, DoctorReport]:
    """Write a fixed copy over ``path`` after moving the original to ``<path>.bak``.

    Returns the backup path and the report of the original. A v1/v2 pi file comes out as v3.

    Raises:
        SessionError: the file is not a session (no header and no entry: nothing is written),
            or another opi process is writing the session.
    """
    report, entries = _read(path)
    require_session(report)
    lock = LockFile(path)
    lock.acquire()
    try:
        report, entries = _read(path)
        _analyse(report, entries)
        header = report.header or _header_from_name(path)
        if header.version < CURRENT_VERSION:
            header = dataclasses.replace(header, version=CURRENT_VERSION)
        data = b"".join(_fixed_lines(header, entries))
        tmp = path.with_name(path.name + ".repair-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        backup = Path(f"{path}.bak")
        n = 1
        while backup.exists():
            backup, n = Path(f"{path}.bak.{n}"), n + 1
        os.link(path, backup)
        os.replace(tmp, path)
        return backup, report
    finally:
        lock.release()
