"""Loading only what a resume needs: the current path, read backwards from the end of the file.

Most of a long session is history the model no longer sees. After a compaction the context
is its summary, the path entries from its ``firstKeptEntryId`` on, and the latest model and
thinking level on the path. :class:`RecentIndexBuilder` is fed a file's lines last to first
and keeps only those, as one chain (:meth:`SessionTree.chain`), plus a Bloom filter of every
id so new ids stay unique. The memory of a resume then follows the kept context, not the
size of the file (ARCHITECTURE's resume budget; ``benchmarks/bench_session.py``).

Every line is still parsed and checked exactly as :class:`~opi_cli.session.index.IndexBuilder`
does, so damage is counted the same, and the chain is the tail of the very path the forward
loader builds (parents resolve to the nearest earlier entry with that id; a ``leaf`` entry
moves the position to its target). Where walking backwards cannot decide alone,
:meth:`RecentIndexBuilder.finish` returns ``None`` and the caller loads the file forwards:

* a ``parentId`` or ``leaf`` target naming no earlier entry (the forward loader re-attaches
  such an orphan to the entry before it in the file, promise 5);
* a compaction's first kept id that occurs twice on the path (only hand-edited files).

Old pi files (v1/v2) are always loaded forwards: they are migrated in memory as a whole.
"""

from __future__ import annotations

from array import array
from collections import deque

import orjson

from opi_cli._util.jsonio import JsonValue, loads
from opi_cli.session.entries import EntryError, SessionHeader
from opi_cli.session.index import Damage, IdFilter, SessionIndex, entry_fields, node_from_fields
from opi_cli.session.tree import Node, SessionTree

__all__ = ["RecentIndexBuilder"]

_MAX_DAMAGE_NOTES = 50

_Located = tuple[Node, int]
_CHECKED_KINDS = frozenset({"", "session", "leaf"})  # left to entry_fields


def _bears_model(kind: str, role: str | None) -> bool:
    """A model change, or an assistant message (which names the model that wrote it)."""
    return kind == "model_change" or (kind == "message" and role == "assistant")


def _str_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


