"""Choosing what a compaction summarises and what it keeps: token estimates, context size and the cut point.

Everything here is pure. The rules are pi's (reference/pi.md §4.2 and §4.4) with pi 0.73's
fix, so a second compaction starts from the previous one's ``firstKeptEntryId`` and loses
nothing the first one kept, plus three repairs of pi defects, each marked where it is made:

* an assistant message whose usage is all zeros (a provider that reports none), or that
  predates the latest compaction (its usage measured the old, larger context), does not
  anchor the context size;
* when the message that fills the keep budget is a tool result after the last valid cut
  point, the cut goes to the call that produced it (pi kept everything, so a session ending
  in one huge tool result could never be compacted);
* moving the cut earlier over settings entries never turns a clean cut at a user message
  into a "split turn" (pi then re-summarised the whole previous turn as a turn prefix).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import assert_never

from opi_cli._util.records import record
from opi_cli.agent.messages import (
    AgentMessage,
    BashExecutionMessage,
    BranchSummaryMessage,
    CompactionSummaryMessage,
    CustomMessage,
)
from opi_cli.ai.types import (
    AssistantMessage,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserContent,
    UserMessage,
)
from opi_cli.session.context import build_context, iso_to_ms
from opi_cli.session.entries import (
    BranchSummaryEntry,
    CompactionEntry,
    CustomMessageEntry,
    Entry,
    MessageEntry,
)

__all__ = [
    "CHARS_PER_IMAGE",
    "CompactionPreparation",
    "CompactionSettings",
    "ContextUsage",
    "CutPoint",
    "NothingToCompact",
    "context_tokens",
    "entry_message",
    "estimate_message_tokens",
    "find_cut_point",
    "prepare_compaction",
    "should_compact",
    "usage_tokens",
]

CHARS_PER_IMAGE = 4800
"""An image counts as 4,800 characters, i.e. 1,200 estimated tokens (pi's figure)."""

_READ_TOOLS = frozenset({"read"})
_MODIFY_TOOLS = frozenset({"write", "edit"})


@record
class CompactionSettings:
    """The ``compaction`` settings block (pi's defaults).

    Attributes:
        enabled: automatic (threshold and overflow) compaction; ``/compact`` works regardless.
        reserve_tokens: room kept free for the reply; compaction starts when the context is
            larger than ``window - reserve_tokens``; also sizes the summary budgets.
        keep_recent_tokens: about this many estimated tokens of recent messages stay verbatim.
    """

    enabled: bool = True
    reserve_tokens: int = 16384
    keep_recent_tokens: int = 20000


# ---------------------------------------------------------------------------------------------
# Token accounting


def _ceil_quarter(chars: int) -> int:
    return (chars + 3) // 4


def _content_chars(content: tuple[UserContent, ...]) -> int:
    chars = 0
    for block in content:
        if isinstance(block, TextContent):
            chars += len(block.text)
        else:
            chars += CHARS_PER_IMAGE
    return chars


def _args_json(call: ToolCall) -> str:
    return json.dumps(call.arguments, separators=(",", ":"), ensure_ascii=False)


def estimate_message_tokens(message: AgentMessage) -> int:
    """pi's estimate: ``ceil(chars / 4)`` over what the model would read of ``message``.

    User, custom and tool-result text counts as is and each image as 4,800 characters (pi
    counts images in tool results and custom messages only; a pasted image is as big in a
    user message); assistant text, thinking and each tool call's name plus its JSON
    arguments; a ``!cmd`` run's command and output; a summary's text.
    """
    match message:
        case UserMessage() | ToolResultMessage() | CustomMessage():
            return _ceil_quarter(_content_chars(message.content))
        case AssistantMessage():
            chars = 0
            for block in message.content:
                if isinstance(block, TextContent):
                    chars += len(block.text)
                elif isinstance(block, ThinkingContent):
                    chars += len(block.thinking)
                else:
                    chars += len(block.name) + len(_args_json(block))
            return _ceil_quarter(chars)
        case BashExecutionMessage():
            return _ceil_quarter(len(message.command) + len(message.output))
        case BranchSummaryMessage() | CompactionSummaryMessage():
            return _ceil_quarter(len(message.summary))
        case _:
            assert_never(message)


def usage_tokens(usage: Usage) -> int:
    """The context size a response reports: ``total_tokens``, else the sum of its four parts.

    ``input`` excludes cached tokens, so adding ``cache_read`` and ``cache_write`` counts
    each token once.
    """
    return usage.total_tokens or (usage.input + usage.output + usage.cache_read + usage.cache_write)


@record
class ContextUsage:
    """How big the context is, and how much of that figure the provider reported.

    Attributes:
        tokens: ``from_usage + estimated_tail``.
        from_usage: the last trustworthy assistant message's reported usage (0 when none).
        estimated_tail: estimates for the messages after it (for all messages when none).
        last_usage_index: index of that assistant message in the list, if any.
    """

    tokens: int
    from_usage: int
    estimated_tail: int
    last_usage_index: int | None = None


def context_tokens(messages: Sequence[AgentMessage]) -> ContextUsage:
    """pi's ``estimateContextTokens``: last reported usage plus estimates for later messages.

    The anchor is the last assistant message that is neither ``error`` nor ``aborted``,
    reported a non-zero usage, and is newer than the latest compaction summary in
    ``messages`` (older usage measured the context before it was compacted).
    """
    stale_until: int | None = None
    for m in messages:
        if isinstance(m, CompactionSummaryMessage):
            stale_until = m.timestamp if stale_until is None else max(stale_until, m.timestamp)
    tail = 0
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, AssistantMessage) and m.stop_reason not in ("error", "aborted"):
            if stale_until is not None and m.timestamp <= stale_until:
                break
            reported = usage_tokens(m.usage)
            if reported > 0:
                return ContextUsage(reported + tail, reported, tail, i)
        tail += estimate_message_tokens(m)
    total = sum(estimate_message_tokens(m) for m in messages)
    return ContextUsage(total, 0, total, None)


