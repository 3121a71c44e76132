"""Entries on the current path -> the messages the model sees, with the latest compaction applied.

Exactly pi's ``buildSessionContext``: when a ``compaction`` is on the path its summary comes
first (as a ``compactionSummary`` message), then the path entries from its
``firstKeptEntryId`` up to the compaction, then everything after it; ``branch_summary`` and
``custom_message`` entries become messages; the latest ``model_change`` (or assistant
message) and ``thinking_level_change`` on the path are reported so a resume can restore them.

:func:`needed_positions` picks, from light nodes alone, the few path entries that
:func:`build_context` reads, so a large file is materialised only as far as the kept context.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from opi_cli._util.records import record
from opi_cli.agent.messages import (
    AgentMessage,
    BranchSummaryMessage,
    CompactionSummaryMessage,
    CustomMessage,
)
from opi_cli.ai.types import AssistantMessage, TextContent
from opi_cli.session.entries import (
    BranchSummaryEntry,
    CompactionEntry,
    CustomMessageEntry,
    Entry,
    MessageEntry,
    ModelChangeEntry,
    ThinkingLevelChangeEntry,
)
from opi_cli.session.tree import SessionTree

__all__ = ["SessionContext", "build_context", "entry_message", "iso_to_ms", "needed_positions"]

_MESSAGE_TYPES = frozenset({"message", "custom_message", "branch_summary"})
_SETTING_TYPES = frozenset({"model_change", "thinking_level_change"})


@record
class SessionContext:
    """What a resumed agent starts from.

    Attributes:
        messages: agent messages in order (convert with ``convert_to_llm`` for the provider).
        entry_ids: the entry each message came from (the compaction's id for its summary).
        model: ``(provider, model_id)`` of the latest model change or assistant message.
        thinking_level: the latest ``thinking_level_change`` on the path, if any.
        compaction_id: the compaction applied, if any.
    """

    messages: tuple[AgentMessage, ...] = ()
    entry_ids: tuple[str, ...] = ()
    model: tuple[str, str] | None = None
    thinking_level: str | None = None
    compaction_id: str | None = None


def iso_to_ms(timestamp: str) -> int:
    """An entry's ISO timestamp in epoch milliseconds (0 when unreadable)."""
    try:
        return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def entry_message(entry: Entry) -> AgentMessage | None:
    """The message a context-bearing entry contributes (``None`` for the others)."""
    if isinstance(entry, MessageEntry):
        return entry.message
    if isinstance(entry, CustomMessageEntry):
        content = (TextContent(entry.content),) if isinstance(entry.content, str) else entry.content
        return CustomMessage(
            entry.custom_type, content, entry.display, iso_to_ms(entry.timestamp), entry.details
        )
    if isinstance(entry, BranchSummaryEntry) and entry.summary:
        return BranchSummaryMessage(entry.summary, entry.from_id, iso_to_ms(entry.timestamp))
    return None


def build_context(path: Sequence[Entry]) -> SessionContext:
    """The context for the model from the entries of a path (root first).

    ``path`` may also be just the entries :func:`needed_positions` selected; the result is
    the same.
    """
    thinking: str | None = None
    model: tuple[str, str] | None = None
    compaction_at = -1
    for i, entry in enumerate(path):
        if isinstance(entry, ThinkingLevelChangeEntry):
            thinking = entry.thinking_level
        elif isinstance(entry, ModelChangeEntry):
            model = (entry.provider, entry.model_id)
        elif isinstance(entry, MessageEntry) and isinstance(entry.message, AssistantMessage):
            model = (entry.message.provider, entry.message.model)
        elif isinstance(entry, CompactionEntry):
            compaction_at = i
    messages: list[AgentMessage] = []
    ids: list[str] = []

    def emit(entry: Entry) -> None:
        message = entry_message(entry)
        if message is not None:
            messages.append(message)
            ids.append(entry.id)

    compaction_id: str | None = None
    if compaction_at >= 0:
        comp = path[compaction_at]
        assert isinstance(comp, CompactionEntry)
        compaction_id = comp.id
        messages.append(CompactionSummaryMessage(comp.summary, comp.tokens_before, iso_to_ms(comp.timestamp)))
        ids.append(comp.id)
        kept = False
        for entry in path[:compaction_at]:
            kept = kept or entry.id == comp.first_kept_entry_id
            if kept:
                emit(entry)
        for entry in path[compaction_at + 1 :]:
            emit(entry)
    else:
        for entry in path:
            emit(entry)
    return SessionContext(tuple(messages), tuple(ids), model, thinking, compaction_id)


def needed_positions(tree: SessionTree, path: Sequence[int]) -> list[int]:
    """The positions on ``path`` that :func:`build_context` needs, in path order.

    The latest compaction, the entries it keeps, everything after it, the settings entries
    and the latest assistant message (for the model); nothing else is read from disk.
    """
    nodes = [tree.node(p) for p in path]
    compaction_at = max((i for i, n in enumerate(nodes) if n.type == "compaction"), default=-1)
    keep = [False] * len(path)
    if compaction_at >= 0:
        keep[compaction_at] = True
        first_kept = nodes[compaction_at].target_id
        start = next((i for i in range(compaction_at) if nodes[i].id == first_kept), compaction_at)
        keep[start] = True
        for i in range(start, len(path)):
            keep[i] = keep[i] or nodes[i].type in _MESSAGE_TYPES
    else:
        keep = [n.type in _MESSAGE_TYPES for n in nodes]
    last_assistant = max(
        (i for i, n in enumerate(nodes) if n.type == "message" and n.text == "assistant"), default=-1
    )
    if last_assistant >= 0:
        keep[last_assistant] = True
    return [p for i, p in enumerate(path) if keep[i] or nodes[i].type in _SETTING_TYPES]
