"""``SessionWriter``: one open session with id allocation, the current position and its context.

It owns the tree (so every new entry gets a fresh 8-hex id and the current position as its
parent), materialises only the entries the context needs (promise 10), and never writes into
a migrated pi file: the first append to one forks it into a new v3 file whose
``parentSession`` names the original (:func:`fork_to_new_file`).

Opening a session to continue it loads only the current path's kept context where the store
can (a *partial* index, :mod:`~opi_cli.session.recent`): enough for :meth:`context`, the
compaction (:meth:`context_entries`) and appends. Whatever needs the rest of the tree
(:meth:`full_tree`, :meth:`path_entries`, moving, forking, export) first calls
:meth:`load_full`, which reads the whole store once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence

from opi_cli._util.ids import new_entry_id, new_session_id, now_iso
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.types import UserContent
from opi_cli.errors import SessionError
from opi_cli.session.context import SessionContext, build_context, needed_positions
from opi_cli.session.entries import (
    CURRENT_VERSION,
    BranchSummaryEntry,
    CompactionEntry,
    CustomEntry,
    CustomMessageEntry,
    Entry,
    EntryError,
    LabelEntry,
    LeafEntry,
    MessageEntry,
    ModelChangeEntry,
    SessionHeader,
    SessionInfoEntry,
    ThinkingLevelChangeEntry,
)
from opi_cli.session.index import SessionIndex
from opi_cli.session.store import SessionHandle, SessionStore
from opi_cli.session.tree import SessionTree

__all__ = ["SessionWriter", "fork_to_new_file"]

_Make = Callable[[str, "str | None", str], Entry]


_CONTEXT_CHUNK = 512


def _slim(entry: Entry) -> Entry:
    """What :func:`build_context` reads of an entry: a message entry's id and message."""
    if isinstance(entry, MessageEntry):
        return MessageEntry(entry.id, None, "", entry.message)
    return entry


