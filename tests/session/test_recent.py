"""The backwards (partial) load a resume uses gives exactly what the forward load of the whole file gives.

Random sessions are written line by line: messages, settings, compactions with good and bad
first-kept ids, moves (``leaf`` entries, also to ``None`` and to unknown ids), branches,
labels, names, damaged lines, orphans, repeated ids and torn tails. For each file the partial
index either declines (then the store loads forwards) or yields the same current position,
name, damage report, context, compaction plan and a filter holding every id. Files without
orphans never decline.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, ToolResultMessage, Usage, UserMessage
from opi_cli.session import JsonlStore, SessionWriter
from opi_cli.session.compaction_cut import CompactionSettings, NothingToCompact, prepare_compaction
from opi_cli.session.context import build_context, needed_positions
from opi_cli.session.entries import (
    CompactionEntry,
    Entry,
    EntryError,
    LabelEntry,
    LeafEntry,
    MessageEntry,
    ModelChangeEntry,
    SessionHeader,
    SessionInfoEntry,
    ThinkingLevelChangeEntry,
    entry_to_line,
    header_to_line,
)
from opi_cli.session.index import IdFilter, SessionIndex
from opi_cli.session.stores import jsonl_file
from opi_cli.session.stores.jsonl import JsonlHandle
from tests.conftest import SPEED_CHECKS

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[*SPEED_CHECKS, HealthCheck.function_scoped_fixture])
TS = "2026-01-01T00:00:00.000Z"

_op = st.one_of(
    st.tuples(st.just("user"), st.integers(0, 3)),
    st.tuples(st.just("assistant"), st.integers(0, 3)),
    st.tuples(st.just("tool"), st.integers(0, 3)),
    st.tuples(st.just("thinking"), st.sampled_from(["low", "high", "off"])),
    st.tuples(st.just("model"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("compact"), st.integers(0, 30)),
    st.tuples(st.just("compact_bad"), st.just(0)),
    st.tuples(st.just("leaf"), st.integers(0, 60)),
    st.tuples(st.just("leaf_none"), st.just(0)),
    st.tuples(st.just("leaf_unknown"), st.just(0)),
    st.tuples(st.just("branch"), st.integers(0, 60)),
    st.tuples(st.just("label"), st.integers(0, 60)),
    st.tuples(st.just("name"), st.sampled_from(["x", "y", None])),
    st.tuples(
        st.just("damage"), st.sampled_from([b"{not json", b'{"type":"message"}', b"[1,2]", b"   ", b"\x0c"])
    ),
    st.tuples(st.just("padded"), st.sampled_from([b"\x0c", b" ", b"\x0b"])),
    st.tuples(st.just("orphan"), st.just(0)),
    st.tuples(st.just("dup"), st.integers(0, 60)),
)


class _Script:
    """Writes the lines of a random session and remembers whether the partial load may decline it."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.ids: list[str] = []
        self.leaf: str | None = None
        self.may_decline = False
        """An orphan, an unknown target, or a parent/target naming a ``leaf`` entry or a repeated id."""
        self._leaf_ids: set[str] = set()
        self._n = 0

    def _id(self) -> str:
        self._n += 1
        return f"{self._n:08x}"

    def _add(self, entry: Entry, *, moves: bool = True) -> None:
        self.lines.append(entry_to_line(entry))
        self.ids.append(entry.id)
        if moves:
            self.leaf = entry.id

    def _pick(self, k: int) -> str | None:
        if not self.ids:
            return None
        picked = self.ids[k % len(self.ids)]
        self.may_decline = self.may_decline or picked in self._leaf_ids
        return picked

    def run(self, op: str, arg: object) -> None:
        eid, parent = self._id(), self.leaf
        if op == "user":
            self._add(
                MessageEntry(
                    eid, parent, TS, UserMessage((TextContent(f"u{eid} " * (1 + int(arg) * 40)),), 1)
                )
            )
        elif op == "assistant":
            call = ToolCall(f"c{eid}", "read", {"path": "x"})
            content = (
                (TextContent(f"a{eid} " * (1 + int(arg) * 40)), call)
                if int(arg) % 2
                else (TextContent(f"a{eid}"),)
            )
            message = AssistantMessage(
                content,
                "openai-completions",
                "p",
                f"m{eid}",
                Usage(10, 1, 0, 0, 11),
                "toolUse" if int(arg) % 2 else "stop",
                1,
            )
            self._add(MessageEntry(eid, parent, TS, message))
        elif op == "tool":
            message = ToolResultMessage(
                f"c{eid}", "read", (TextContent("r " * (1 + int(arg) * 60)),), False, 1
            )
            self._add(MessageEntry(eid, parent, TS, message))
        elif op == "thinking":
            self._add(ThinkingLevelChangeEntry(eid, parent, TS, str(arg)))
        elif op == "model":
            self._add(ModelChangeEntry(eid, parent, TS, "p", str(arg)))
        elif op in ("compact", "compact_bad"):
            first = "nope" if op == "compact_bad" else (self._pick(int(arg)) or "")  # type: ignore[call-overload]
            self._add(CompactionEntry(eid, parent, TS, f"summary {eid}", first, 123))
        elif op in ("leaf", "leaf_none", "leaf_unknown"):
            target = {"leaf": self._pick(int(arg)), "leaf_none": None, "leaf_unknown": "ffffffff"}[op]  # type: ignore[call-overload]
            self._add(LeafEntry(eid, target, TS, target), moves=False)
            self._leaf_ids.add(eid)
            if op == "leaf_unknown":
                self.may_decline = True  # the position stays where the entries before left it
            elif target is None or target in self.ids:
                self.leaf = target
        elif op == "branch":  # an in-process move: the next entry just names another parent
            self.leaf = self._pick(int(arg))  # type: ignore[call-overload]
        elif op == "label" and self.ids:
            self._add(LabelEntry(eid, parent, TS, self._pick(int(arg)) or "", "lbl"))  # type: ignore[call-overload]
        elif op == "name":
            self._add(SessionInfoEntry(eid, parent, TS, arg))  # type: ignore[arg-type]
        elif op == "padded":  # an entry line with whitespace around it (bytes.strip() whitespace)
            self._add(MessageEntry(eid, parent, TS, UserMessage((TextContent("padded"),), 1)))
            self.lines[-1] = arg + self.lines[-1][:-1] + arg + b"\n"  # type: ignore[operator]
        elif op == "damage":
            self.lines.append(arg + b"\n")  # type: ignore[operator]
        elif op == "orphan":
            self.may_decline = True
            self._add(MessageEntry(eid, "0badf00d", TS, UserMessage((TextContent("orphan"),), 1)))
        elif op == "dup" and self.ids:
            self.may_decline = True
            self._add(
                MessageEntry(self._pick(int(arg)) or eid, parent, TS, UserMessage((TextContent("dup"),), 1))
            )  # type: ignore[call-overload]