class RecentIndexBuilder:
    """Feed the lines after the header in blocks, last block first (``feed_block``), then :meth:`finish`."""

    def __init__(self, header: SessionHeader, file_bytes: int) -> None:
        self._header = header
        self._ids = IdFilter(file_bytes)
        self._lines = 0
        self._damaged = 0
        self._damage: deque[tuple[int, str]] = deque(maxlen=_MAX_DAMAGE_NOTES)
        self._torn = False
        self._name: str | None = None
        self._named = False
        # the backwards walk: the id sought next on the path, and where it stands
        self._want: str | None = None
        self._started = False
        self._at_root = False
        self._undecidable = False
        # what is kept: the path from the current position back (newest first) ...
        self._kept: list[_Located] = []
        self._compaction: Node | None = None
        self._first_kept: str | None = None
        self._between: list[_Located] = []  # after a compaction, until its first kept entry
        self._region_closed = False
        # ... and, beyond the kept region, only the latest settings on the path
        self._thinking: _Located | None = None
        self._model: _Located | None = None
        self._has_thinking = False
        self._has_model = False

    def feed_block(self, offset: int, lines: list[bytes], *, unterminated: bool = False) -> None:
        """The next block going backwards: complete lines without their ``\\n``, in file order,
        the first starting at byte ``offset``. ``unterminated``: the last line is the file's
        final line and had no ``\\n`` (a crash mid-write, or just a missing newline).

        This runs once per line of a file of any size: a line off the path costs a parse, its
        checks and its id; a :class:`Node` is built only for entries the result keeps.
        """
        bits, mask = self._ids.bits, self._ids.mask
        locator = offset + sum(map(len, lines)) + len(lines)
        for i in range(len(lines) - 1, -1, -1):
            line = lines[i]
            locator -= len(line) + 1
            self._lines += 1
            try:
                d = orjson.loads(line)
            except orjson.JSONDecodeError:
                stripped = line.strip()  # exactly as the forward loader reads a line:
                if not stripped:  # blank lines are skipped, lone surrogates accepted
                    continue
                try:
                    d = loads(stripped)
                except (ValueError, RecursionError) as exc:
                    self._torn = self._torn or (unterminated and i == len(lines) - 1)
                    self._note_damage(f"not JSON: {exc}"[:200])
                    continue
            # The common entry, checked inline; anything else goes through entry_fields, which
            # has the loading checks and their reasons (this test must never accept more).
            kind = d.get("type") if type(d) is dict else None
            eid = d.get("id") if kind is not None else None
            if not (
                type(kind) is str
                and type(eid) is str
                and eid
                and kind not in _CHECKED_KINDS
                and (kind != "message" or type(d.get("message")) is dict)
            ):
                fields = entry_fields(d)
                if isinstance(fields, EntryError):
                    self._note_damage(fields.reason)
                    continue
                kind, eid = fields[0], fields[1]
            h = hash(eid)  # IdFilter.add, inline
            a, b = h & mask, (h >> 32) & mask
            bits[a >> 3] |= 1 << (a & 7)
            bits[b >> 3] |= 1 << (b & 7)
            if kind == "session_info" and not self._named:
                self._name, self._named = _str_or_none(d.get("name")), True
            if (self._started and eid != self._want) or self._at_root or self._undecidable:
                continue
            # (the id the walk wanted is the same text as eid: keep one copy for child and parent)
            self._step(d, kind, eid if self._want is None else self._want, _str_or_none(d.get("parentId")), locator)

    def _step(self, d: dict[str, JsonValue], kind: str, eid: str, parent: str | None, locator: int) -> None:
        """The entry the walk was looking for (or the file's last entry)."""
        if kind == "leaf":  # a leaf entry stands for its target: the position, or a parent
            target = d.get("targetId")
            if not self._started:
                self._started = True
                self._at_root = target is None  # None: the next entry starts a new root
            elif target is None:
                self._undecidable = True
            self._want = target if isinstance(target, str) else None
            return
        self._started = True
        if self._region_closed:  # beyond the kept region only the latest settings count
            if eid == self._first_kept:
                self._undecidable = True  # the context would start at this earlier entry
            else:
                role = None
                if kind == "message" and self._model is None and not self._has_model:  # (every line, here)
                    message = d.get("message")
                    role = _str_or_none(message.get("role")) if isinstance(message, dict) else None
                if self._sought(kind, role):  # (a node only for the few entries kept)
                    self._beyond((node_from_fields(d, kind, eid, parent), locator))
        else:
            self._on_path((node_from_fields(d, kind, eid, parent), locator))
        if parent is None:
            self._at_root = True
        else:
            self._want = parent

    def _note_damage(self, reason: str) -> None:
        self._damaged += 1
        self._damage.append((self._lines, reason))

    def _on_path(self, item: _Located) -> None:
        node = item[0]
        if self._compaction is None:
            self._keep(item)
            if node.type == "compaction":
                self._compaction = node
                self._first_kept = node.target_id
        elif node.id == self._first_kept:
            for kept in self._between:
                self._keep(kept)
            self._between = []
            self._keep(item)
            self._region_closed = True
        else:
            self._between.append(item)

    def _keep(self, item: _Located) -> None:
        self._kept.append(item)
        self._has_thinking = self._has_thinking or item[0].type == "thinking_level_change"
        self._has_model = self._has_model or _bears_model(item[0].type, item[0].text)

    def _sought(self, kind: str, role: str | None) -> str | None:
        """``thinking`` or ``model`` when a path entry before the kept region is the latest
        setting of that kind (none kept, none found yet); else ``None``."""
        if kind == "thinking_level_change" and not self._has_thinking and self._thinking is None:
            return "thinking"
        if _bears_model(kind, role) and not self._has_model and self._model is None:
            return "model"
        return None

    def _beyond(self, item: _Located) -> None:
        """A path entry before the kept region: only the latest settings count."""
        match self._sought(item[0].type, item[0].text):
            case "thinking":
                self._thinking = item
            case "model":
                self._model = item

    def finish(self) -> SessionIndex | None:
        """The partial index, or ``None`` when the file must be loaded forwards (see the module)."""
        if self._undecidable or (self._started and not self._at_root):
            return None
        if self._compaction is not None and not self._region_closed:
            for item in self._between:  # its first kept entry is not on the path: it keeps nothing earlier
                self._beyond(item)
        prelude = sorted((x for x in (self._thinking, self._model) if x is not None), key=lambda x: x[1])
        chain = prelude + self._kept[::-1]
        total = self._lines
        return SessionIndex(
            self._header,
            SessionTree.chain([node for node, _ in chain], name=self._name),
            array("q", [locator for _, locator in chain]),
            self._damaged,
            [Damage(total - k + 2, reason) for k, reason in reversed(self._damage)],
            torn_tail=self._torn,
            partial=True,
            other_ids=self._ids,
        )