class SessionWriter:
    """Appends entries to one session and rebuilds its context; the same for every store."""

    def __init__(self, store: SessionStore, handle: SessionHandle, index: SessionIndex) -> None:
        self._store = store
        self._handle = handle
        self._index = index
        self._lock = asyncio.Lock()

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        store: SessionStore,
        *,
        cwd: str,
        parent_session: str | None = None,
        session_id: str | None = None,
    ) -> SessionWriter:
        """A new session; its header is stored at once (no lazy creation)."""
        header = SessionHeader(session_id or new_session_id(), now_iso(), cwd, parent_session=parent_session)
        handle = await store.create(header)
        return cls(store, handle, SessionIndex(header))

    @classmethod
    async def open(cls, store: SessionStore, ref: str, *, cwd: str | None = None) -> SessionWriter:
        """Open a session to continue it (takes its lock; see ``SessionStore.open``)."""
        handle = await store.open(ref, cwd=cwd, writable=True)
        try:
            index = await handle.scan(recent_only=True)
        except BaseException:
            await handle.close()
            raise
        return cls(store, handle, index)

    # -- state ---------------------------------------------------------------------------------

    @property
    def header(self) -> SessionHeader:
        return self._handle.header

    @property
    def session_id(self) -> str:
        return self._handle.header.id

    @property
    def location(self) -> str:
        """Where appends go (changes once if a migrated pi file is forked)."""
        return self._handle.location

    @property
    def handle(self) -> SessionHandle:
        return self._handle

    @property
    def store(self) -> SessionStore:
        return self._store

    @property
    def index(self) -> SessionIndex:
        return self._index

    @property
    def tree(self) -> SessionTree:
        """The tree as loaded: only the current path's kept part while :attr:`partial`."""
        return self._index.tree

    @property
    def partial(self) -> bool:
        """True while only the current path's kept context is loaded (see :meth:`load_full`)."""
        return self._index.partial

    async def load_full(self) -> None:
        """Replace a partial index with the whole tree (one read of the store); no-op otherwise.

        Entries appended since opening are in the store, so the new index has them; any the
        store refused (kept in memory only) are carried over after them.
        """
        if not self._index.partial:
            return
        async with self._lock:
            old = self._index
            if not old.partial:
                return
            index = await self._handle.scan()
            for pos in range(len(old.tree)):
                if old.locators[pos] < 0 and pos in old.cache:
                    index.add_entry(old.cache[pos], -1, keep=True)
            leaf_id = old.tree.leaf_id
            index.tree.leaf = None if leaf_id is None else index.tree.position(leaf_id)
            self._index = index

    async def full_tree(self) -> SessionTree:
        """The whole session tree (every branch), loading it first if needed."""
        await self.load_full()
        return self._index.tree

    @property
    def leaf_id(self) -> str | None:
        return self._index.tree.leaf_id

    @property
    def damaged(self) -> int:
        """Lines skipped while loading (report them; they are never silently rewritten)."""
        return self._index.damaged

    @property
    def name(self) -> str | None:
        return self._index.tree.name

    # -- reading -------------------------------------------------------------------------------

    async def _materialise(self, positions: Sequence[int]) -> dict[int, Entry]:
        cache = self._index.cache
        missing = [p for p in positions if p not in cache]
        if missing:
            parsed = await self._handle.read([self._index.locators[p] for p in missing])
            for pos, entry in zip(missing, parsed, strict=True):
                if not isinstance(entry, EntryError):
                    cache[pos] = entry
        return {p: cache[p] for p in positions if p in cache}

    async def context(self) -> SessionContext:
        """The context at the current position, compaction applied.

        Entries are read in chunks and only what the context needs of each is kept (a message
        entry keeps its id and message), so a long kept path costs its messages, not their
        entries as well (promise 10). Stored entries are not cached; the cache keeps only
        entries the store did not take.
        """
        tree = self._index.tree
        need = needed_positions(tree, tree.path())
        cache, locators = self._index.cache, self._index.locators
        for pos in [p for p in cache if locators[p] >= 0]:
            del cache[pos]
        slim: list[Entry] = []
        for start in range(0, len(need), _CONTEXT_CHUNK):
            chunk = need[start : start + _CONTEXT_CHUNK]
            stored = [p for p in chunk if p not in cache]
            entries = await self._handle.read([locators[p] for p in stored], keep_shape=False)
            read = dict(zip(stored, entries, strict=True))
            for pos in chunk:
                entry = cache.get(pos) or read.get(pos)
                if entry is not None and not isinstance(entry, EntryError):
                    slim.append(_slim(entry))
            del read, entries
        return build_context(slim)

    async def context_entries(self) -> list[Entry]:
        """The current path from the earliest entry the context needs (compaction works on this).

        The whole path unless :attr:`partial`; then the latest compaction's kept entries and
        everything after, preceded by the latest settings entries found before them.
        """
        return await self._entries_on(self._index.tree.path())

    async def path_entries(self, entry_id: str | None = None) -> list[Entry]:
        """Every entry from the root to ``entry_id`` (default: the current position)."""
        await self.load_full()
        tree = self._index.tree
        pos = tree.leaf if entry_id is None else tree.position(entry_id)
        return [] if pos is None else await self._entries_on(tree.path(pos))

    async def _entries_on(self, path: list[int]) -> list[Entry]:
        found = await self._materialise(path)
        return [found[p] for p in path if p in found]

    async def entry(self, entry_id: str) -> Entry | None:
        await self.load_full()
        pos = self._index.tree.position(entry_id)
        if pos is None:
            return None
        return (await self._materialise([pos])).get(pos)

    # -- writing -------------------------------------------------------------------------------

    async def _append(self, make: _Make) -> Entry:
        async with self._lock:
            if not self._handle.writable:
                await self._fork_for_append()
            eid = new_entry_id()
            while self._index.id_taken(eid):
                eid = new_entry_id()
            entry = make(eid, self._index.tree.leaf_id, now_iso())
            pos = self._index.add_entry(entry, -1, keep=True)
            # If the store fails, the entry stays in memory (the run goes on) and the error rises.
            self._index.locators[pos] = await self._handle.append(entry)
            return entry

    async def _fork_for_append(self) -> None:
        """Appends to a file of another format version go to a new v3 file (the original is kept as is)."""
        if self._handle.header.version == CURRENT_VERSION:
            raise SessionError(f"session {self.location} was opened read-only")
        old = self._handle
        handle, index = await fork_to_new_file(self._store, old, self._index)
        self._handle, self._index = handle, index
        await old.close()

    async def append_message(self, message: AgentMessage) -> MessageEntry:
        entry = await self._append(lambda i, p, t: MessageEntry(i, p, t, message))
        assert isinstance(entry, MessageEntry)
        return entry

    async def append_model_change(self, provider: str, model_id: str) -> ModelChangeEntry:
        entry = await self._append(lambda i, p, t: ModelChangeEntry(i, p, t, provider, model_id))
        assert isinstance(entry, ModelChangeEntry)
        return entry

    async def append_thinking_level_change(self, level: str) -> ThinkingLevelChangeEntry:
        entry = await self._append(lambda i, p, t: ThinkingLevelChangeEntry(i, p, t, level))
        assert isinstance(entry, ThinkingLevelChangeEntry)
        return entry

    async def append_compaction(
        self,
        summary: str,
        first_kept_entry_id: str,
        tokens_before: int,
        details: JsonValue = None,
        from_hook: bool | None = None,
    ) -> CompactionEntry:
        entry = await self._append(
            lambda i, p, t: CompactionEntry(
                i, p, t, summary, first_kept_entry_id, tokens_before, details, from_hook
            )
        )
        assert isinstance(entry, CompactionEntry)
        return entry

    async def branch_with_summary(
        self, entry_id: str | None, summary: str, details: JsonValue = None, from_hook: bool | None = None
    ) -> BranchSummaryEntry:
        """Move to ``entry_id`` (``None``: a new root) and record a summary of the branch left."""
        await self.load_full()
        old_leaf = self.leaf_id or "root"
        self._move(entry_id)
        entry = await self._append(
            lambda i, p, t: BranchSummaryEntry(i, p, t, old_leaf, summary, details, from_hook)
        )
        assert isinstance(entry, BranchSummaryEntry)
        return entry

    async def append_custom(self, custom_type: str, data: JsonValue = None) -> CustomEntry:
        entry = await self._append(lambda i, p, t: CustomEntry(i, p, t, custom_type, data))
        assert isinstance(entry, CustomEntry)
        return entry

    async def append_custom_message(
        self,
        custom_type: str,
        content: str | tuple[UserContent, ...],
        display: bool = True,
        details: JsonValue = None,
    ) -> CustomMessageEntry:
        entry = await self._append(
            lambda i, p, t: CustomMessageEntry(i, p, t, custom_type, content, display, details)
        )
        assert isinstance(entry, CustomMessageEntry)
        return entry

    async def append_label(self, target_id: str, label: str | None) -> LabelEntry:
        """Label an entry (``None`` clears its label)."""
        entry = await self._append(lambda i, p, t: LabelEntry(i, p, t, target_id, label))
        assert isinstance(entry, LabelEntry)
        return entry

    async def append_session_info(self, name: str | None) -> SessionInfoEntry:
        entry = await self._append(lambda i, p, t: SessionInfoEntry(i, p, t, name))
        assert isinstance(entry, SessionInfoEntry)
        return entry

    def _move(self, entry_id: str | None) -> None:
        if entry_id is None:
            self._index.tree.leaf = None
            return
        pos = self._index.tree.position(entry_id)
        if pos is None:
            raise SessionError(f"no entry {entry_id!r} in session {self.session_id}")
        self._index.tree.leaf = pos

    async def move_to(self, entry_id: str | None) -> LeafEntry:
        """Move the current position (branch / tree navigation) and record it with a ``leaf`` entry.

        Raises:
            SessionError: ``entry_id`` is not in this session.
        """
        await self.load_full()
        self._move(entry_id)
        entry = await self._append(lambda i, p, t: LeafEntry(i, entry_id, t, entry_id))
        assert isinstance(entry, LeafEntry)
        return entry

    async def entries_at(self, positions: Sequence[int]) -> dict[int, Entry]:
        """The entries at positions of :attr:`tree` (read from the store as needed)."""
        return await self._materialise(positions)

    async def fork(self, up_to: str | None) -> SessionWriter:
        """A new session holding the root-to-``up_to`` path (``None``: an empty session),
        with ``parentSession`` naming this one (``/fork``). This session is not changed.

        Raises:
            SessionError: ``up_to`` is not in this session.
        """
        await self.load_full()
        tree = self._index.tree
        saved = tree.leaf
        try:
            self._move(up_to)
            handle, index = await fork_to_new_file(self._store, self._handle, self._index, path_only=True)
        finally:
            tree.leaf = saved
        return SessionWriter(self._store, handle, index)

    async def sync(self) -> None:
        """Make every appended entry durable (call at turn end, before exit, and after the first prompt)."""
        await self._handle.sync()

    async def close(self) -> None:
        await self._handle.close()


