"""The tree (leaf, paths, orphans, labels) and context building with compaction, all pure."""

from __future__ import annotations

from opi_cli.agent.messages import BranchSummaryMessage, CompactionSummaryMessage, CustomMessage
from opi_cli.ai.types import AssistantMessage, UserMessage
from opi_cli.session.context import build_context, needed_positions
from opi_cli.session.entries import (
    BranchSummaryEntry,
    CompactionEntry,
    CustomMessageEntry,
    Entry,
    LabelEntry,
    LeafEntry,
    MessageEntry,
    ModelChangeEntry,
    ThinkingLevelChangeEntry,
)
from opi_cli.session.tree import Node, SessionTree, node_of

from .builders import assistant, user

T = "2026-01-01T00:00:00.000Z"


def msg(eid: str, parent: str | None, text: str, role: str = "user") -> MessageEntry:
    return MessageEntry(eid, parent, T, user(text) if role == "user" else assistant(text))


def tree_of(entries: list[Entry]) -> SessionTree:
    return SessionTree(node_of(e) for e in entries)


def ids(tree: SessionTree, path: list[int]) -> list[str]:
    return [tree.node(p).id for p in path]


def test_leaf_is_last_entry_and_path_walks_to_root() -> None:
    t = tree_of(
        [msg("a", None, "1"), msg("b", "a", "2", "assistant"), msg("c", "b", "3"), msg("d", "a", "x")]
    )
    assert t.leaf_id == "d"
    assert ids(t, t.path()) == ["a", "d"]
    assert [t.node(c).id for c in t.children(t.position("a"))] == ["b", "d"]
    assert sorted(ids(t, t.leaves())) == ["c", "d"]


def test_leaf_entry_moves_position_and_next_entry_hangs_under_target() -> None:
    entries: list[Entry] = [
        msg("a", None, "1"),
        msg("b", "a", "2"),
        msg("c", "b", "3"),
        LeafEntry("l1", "b", T, "b"),
    ]
    t = tree_of(entries)
    assert t.leaf_id == "b"
    t.add(Node("d", "b", "message"))
    assert ids(t, t.path()) == ["a", "b", "d"]
    # a child that names the leaf entry itself hangs under the leaf's target
    t.add(node_of(LeafEntry("l2", "a", T, "a")))
    t.add(Node("e", "l2", "message"))
    assert ids(t, t.path()) == ["a", "e"]
    assert "l1" not in ids(t, t.children(t.position("b")))


def test_leaf_reset_to_none_starts_a_new_root() -> None:
    t = tree_of([msg("a", None, "1"), LeafEntry("l", None, T, None)])
    assert t.leaf is None and t.leaf_id is None and t.path() == []


def test_leaf_with_missing_target_is_ignored() -> None:
    t = tree_of([msg("a", None, "1"), msg("b", "a", "2"), LeafEntry("l", "zz", T, "zz")])
    assert t.leaf_id == "b"


def test_orphan_is_reattached_to_nearest_earlier_entry() -> None:
    t = tree_of([msg("a", None, "1"), msg("b", "a", "2"), msg("c", "LOST", "3"), msg("d", "c", "4")])
    assert ids(t, t.path()) == ["a", "b", "c", "d"]
    assert ids(t, t.reattached) == ["c"]


def test_parent_must_be_earlier_and_duplicate_ids_resolve_to_latest() -> None:
    t = tree_of([msg("a", None, "1"), msg("b", "later", "2"), msg("later", "a", "3"), msg("a", "later", "4")])
    assert ids(t, t.path()) == ["a", "later", "a"]  # "b" was re-attached under the first "a"
    t.add(Node("z", "a", "message"))
    assert ids(t, t.path()) == ["a", "later", "a", "z"]


def test_labels_last_wins_and_none_clears() -> None:
    t = tree_of([msg("a", None, "1"), LabelEntry("l1", "a", T, "a", "one"), LabelEntry("l2", "l1", T, "a", "two"),
                 LabelEntry("l3", "l2", T, "x", "x"), LabelEntry("l4", "l3", T, "x", None)])  # fmt: skip
    assert t.labels == {"a": "two"}


def _texts(messages: tuple[object, ...]) -> list[str]:
    out = []
    for m in messages:
        if isinstance(m, UserMessage | AssistantMessage):
            out.append(m.content[0].text)  # type: ignore[union-attr]
        elif isinstance(m, CompactionSummaryMessage):
            out.append(f"S:{m.summary}")
        elif isinstance(m, BranchSummaryMessage):
            out.append(f"B:{m.summary}")
        elif isinstance(m, CustomMessage):
            out.append(f"C:{m.custom_type}")
    return out


def test_context_without_compaction_and_settings_restore() -> None:
    path: list[Entry] = [
        ModelChangeEntry("m", None, T, "openai", "gpt-5"),
        ThinkingLevelChangeEntry("t", "m", T, "low"),
        msg("a", "t", "q1"),
        msg("b", "a", "a1", "assistant"),
        BranchSummaryEntry("bs", "b", T, "zz", "explored"),
        CustomMessageEntry("cm", "bs", T, "ext", "note", True),
        ThinkingLevelChangeEntry("t2", "cm", T, "high"),
    ]
    ctx = build_context(path)
    assert _texts(ctx.messages) == ["q1", "a1", "B:explored", "C:ext"]
    assert ctx.entry_ids == ("a", "b", "bs", "cm")
    assert ctx.model == ("mock", "mock-model")  # the assistant message came after the model change
    assert ctx.thinking_level == "high"
    assert ctx.compaction_id is None


def _compacted_path() -> list[Entry]:
    return [
        msg("1", None, "q1"),
        msg("2", "1", "a1", "assistant"),
        msg("3", "2", "q2"),
        msg("4", "3", "a2", "assistant"),
        CompactionEntry("c1", "4", T, "first", "3", 100),
        msg("5", "c1", "q3"),
        msg("6", "5", "a3", "assistant"),
        # re-compaction keeps from the first compaction's firstKept (pi 0.73 fix): 3 and 4 stay
        CompactionEntry("c2", "6", T, "second", "5", 200),
        msg("7", "c2", "q4"),
    ]


def test_compaction_is_applied_exactly_like_pi() -> None:
    path = _compacted_path()[:7]
    ctx = build_context(path)
    assert _texts(ctx.messages) == ["S:first", "q2", "a2", "q3", "a3"]
    assert ctx.entry_ids[0] == "c1" and ctx.compaction_id == "c1"


def test_latest_compaction_wins_on_recompaction() -> None:
    ctx = build_context(_compacted_path())
    assert _texts(ctx.messages) == ["S:second", "q3", "a3", "q4"]
    assert ctx.compaction_id == "c2"


def test_first_kept_missing_keeps_only_what_follows() -> None:
    path: list[Entry] = [
        msg("1", None, "q1"),
        CompactionEntry("c", "1", T, "s", "nope", 1),
        msg("2", "c", "q2"),
    ]
    assert _texts(build_context(path).messages) == ["S:s", "q2"]


def test_needed_positions_give_the_same_context() -> None:
    path: list[Entry] = [
        ModelChangeEntry("m", None, T, "p", "m1"),
        *_compacted_path(),
        LabelEntry("l", "7", T, "7", "x"),
    ]
    path[1] = msg("1", "m", "q1")
    tree = tree_of(path)
    positions = tree.path()
    need = needed_positions(tree, positions)
    assert build_context([path[p] for p in need]) == build_context([path[p] for p in positions])
    assert len(need) < len(positions)
    assert tree.node(need[0]).id == "m"
    assert "1" not in [tree.node(p).id for p in need]  # summarised away, never read
