"""Compaction's public face: one compaction at a time, the dry-run preview, and a single call that runs one.

The parts live in :mod:`~opi_cli.session.compaction_cut` (what to summarise and keep, token
accounting; pure), :mod:`~opi_cli.session.compaction_summary` (the summary calls and the
fallback) and :mod:`~opi_cli.session.compaction_prompts`; everything a caller needs is
re-exported here. A typical caller::

    lock = CompactionLock()                      # one per session
    usage = context_tokens(messages)
    if should_compact(usage.tokens, model.context_window, settings):
        outcome = await compact(CompactionRequest(lambda: path_entries(), provider, model,
                                                  settings, "threshold", signal=signal), lock)
        # outcome.status: compacted | skipped | nothing | aborted
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from opi_cli._util.abort import AbortSignal
from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.model import Model
from opi_cli.ai.provider import Provider
from opi_cli.ai.timeouts import DEFAULT_TIMEOUTS, HttpTimeouts
from opi_cli.ai.types import ThinkingLevel
from opi_cli.session.compaction_cut import (
    CHARS_PER_IMAGE,
    CompactionPreparation,
    CompactionSettings,
    ContextUsage,
    CutPoint,
    NothingToCompact,
    context_tokens,
    entry_message,
    estimate_message_tokens,
    find_cut_point,
    prepare_compaction,
    should_compact,
    usage_tokens,
)
from opi_cli.session.context import build_context
from opi_cli.session.entries import Entry

if TYPE_CHECKING:
    from opi_cli.session.compaction_summary import (
        TOOL_RESULT_MAX_CHARS,
        CompactionAborted,
        CompactionResult,
        Summarizer,
        SummaryRequest,
        TokenCounter,
        fallback_result,
        fallback_summary,
        format_file_operations,
        serialize_conversation,
        summarize,
        summarize_with,
        summary_budgets,
    )

# The summary calls (prompts, serialisation, the model request) are needed only when a
# compaction runs: their names are imported from compaction_summary on first use, so that
# a session that never compacts does not load them at start.
_SUMMARY_NAMES = frozenset({
    "TOOL_RESULT_MAX_CHARS", "CompactionAborted", "CompactionResult", "Summarizer", "SummaryRequest", "TokenCounter",
    "fallback_result", "fallback_summary", "format_file_operations", "serialize_conversation", "summarize",
    "summarize_with", "summary_budgets",
})


def __getattr__(name: str) -> Any:
    if name not in _SUMMARY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from opi_cli.session import compaction_summary

    value = getattr(compaction_summary, name)
    globals()[name] = value
    return value

__all__ = [
    "CHARS_PER_IMAGE",
    "TOOL_RESULT_MAX_CHARS",
    "CompactionAborted",
    "CompactionLock",
    "CompactionOutcome",
    "CompactionPreparation",
    "CompactionPreview",
    "CompactionReason",
    "CompactionRequest",
    "CompactionResult",
    "CompactionSettings",
    "ContextUsage",
    "CutPoint",
    "NothingToCompact",
    "Summarizer",
    "SummaryRequest",
    "TokenCounter",
    "compact",
    "context_tokens",
    "entry_message",
    "estimate_message_tokens",
    "fallback_result",
    "fallback_summary",
    "find_cut_point",
    "format_file_operations",
    "prepare_compaction",
    "preview",
    "serialize_conversation",
    "should_compact",
    "summarize",
    "summarize_with",
    "summary_budgets",
    "usage_tokens",
]

CompactionReason = Literal["manual", "threshold", "overflow"]


# ---------------------------------------------------------------------------------------------
# One at a time


class CompactionLock:
    """Guarantees that at most one compaction runs at a time (pi ran two at once, §4.7).

    ``async with lock.acquire(reason) as got:`` gives ``True`` to the holder. While a
    compaction runs, another ``acquire`` either gets ``False`` at once (``wait=False``,
    the default policy: the caller reports "skipped: compaction already running") or waits
    for its turn (``wait=True``); a waiter should re-read the session afterwards, since the
    compaction it waited for has usually done the job.
    """

    __slots__ = ("_lock", "_reason", "wait")

    def __init__(self, *, wait: bool = False) -> None:
        self._lock = asyncio.Lock()
        self._reason: str | None = None
        self.wait = wait
        """The default policy for a second trigger."""

    @property
    def running(self) -> bool:
        return self._lock.locked()

    @property
    def running_reason(self) -> str | None:
        """The reason of the compaction that holds the lock."""
        return self._reason

    @asynccontextmanager
    async def acquire(self, reason: str, *, wait: bool | None = None) -> AsyncIterator[bool]:
        """Hold the lock for a compaction; yields ``False`` when skipped (see the class doc)."""
        if self._lock.locked() and not (self.wait if wait is None else wait):
            yield False
            return
        async with self._lock:
            self._reason = reason
            try:
                yield True
            finally:
                self._reason = None

    def skipped_message(self) -> str:
        """The line to show for a trigger that was skipped."""
        running = f" ({self._reason})" if self._reason else ""
        return f"skipped: compaction already running{running}"


# ---------------------------------------------------------------------------------------------
# Running one


@record
class CompactionRequest:
    """What :func:`compact` needs.

    Attributes:
        path: the current path's entries, or a function that reads them; a function is
            called only once the lock is held, so a caller that waited sees the session as
            the previous compaction left it.
        reason: ``manual``, ``threshold`` or ``overflow`` (for events and messages).
        focus: ``/compact <focus>``.
        count_tokens: see :func:`summarize`.
        summarizer: writes the summary instead of the model (the fallback summary is used
            when it raises or returns nothing).
        timeouts: the HTTP time limits of the summary requests (the session's own).
    """

    path: Sequence[Entry] | Callable[[], Sequence[Entry]]
    provider: Provider
    model: Model
    settings: CompactionSettings
    reason: CompactionReason
    api_key: str | None = None
    signal: AbortSignal | None = None
    focus: str | None = None
    thinking_level: ThinkingLevel = "off"
    count_tokens: TokenCounter | None = None
    summarizer: Summarizer | None = None
    timeouts: HttpTimeouts = DEFAULT_TIMEOUTS


@record
class CompactionOutcome:
    """How a compaction attempt ended; maps onto ``compaction_end`` (PROTOCOL.md §3).

    Attributes:
        status: ``compacted`` (``result`` set; it may be a fallback summary), ``skipped``
            (another compaction was running), ``nothing`` (nothing to compact, or already
            compacted), ``aborted`` (the signal fired; nothing changed).
        message: for anything but ``compacted``, the line to show (``errorMessage``).
    """

    status: Literal["compacted", "skipped", "nothing", "aborted"]
    reason: CompactionReason
    result: CompactionResult | None = None
    message: str | None = None

    @property
    def aborted(self) -> bool:
        return self.status == "aborted"


async def compact(
    request: CompactionRequest, lock: CompactionLock | None, *, wait: bool | None = None
) -> CompactionOutcome:
    """Run one compaction under ``lock``: prepare, summarise (or fall back), report.

    ``lock`` may be ``None`` when the caller already holds its own (an AgentSession does).
    The caller stores ``outcome.result`` as a ``compaction`` entry and rebuilds the context.
    Task cancellation propagates; the abort signal gives an ``aborted`` outcome.
    """
    if lock is None:
        return await _compact_now(request)
    async with lock.acquire(request.reason, wait=wait) as got:
        if not got:
            return CompactionOutcome("skipped", request.reason, message=lock.skipped_message())
        return await _compact_now(request)


async def _compact_now(request: CompactionRequest) -> CompactionOutcome:
    from opi_cli.session.compaction_summary import CompactionAborted, summarize, summarize_with

    if request.signal is not None and request.signal.aborted:
        return CompactionOutcome("aborted", request.reason, message="Compaction cancelled")
    entries = request.path() if callable(request.path) else request.path
    prep = prepare_compaction(entries, request.settings)
    if isinstance(prep, NothingToCompact):
        return CompactionOutcome("nothing", request.reason, message=prep.reason)
    try:
        if request.summarizer is not None:
            result = await summarize_with(
                request.summarizer, prep, reason=request.reason, focus=request.focus, signal=request.signal
            )
        else:
            result = await summarize(
                request.provider,
                request.model,
                prep,
                request.settings,
                api_key=request.api_key,
                signal=request.signal,
                focus=request.focus,
                thinking_level=request.thinking_level,
                count_tokens=request.count_tokens,
                timeouts=request.timeouts,
            )
    except CompactionAborted as exc:
        return CompactionOutcome("aborted", request.reason, message=exc.message)
    return CompactionOutcome("compacted", request.reason, result=result)


# ---------------------------------------------------------------------------------------------
# Dry run


@record
class CompactionPreview:
    """What ``/compact --dry-run`` shows; nothing is changed.

    Attributes:
        reason: set when there is nothing to compact (then the counts are of the whole context).
        summarize_*: the history that would be summarised (including the previous summary's
            kept messages on a re-compaction).
        turn_prefix_*: the split turn's prefix, summarised apart.
        kept_*: what stays verbatim.
    """

    tokens_before: int
    summarize_messages: int = 0
    summarize_tokens: int = 0
    turn_prefix_messages: int = 0
    turn_prefix_tokens: int = 0
    kept_messages: int = 0
    kept_tokens: int = 0
    first_kept_entry_id: str | None = None
    is_split_turn: bool = False
    has_previous_summary: bool = False
    read_files: tuple[str, ...] = ()
    modified_files: tuple[str, ...] = ()
    reason: str | None = None

    def lines(self) -> list[str]:
        """Plain text lines for the REPL."""
        if self.reason is not None:
            return [f"{self.reason}; context ≈ {self.tokens_before:,} tokens."]
        out = [
            f"Context now ≈ {self.tokens_before:,} tokens.",
            f"Would summarise {self.summarize_messages} messages (≈ {self.summarize_tokens:,} tokens)"
            + (" together with the previous summary." if self.has_previous_summary else "."),
        ]
        if self.is_split_turn:
            out.append(
                f"Would summarise the start of the current turn apart: {self.turn_prefix_messages} messages "
                f"(≈ {self.turn_prefix_tokens:,} tokens)."
            )
        out.append(
            f"Would keep {self.kept_messages} recent messages verbatim (≈ {self.kept_tokens:,} tokens), "
            f"from entry {self.first_kept_entry_id}."
        )
        if self.read_files or self.modified_files:
            out.append(f"Files tracked: {len(self.read_files)} read, {len(self.modified_files)} modified.")
        return out


def _estimate(messages: Sequence[AgentMessage]) -> int:
    return sum(estimate_message_tokens(m) for m in messages)


def preview(entries: Sequence[Entry], settings: CompactionSettings) -> CompactionPreview:
    """What a compaction of ``entries`` would summarise and keep, with estimated token counts."""
    prep = prepare_compaction(entries, settings)
    if isinstance(prep, NothingToCompact):
        return CompactionPreview(context_tokens(build_context(entries).messages).tokens, reason=prep.reason)
    return CompactionPreview(
        tokens_before=prep.tokens_before,
        summarize_messages=len(prep.messages_to_summarize),
        summarize_tokens=_estimate(prep.messages_to_summarize),
        turn_prefix_messages=len(prep.turn_prefix_messages),
        turn_prefix_tokens=_estimate(prep.turn_prefix_messages),
        kept_messages=len(prep.kept_messages),
        kept_tokens=_estimate(prep.kept_messages),
        first_kept_entry_id=prep.first_kept_entry_id,
        is_split_turn=prep.is_split_turn,
        has_previous_summary=prep.previous_summary is not None,
        read_files=prep.read_files,
        modified_files=prep.modified_files,
    )