async def _context(handle: JsonlHandle, index: SessionIndex) -> tuple[object, object]:
    tree = index.tree
    path = tree.path()
    need = needed_positions(tree, path)
    read = await handle.read([index.locators[p] for p in need])
    entries = [e for e in read if not isinstance(e, EntryError)]
    all_path = await handle.read([index.locators[p] for p in path])
    path_entries = [e for e in all_path if not isinstance(e, EntryError)]
    plan = (
        prepare_compaction(path_entries, CompactionSettings(keep_recent_tokens=60)) if path_entries else None
    )
    if plan is not None and not isinstance(plan, NothingToCompact):
        plan = (
            plan.first_kept_entry_id,
            plan.messages_to_summarize,
            plan.turn_prefix_messages,
            plan.kept_messages,
            plan.previous_summary,
            plan.tokens_before,
            plan.read_files,
            plan.modified_files,
        )
    return build_context(entries), plan


def _check(tmp_path: Path, ops: list[tuple[str, object]], torn: bytes) -> bool:
    """Asserts the two loads agree; returns whether the partial load declined."""
    script = _Script()
    for op, arg in ops:
        script.run(op, arg)
    header = SessionHeader("s-1", TS, "/w")
    path = tmp_path / "s.jsonl"
    path.write_bytes(header_to_line(header) + b"".join(script.lines) + torn)

    async def run() -> bool:
        handle = await JsonlStore(tmp_path).open(str(path), writable=False)
        full = await handle.scan()
        partial = await handle.scan(recent_only=True)
        if not partial.partial:
            assert script.may_decline, "only files with orphans or unknown targets are loaded forwards"
            return True
        assert partial.tree.leaf_id == full.tree.leaf_id
        assert partial.tree.name == full.tree.name
        assert (partial.damaged, partial.damage, partial.torn_tail) == (
            full.damaged,
            full.damage,
            full.torn_tail,
        )
        assert await _context(handle, partial) == await _context(handle, full)
        assert partial.other_ids is not None and all(i in partial.other_ids for i in script.ids)
        full_path = iter(
            [full.tree.node(p).id for p in full.tree.path()]
        )  # the partial path is a subsequence
        assert all(
            any(i == j for j in full_path) for i in (partial.tree.node(p).id for p in partial.tree.path())
        )
        await handle.close()
        return False

    return asyncio.run(run())