async def fork_to_new_file(
    store: SessionStore,
    source: SessionHandle,
    index: SessionIndex,
    *,
    cwd: str | None = None,
    path_only: bool = False,
) -> tuple[SessionHandle, SessionIndex]:
    """Copy a session into a new v3 session of ``store`` whose ``parentSession`` is the source.

    Used for migrated pi files (never rewritten in place), for ``/fork`` (``path_only``: only
    the root-to-current path) and when another process holds the lock. Parents are written
    as resolved (orphans already re-attached), so the copy has the same tree.
    """
    tree = index.tree
    positions = tree.path() if path_only else list(range(len(tree)))
    header = SessionHeader(
        new_session_id(), now_iso(), cwd or source.header.cwd, parent_session=source.location
    )
    handle = await store.create(header)
    new_index = SessionIndex(header)
    try:
        for start in range(0, len(positions), 512):
            chunk = positions[start : start + 512]
            missing = [p for p in chunk if p not in index.cache]
            read = dict(zip(missing, await source.read([index.locators[p] for p in missing]), strict=True))
            for pos in chunk:
                entry = index.cache.get(pos) or read.get(pos)
                if entry is None or isinstance(entry, EntryError):
                    continue
                if not isinstance(entry, LeafEntry):
                    parent = tree.parent(pos)
                    entry = dataclasses.replace(
                        entry, parent_id=None if parent is None else tree.node(parent).id
                    )
                if path_only and isinstance(entry, LeafEntry):
                    continue
                new_index.add_entry(entry, await handle.append(entry), keep=False)
        await handle.sync()
    except BaseException:
        await handle.close()
        raise
    if path_only and positions:
        new_index.tree.leaf = new_index.tree.position(tree.node(positions[-1]).id)
    return handle, new_index
