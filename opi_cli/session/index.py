"""A light, streaming index of a stored session: one small node and one locator per entry line.

Stores feed their lines in order (a byte offset, a row number, a list index as the locator);
the index keeps the tree (:mod:`opi_cli.session.tree`) and where each entry lives, counts
damaged lines, and migrates pi's v1/v2 records (held in memory, they are small old files).
Entries are parsed in full only when they are needed (promise 10).
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import field

from opi_cli._util.jsonio import JsonValue, loads
from opi_cli._util.records import record
from opi_cli.session.entries import (
    CURRENT_VERSION,
    Entry,
    EntryError,
    SessionHeader,
    parse_entry,
)
from opi_cli.session.migrate import migrate_records
from opi_cli.session.tree import Node, SessionTree, node_of

__all__ = [
    "Damage",
    "IdFilter",
    "IndexBuilder",
    "SessionIndex",
    "entry_fields",
    "node_from_fields",
    "node_from_json",
]

_MAX_DAMAGE_NOTES = 50


class IdFilter:
    """A Bloom filter of the entry ids in a file, for drawing fresh ids without holding them all.

    ``eid in f`` may say yes for an id never added (the caller draws again) but never says
    no for one that was. Two bit positions per id, one bit per 128 bytes of file: a 100 MB
    file costs 128 KB, and with its ~150k entries (about 700 bytes each) about 6% of fresh
    ids are drawn twice. A file of nothing but the shortest entries (~100 bytes) fills it
    so that a fresh id takes about seven draws, which still costs microseconds.
    """

    __slots__ = ("bits", "mask")

    def __init__(self, file_bytes: int) -> None:
        nbits = 1 << 16
        while nbits < file_bytes // 128:
            nbits <<= 1
        self.bits = bytearray(nbits // 8)
        self.mask = nbits - 1

    def _positions(self, eid: str) -> tuple[int, int]:
        h = hash(eid)  # per process (PYTHONHASHSEED), which is all a filter held in memory needs
        return h & self.mask, (h >> 32) & self.mask

    def add(self, eid: str) -> None:
        """(``RecentIndexBuilder.feed_block`` does the same inline, once per line of a file.)"""
        a, b = self._positions(eid)
        self.bits[a >> 3] |= 1 << (a & 7)
        self.bits[b >> 3] |= 1 << (b & 7)

    def __contains__(self, eid: object) -> bool:
        if not isinstance(eid, str):
            return False
        a, b = self._positions(eid)
        bits = self.bits
        return bool(bits[a >> 3] & (1 << (a & 7))) and bool(bits[b >> 3] & (1 << (b & 7)))


@record
class Damage:
    """A line that was skipped: its 1-based line number (or row), and why."""

    line: int
    reason: str


@record(frozen=False)
class SessionIndex:
    """What loading a session found, before any message is materialised.

    Attributes:
        header: the session header (as stored; ``version`` < 3 means it was migrated).
        tree: the session tree over every readable entry.
        locators: where each tree position lives in the store (``-1``: only in ``cache``).
        damaged: how many lines were skipped; ``damage`` notes the first few.
        cache: entries already parsed, by position (all of them for migrated files).
        torn_tail: the last line had no newline and was not a complete record.
        partial: the tree holds only the current path from the earliest entry the context
            needs (see :mod:`~opi_cli.session.recent`); ids of the other entries are only in
            ``other_ids``. ``SessionWriter.load_full`` replaces it with the whole tree.
        other_ids: with ``partial``, every id in the stored file.
    """

    header: SessionHeader
    tree: SessionTree = field(default_factory=SessionTree)
    locators: array[int] = field(default_factory=lambda: array("q"))
    damaged: int = 0
    damage: list[Damage] = field(default_factory=list)
    cache: dict[int, Entry] = field(default_factory=dict)
    torn_tail: bool = False
    partial: bool = False
    other_ids: IdFilter | None = None

    @property
    def migrated(self) -> bool:
        """True when the stored records are an older pi version (read-only: fork to append)."""
        return self.header.version < CURRENT_VERSION

    def note_damage(self, line: int, reason: str) -> None:
        self.damaged += 1
        if len(self.damage) < _MAX_DAMAGE_NOTES:
            self.damage.append(Damage(line, reason))

    def id_taken(self, eid: str) -> bool:
        """True if ``eid`` may already be in use (new ids must avoid it)."""
        return self.tree.has_id(eid) or (self.other_ids is not None and eid in self.other_ids)

    def add_entry(self, entry: Entry, locator: int, *, keep: bool) -> int:
        """Add a parsed entry (an append, or a migrated record); returns its position."""
        pos = self.tree.add(node_of(entry))
        self.locators.append(locator)
        if keep:
            self.cache[pos] = entry
        return pos


def _str_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def entry_fields(d: JsonValue) -> tuple[str, str, str | None] | EntryError:
    """``(type, id, parentId)`` of an entry dict, after every check loading applies to a line.

    The same checks as :func:`~opi_cli.session.entries.parse_entry` on the fields the tree
    reads; a line failing them counts as damaged.
    """
    if not isinstance(d, dict):
        return EntryError("entry is not a JSON object")
    kind, eid = d.get("type"), d.get("id")
    if not isinstance(kind, str) or not kind:
        return EntryError("entry has no type")
    if kind == "session":
        return EntryError("a second session header")
    if not isinstance(eid, str) or not eid:
        return EntryError(f"{kind} entry has no id")
    if kind == "message":
        if not isinstance(d.get("message"), dict):
            return EntryError(f"message entry {eid} has no message")
    elif kind == "leaf":
        target = d.get("targetId")
        if target is not None and not isinstance(target, str):
            return EntryError(f"leaf entry {eid} has a bad targetId")
    return kind, eid, _str_or_none(d.get("parentId"))


def node_from_fields(d: dict[str, JsonValue], kind: str, eid: str, parent: str | None) -> Node:
    """The tree node of an entry dict that passed :func:`entry_fields`."""
    kind = sys.intern(kind)  # one copy of "message" etc., not one per entry (promise 10)
    match kind:
        case "message":
            message = d["message"]
            assert isinstance(message, dict)
            role = _str_or_none(message.get("role"))
            return Node(eid, parent, kind, None, sys.intern(role) if role is not None else None)
        case "leaf":
            return Node(eid, parent, kind, _str_or_none(d.get("targetId")))
        case "label":
            return Node(
                eid, parent, kind, _str_or_none(d.get("targetId")) or "", _str_or_none(d.get("label"))
            )
        case "compaction":
            return Node(eid, parent, kind, _str_or_none(d.get("firstKeptEntryId")) or "")
        case "session_info":
            return Node(eid, parent, kind, None, _str_or_none(d.get("name")))
    return Node(eid, parent, kind)


def node_from_json(d: JsonValue) -> Node | EntryError:
    """The tree node of an entry dict without building the entry (the fast path of loading)."""
    fields = entry_fields(d)
    if isinstance(fields, EntryError):
        return fields
    assert isinstance(d, dict)
    return node_from_fields(d, *fields)


class IndexBuilder:
    """Feed the lines after the header in order, then :meth:`finish`."""

    def __init__(self, header: SessionHeader) -> None:
        self._index = SessionIndex(header)
        self._legacy: list[dict[str, JsonValue]] | None = [] if header.version < CURRENT_VERSION else None

    def feed(self, locator: int, line: bytes, line_no: int, *, last: bool = False) -> None:
        """One line (newline included or not); ``last`` marks the final line of the store."""
        index = self._index
        stripped = line.strip()
        if not stripped:
            return
        try:
            value = loads(stripped)
        except (ValueError, RecursionError) as exc:
            # A last line without a newline that is not complete JSON: a crash mid-write.
            index.torn_tail = index.torn_tail or (last and not line.endswith(b"\n"))
            index.note_damage(line_no, f"not JSON: {exc}"[:200])
            return
        if self._legacy is not None:
            if (
                isinstance(value, dict)
                and isinstance(value.get("type"), str)
                and value.get("type") != "session"
            ):
                self._legacy.append(value)
            else:
                index.note_damage(line_no, "not an entry")
            return
        node = node_from_json(value)
        if isinstance(node, EntryError):
            index.note_damage(line_no, node.reason)
            return
        index.tree.add(node)
        index.locators.append(locator)

    def finish(self) -> SessionIndex:
        """The index; legacy (v1/v2) records are migrated and parsed into ``cache`` here."""
        index = self._index
        if self._legacy is not None:
            for n, record in enumerate(migrate_records(index.header.version, self._legacy)):
                entry = parse_entry(record)
                if isinstance(entry, EntryError):
                    index.note_damage(n + 2, entry.reason)
                else:
                    index.add_entry(entry, -1, keep=True)
            self._legacy = None
        return index