@PROPS
@given(
    ops=st.lists(_op, max_size=60), torn=st.sampled_from([b"", b'{"type":"mess', b'{"type":"leaf","id":"9'])
)
def test_partial_load_equals_forward_load(
    tmp_path: Path, ops: list[tuple[str, object]], torn: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl_file, "_CHUNK", 211)  # many block boundaries inside lines
    _check(tmp_path, ops, torn)


def test_a_compacted_session_loads_only_its_kept_context(tmp_path: Path) -> None:
    ops: list[tuple[str, object]] = [("thinking", "high"), ("model", "a")]
    for i in range(40):
        ops += [("user", 1), ("assistant", 1), ("tool", 1), ("assistant", 0)]
        if i % 10 == 9:
            ops.append(("compact", -1))  # keeps from the latest entry
    ops += [("name", "named"), ("user", 0)]
    assert _check(tmp_path, ops, b"") is False

    async def run() -> None:
        w = await SessionWriter.open(JsonlStore(tmp_path), str(tmp_path / "s.jsonl"))
        assert w.partial and w.name == "named"
        # the thinking level, the kept entry, the compaction, the name and the prompt; not 168 entries
        assert [w.tree.node(p).type for p in w.tree.path()] == [
            "thinking_level_change",
            "message",
            "compaction",
            "session_info",
            "message",
        ]
        before = await w.context()
        assert (
            before.thinking_level == "high" and before.model is not None and before.model[1].startswith("m")
        )
        new = await w.append_message(UserMessage((TextContent("after"),), 1))
        assert new.parent_id == before.entry_ids[-1]
        full = await w.full_tree()
        assert not w.partial and len(full) == len(ops) + 1  # every entry
        assert full.leaf_id == new.id
        assert (await w.context()).messages == (*before.messages, new.message)
        await w.close()

    asyncio.run(run())


def test_files_without_orphans_never_fall_back(tmp_path: Path) -> None:
    ops: list[tuple[str, object]] = [
        ("user", 0),
        ("assistant", 0),
        ("leaf", 0),
        ("user", 1),
        ("damage", b"{x"),
        ("dup", 1),
        ("leaf_none", 0),
        ("user", 0),
        ("compact_bad", 0),
        ("user", 2),
    ]
    assert _check(tmp_path, ops, b'{"type":"me') is False
    assert _check(tmp_path, [*ops, ("orphan", 0)], b"") is True


def _lines_from_blocks(path: Path, start: int) -> list[tuple[int, bytes, bool]]:
    out: list[tuple[int, bytes, bool]] = []
    for offset, lines, unterminated in jsonl_file.iter_blocks_reverse(path, start):
        block, at = [], offset
        for i, line in enumerate(lines):
            whole = line if unterminated and i == len(lines) - 1 else line + b"\n"
            block.append((at, whole, False))
            at += len(whole)
        out += block[::-1]
    return [(o, line, i == 0) for i, (o, line, _) in enumerate(out)]


def test_blocks_read_backwards_hold_the_lines_read_forwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl_file, "_CHUNK", 5)
    cases = [
        b"H\n",
        b"H\nabc",
        b"H\n\n\nabc\n",
        b"H\n" + b"x" * 50 + b"\nyy\n" + b"z" * 23,
        b"H\n\xe2\x82\xac\n",
        b"H\nab\n" + b"c" * 9 + b"\n",
        b"H\n\n",
    ]
    for data in cases:
        path = tmp_path / "f"
        path.write_bytes(data)
        assert _lines_from_blocks(path, 2) == list(jsonl_file.iter_lines(path, 2))[::-1], data


