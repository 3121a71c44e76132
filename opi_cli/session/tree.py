"""The session tree over light node records: parents, children, current position, paths and labels.

Pure and incremental: a :class:`SessionTree` is fed one :class:`Node` per entry in file order
(``add``), so loading and appending share one code path. Positions (file order, 0-based) are
the tree's keys, which keeps the tree sound even if a damaged file repeats an id.

Rules (PROTOCOL.md §4.1 and promise 5):

* The current position is the last entry added, unless a ``leaf`` entry moved it to its
  ``targetId`` (``None``: the next entry starts a new root). ``leaf`` entries are not nodes
  of any path; an entry whose parent is a ``leaf`` entry hangs under that leaf's target.
* An entry whose ``parentId`` names no earlier entry is re-attached to the nearest earlier
  entry in file order (and listed in ``reattached``), so resume never silently drops history.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage
from opi_cli.session.entries import (
    CompactionEntry,
    Entry,
    LabelEntry,
    LeafEntry,
    MessageEntry,
    SessionInfoEntry,
)

__all__ = ["Node", "SessionTree", "node_of"]

_ROOT = -1


@record
class Node:
    """What the tree needs to know of one entry.

    Attributes:
        target_id: ``leaf``: the new position; ``label``: the labelled entry;
            ``compaction``: its ``firstKeptEntryId``.
        text: ``label``: the label; ``session_info``: the name; ``message``: the role.
    """

    id: str
    parent_id: str | None
    type: str
    target_id: str | None = None
    text: str | None = None


def _role(message: AgentMessage) -> str:
    return message.role


def node_of(entry: Entry) -> Node:
    """The light record of an entry."""
    match entry:
        case LeafEntry():
            return Node(entry.id, entry.parent_id, "leaf", entry.target_id)
        case LabelEntry():
            return Node(entry.id, entry.parent_id, "label", entry.target_id, entry.label)
        case CompactionEntry():
            return Node(entry.id, entry.parent_id, "compaction", entry.first_kept_entry_id)
        case SessionInfoEntry():
            return Node(entry.id, entry.parent_id, "session_info", None, entry.name)
        case MessageEntry():
            return Node(entry.id, entry.parent_id, "message", None, _role(entry.message))
    return Node(entry.id, entry.parent_id, entry.type)


class SessionTree:
    """Index of a session's entries by position, with the current position."""

    __slots__ = (
        "_children",
        "_labels",
        "_last_real",
        "_nodes",
        "_parent",
        "_pos_by_id",
        "leaf",
        "name",
        "reattached",
    )

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: list[Node] = []
        self._parent: array[int] = array("q")  # 8 bytes a position, not an int object each
        self._pos_by_id: dict[str, int] = {}
        self._labels: dict[str, str] = {}
        self._last_real = _ROOT
        self._children: dict[int, list[int]] | None = None
        self.leaf: int | None = None
        """Position of the current entry; ``None`` before the first entry or after a reset."""
        self.name: str | None = None
        """The session's display name (latest ``session_info``)."""
        self.reattached: list[int] = []
        """Positions of entries whose parent was missing (promise 5)."""
        for node in nodes:
            self.add(node)

    @classmethod
    def chain(cls, nodes: Sequence[Node], *, name: str | None = None) -> SessionTree:
        """A tree of one path, root first, as a partial load finds it: each node hangs under the
        one before it (whatever its ``parentId`` names, which may not be loaded), the last is
        the current position. Appends then work as on a full tree."""
        tree = cls()
        for pos, node in enumerate(nodes):
            tree._nodes.append(node)
            tree._parent.append(pos - 1 if pos else _ROOT)
            tree._pos_by_id[node.id] = pos
        tree._last_real = len(nodes) - 1 if nodes else _ROOT
        tree.leaf = len(nodes) - 1 if nodes else None
        tree.name = name
        return tree

    def __len__(self) -> int:
        return len(self._nodes)

    def add(self, node: Node) -> int:
        """Add the next entry in file order; returns its position."""
        pos = len(self._nodes)
        self._nodes.append(node)
        self._children = None
        if node.type == "leaf":
            target = self._resolve(node.target_id) if node.target_id is not None else _ROOT
            if node.target_id is None:
                self.leaf = None
            elif target is not None:
                self.leaf = target
            self._parent.append(target if target is not None else _ROOT)
            self._pos_by_id[node.id] = pos
            return pos
        if node.parent_id is None:
            parent = _ROOT
        else:
            resolved = self._resolve(node.parent_id)
            if resolved is None:
                resolved = self._last_real
                self.reattached.append(pos)
            parent = resolved
        self._parent.append(parent)
        self._pos_by_id[node.id] = pos
        self._last_real = pos
        self.leaf = pos
        if node.type == "label" and node.target_id is not None:
            if node.text is None:
                self._labels.pop(node.target_id, None)
            else:
                self._labels[node.target_id] = node.text
        elif node.type == "session_info":
            self.name = node.text
        return pos

    def _resolve(self, entry_id: str) -> int | None:
        """Position of ``entry_id`` as a tree node (a ``leaf`` entry resolves to its target)."""
        pos = self._pos_by_id.get(entry_id)
        if pos is not None and self._nodes[pos].type == "leaf":
            parent = self._parent[pos]
            return None if parent == _ROOT else parent
        return pos

    # -- queries -------------------------------------------------------------------------------

    def node(self, pos: int) -> Node:
        return self._nodes[pos]

    def parent(self, pos: int) -> int | None:
        """The resolved parent position (after orphan re-attachment), or ``None`` for a root."""
        p = self._parent[pos]
        return None if p == _ROOT else p

    def position(self, entry_id: str) -> int | None:
        """Position of the latest entry with this id that is a tree node."""
        return self._resolve(entry_id)

    def has_id(self, entry_id: str) -> bool:
        return entry_id in self._pos_by_id

    @property
    def ids(self) -> set[str]:
        """Every id in use (for allocating new ones)."""
        return set(self._pos_by_id)

    @property
    def leaf_id(self) -> str | None:
        """The id new entries attach to."""
        return None if self.leaf is None else self._nodes[self.leaf].id

    @property
    def labels(self) -> dict[str, str]:
        """Entry id -> label (the latest label entry per target wins; ``None`` clears)."""
        return dict(self._labels)

    def path(self, pos: int | None = None) -> list[int]:
        """Positions from the root down to ``pos`` (default: the current position)."""
        cur = self.leaf if pos is None else pos
        out: list[int] = []
        while cur is not None and cur != _ROOT:
            out.append(cur)
            cur = self._parent[cur]
        out.reverse()
        return out

    def children(self, pos: int | None) -> list[int]:
        """Direct children of ``pos`` (``None``: the roots) in file order; ``leaf`` entries excluded."""
        if self._children is None:
            table: dict[int, list[int]] = {}
            for child, parent in enumerate(self._parent):
                if self._nodes[child].type != "leaf":
                    table.setdefault(parent, []).append(child)
            self._children = table
        return list(self._children.get(_ROOT if pos is None else pos, []))

    def leaves(self) -> list[int]:
        """Positions with no children (the tips of every branch)."""
        return [p for p in range(len(self._nodes)) if self._nodes[p].type != "leaf" and not self.children(p)]