def should_compact(tokens: int, context_window: int, settings: CompactionSettings) -> bool:
    """True when automatic compaction is on and ``tokens > context_window - reserve_tokens``."""
    return settings.enabled and tokens > context_window - settings.reserve_tokens


# ---------------------------------------------------------------------------------------------
# Cut point


def entry_message(entry: Entry) -> AgentMessage | None:
    """The message an entry puts in the context (as ``build_context`` makes it), or ``None``."""
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


def _is_cut_point(entry: Entry) -> bool:
    if isinstance(entry, MessageEntry):
        return entry.message.role != "toolResult"
    return isinstance(entry, BranchSummaryEntry | CustomMessageEntry)


def _is_turn_start(entry: Entry) -> bool:
    if isinstance(entry, MessageEntry):
        return entry.message.role in ("user", "bashExecution")
    return isinstance(entry, BranchSummaryEntry | CustomMessageEntry)


@record
class CutPoint:
    """Where a compaction cuts a path (indices into the path's entries).

    Attributes:
        first_kept_index: the first entry kept verbatim (its id becomes ``firstKeptEntryId``).
        turn_start_index: when the cut splits a turn, the entry that started that turn.
        is_split_turn: the cut is inside a turn; ``[turn_start_index, first_kept_index)`` is
            the turn's prefix, summarised on its own.
        region_start: where summarising starts (the previous compaction's first kept entry,
            or 0).
        previous_compaction_index: the latest compaction on the path, if any.
    """

    first_kept_index: int
    turn_start_index: int | None
    is_split_turn: bool
    region_start: int
    previous_compaction_index: int | None = None


def _region(entries: Sequence[Entry]) -> tuple[int | None, int]:
    """(latest compaction's index, index where the region to summarise starts)."""
    prev = next((i for i in range(len(entries) - 1, -1, -1) if isinstance(entries[i], CompactionEntry)), None)
    if prev is None:
        return None, 0
    comp = entries[prev]
    assert isinstance(comp, CompactionEntry)
    kept = next((i for i in range(prev) if entries[i].id == comp.first_kept_entry_id), None)
    return prev, prev + 1 if kept is None else kept


def find_cut_point(
    entries: Sequence[Entry],
    settings: CompactionSettings,
    *,
    start: int | None = None,
    end: int | None = None,
) -> CutPoint:
    """Choose the first entry to keep so that about ``keep_recent_tokens`` stay verbatim.

    Walks back from the newest entry summing estimates over ``message`` entries; at the
    first entry where the sum reaches ``keep_recent_tokens`` it cuts at the nearest valid
    cut point at or after it (a user, assistant, ``!cmd``, custom or summary message, a
    ``custom_message`` or ``branch_summary`` entry; never a tool result, so a call and its
    result stay together). Then the cut moves earlier over settings-like entries directly
    before it. A cut that is not at a turn start splits that turn.

    Args:
        entries: the current path, root first.
        settings: only ``keep_recent_tokens`` is used.
        start: override the region start (default: the previous compaction's first kept
            entry, or 0).
        end: stop before this index (default: the end).
    """
    prev, region_start = _region(entries)
    lo = region_start if start is None else start
    hi = len(entries) if end is None else end
    cut_points = [i for i in range(lo, hi) if _is_cut_point(entries[i])]
    if not cut_points:
        return CutPoint(lo, None, False, lo, prev)
    cut = cut_points[0]
    accumulated = 0
    for i in range(hi - 1, lo - 1, -1):
        entry = entries[i]
        if not isinstance(entry, MessageEntry):
            continue
        accumulated += estimate_message_tokens(entry.message)
        if accumulated >= settings.keep_recent_tokens:
            at = bisect.bisect_left(cut_points, i)
            # pi keeps everything when no cut point follows (a huge last tool result); cut
            # at the call that produced it instead.
            cut = cut_points[at] if at < len(cut_points) else cut_points[-1]
            break
    anchor = cut
    while cut > lo and not isinstance(entries[cut - 1], CompactionEntry | MessageEntry):
        cut -= 1
    turn_start: int | None = None
    if not _is_turn_start(entries[anchor]):
        turn_start = next((i for i in range(anchor - 1, lo - 1, -1) if _is_turn_start(entries[i])), None)
    return CutPoint(cut, turn_start, turn_start is not None, lo, prev)