@given(data=st.binary(max_size=300), chunk=st.integers(1, 40))
def test_backwards_blocks_property(data: bytes, chunk: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(b"H\n" + data)
        saved, jsonl_file._CHUNK = jsonl_file._CHUNK, chunk
        try:
            assert _lines_from_blocks(path, 2) == list(jsonl_file.iter_lines(path, 2))[::-1]
        finally:
            jsonl_file._CHUNK = saved


def test_id_filter_never_forgets_an_id() -> None:
    f = IdFilter(10_000_000)
    ids = [f"{i * 2654435761 % 2**32:08x}" for i in range(50_000)] + ["not-hex", "x" * 40]
    for i in ids:
        f.add(i)
    assert all(i in f for i in ids)
    fresh = [f"{(i * 40503 + 7) % 2**32:08x}" for i in range(10_000)]
    added = set(ids)  # built once: rebuilding it per fresh id cost ~25 s
    false_hits = sum(i in f for i in fresh if i not in added)
    # 50k ids in the filter of a 10 MB file (200 bytes per entry, 128 Ki bits): about 30% of
    # fresh ids are drawn again; a filter that said yes to everything would make drawing loop
    assert false_hits < 4000


def test_new_ids_avoid_the_ids_a_partial_load_did_not_keep(tmp_path: Path) -> None:
    ops: list[tuple[str, object]] = [("user", 0)] * 30 + [("compact", -1), ("user", 0)]
    _check(tmp_path, ops, b"")
    taken = {json.loads(line)["id"] for line in (tmp_path / "s.jsonl").read_bytes().splitlines()[1:]}

    async def run() -> None:
        w = await SessionWriter.open(JsonlStore(tmp_path), str(tmp_path / "s.jsonl"))
        assert w.partial and len(w.tree) == 3  # the kept prompt, the compaction, the last prompt
        assert all(w.index.id_taken(i) for i in taken)
        await w.close()

    asyncio.run(run())


def test_tree_fork_and_moves_after_a_partial_load_see_the_whole_session(tmp_path: Path) -> None:
    from opi_cli.session import navigation

    async def run() -> None:
        store = JsonlStore(tmp_path)
        w = await SessionWriter.create(store, cwd="/w")
        first = await w.append_message(UserMessage((TextContent("first question"),), 1))
        await w.append_message(UserMessage((TextContent("old branch"),), 1))
        await w.move_to(first.id)
        for i in range(5):
            await w.append_message(UserMessage((TextContent(f"main {i}"),), 1))
        kept = await w.append_message(UserMessage((TextContent("kept"),), 1))
        await w.append_compaction("summary", kept.id, 10)
        await w.append_message(UserMessage((TextContent("after"),), 1))
        await w.append_label(first.id, "start")
        location = w.location
        await w.close()

        full = await SessionWriter.open(store, location)
        await full.load_full()
        expected_tree, expected_forks = await navigation.tree_points(full), await navigation.fork_points(full)
        await full.close()

        w = await SessionWriter.open(store, location)
        assert w.partial and len(w.tree) == 4  # kept, compaction, after, label
        assert await navigation.tree_points(w) == expected_tree  # loads the whole tree on demand
        assert [t for _, t in expected_tree if "old branch" in t]  # ... including the other branch
        assert await navigation.fork_points(w) == expected_forks
        assert (await w.full_tree()).labels == {first.id: "start"}
        await w.close()

        w = await SessionWriter.open(store, location)  # a move straight after a partial load
        await w.move_to(first.id)
        assert [m.content[0].text for m in (await w.context()).messages] == ["first question"]  # type: ignore[union-attr]
        await w.append_message(UserMessage((TextContent("new branch"),), 1))
        await w.close()
        w = await SessionWriter.open(store, location)
        texts = [m.content[0].text for m in (await w.context()).messages]  # type: ignore[union-attr]
        assert texts == ["first question", "new branch"]
        await w.close()

    asyncio.run(run())