# ---------------------------------------------------------------------------------------------
# Preparation


@record
class NothingToCompact:
    """Why there is nothing to compact (a line to show the user as is)."""

    reason: str


@record
class CompactionPreparation:
    """Everything a summary needs, computed from the path alone.

    Attributes:
        first_kept_entry_id / first_kept_index: the cut.
        messages_to_summarize: the history before the cut (before the turn start if split).
        turn_prefix_messages: the split turn's messages before the cut (empty if not split).
        kept_messages: the messages kept verbatim (the previous compaction's summary aside).
        tokens_before: the context size now (:func:`context_tokens` of the rebuilt context).
        previous_summary: the latest compaction's summary, for the update prompt.
        read_files / modified_files: cumulative, sorted; a file both read and modified is
            listed as modified only.
    """

    first_kept_entry_id: str
    first_kept_index: int
    messages_to_summarize: tuple[AgentMessage, ...]
    turn_prefix_messages: tuple[AgentMessage, ...]
    kept_messages: tuple[AgentMessage, ...]
    is_split_turn: bool
    tokens_before: int
    previous_summary: str | None
    read_files: tuple[str, ...]
    modified_files: tuple[str, ...]
    settings: CompactionSettings
    cut: CutPoint


def _messages(entries: Sequence[Entry]) -> tuple[AgentMessage, ...]:
    out: list[AgentMessage] = []
    for entry in entries:
        message = entry_message(entry)
        if message is not None:
            out.append(message)
    return tuple(out)


def _string_list(details: object, key: str) -> list[str]:
    if not isinstance(details, dict):
        return []
    value = details.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _file_lists(
    messages: Sequence[AgentMessage], previous: CompactionEntry | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    read: set[str] = set()
    modified: set[str] = set()
    if previous is not None and not previous.from_hook:
        read.update(_string_list(previous.details, "readFiles"))
        modified.update(_string_list(previous.details, "modifiedFiles"))
    for m in messages:
        if not isinstance(m, AssistantMessage):
            continue
        for call in m.tool_calls:
            path = call.arguments.get("path")
            if not isinstance(path, str) or not path:
                continue
            if call.name in _READ_TOOLS:
                read.add(path)
            elif call.name in _MODIFY_TOOLS:
                modified.add(path)
    return tuple(sorted(read - modified)), tuple(sorted(modified))


def prepare_compaction(
    entries: Sequence[Entry], settings: CompactionSettings
) -> CompactionPreparation | NothingToCompact:
    """Split the path into what to summarise and what to keep, or say why there is nothing to do.

    Reasons: ``Nothing to compact (no messages yet)``, ``Already compacted`` (the path ends
    with a compaction), ``Nothing to compact (session too small)``.
    """
    if entries and isinstance(entries[-1], CompactionEntry):
        return NothingToCompact("Already compacted")
    if not any(isinstance(e, MessageEntry | CompactionEntry) for e in entries):  # (a path loaded from its
        return NothingToCompact(
            "Nothing to compact (no messages yet)"
        )  # latest compaction on has none before)
    cut = find_cut_point(entries, settings)
    history_end = cut.turn_start_index if cut.turn_start_index is not None else cut.first_kept_index
    to_summarize = _messages(entries[cut.region_start : history_end])
    prefix = _messages(entries[history_end : cut.first_kept_index]) if cut.is_split_turn else ()
    if not to_summarize and not prefix:
        return NothingToCompact("Nothing to compact (session too small)")
    previous: CompactionEntry | None = None
    if cut.previous_compaction_index is not None:
        found = entries[cut.previous_compaction_index]
        assert isinstance(found, CompactionEntry)
        previous = found
    read, modified = _file_lists(to_summarize + prefix, previous)
    return CompactionPreparation(
        first_kept_entry_id=entries[cut.first_kept_index].id,
        first_kept_index=cut.first_kept_index,
        messages_to_summarize=to_summarize,
        turn_prefix_messages=prefix,
        kept_messages=_messages(entries[cut.first_kept_index :]),
        is_split_turn=cut.is_split_turn,
        tokens_before=context_tokens(build_context(entries).messages).tokens,
        previous_summary=previous.summary if previous is not None else None,
        read_files=read,
        modified_files=modified,
        settings=settings,
        cut=cut,
    )
