"""Writing a compaction's summary: transcript serialisation, pi's prompts, the model calls that fit the window, and the fallback.

The messages to summarise are converted to LLM form and serialised to a plain transcript
(so the model reads it rather than continuing it), wrapped in pi's prompts (reference/pi.md
§4.5) and sent with no tools. The history and the split turn's prefix are summarised
concurrently with budgets of 80 % and 50 % of ``reserve_tokens``. A request never exceeds
the model's window: the oldest transcript blocks are dropped first, and a note says how
much. When a call fails or returns nothing, a summary built without a model is used and
``details.fallback`` says why; an abort ends the whole thing with :class:`CompactionAborted`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import field
from typing import TypeVar

from opi_cli._util.abort import AbortSignal
from opi_cli._util.ids import now_ms
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage, convert_to_llm
from opi_cli.ai.events import StreamDone, StreamError
from opi_cli.ai.history import repair_history
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, Provider, StreamOptions
from opi_cli.ai.timeouts import DEFAULT_TIMEOUTS, HttpTimeouts
from opi_cli.ai.types import (
    AssistantMessage,
    Message,
    TextContent,
    ThinkingContent,
    ThinkingLevel,
    ToolResultMessage,
    Usage,
    UserMessage,
    text_of,
)
from opi_cli.errors import OpiError
from opi_cli.session.compaction_cut import CompactionPreparation, CompactionSettings
from opi_cli.session.compaction_prompts import (
    NO_PRIOR_HISTORY,
    SPLIT_TURN_SEPARATOR,
    SUMMARIZATION_SYSTEM_PROMPT,
    history_prompt,
    turn_prefix_prompt,
)

__all__ = [
    "TOOL_RESULT_MAX_CHARS",
    "CompactionAborted",
    "CompactionResult",
    "Summarizer",
    "SummaryRequest",
    "TokenCounter",
    "fallback_result",
    "fallback_summary",
    "format_file_operations",
    "serialize_conversation",
    "summarize",
    "summarize_with",
    "summary_budgets",
]

TOOL_RESULT_MAX_CHARS = 2000
_FALLBACK_TEXT_CHARS = 2000
_CUT_MARK = "[...] "
_MIN_TAIL_TOKENS = 32
_FILE_TAGS = re.compile(r"\n*<(read|modified)-files>\n.*?\n</\1-files>", re.DOTALL)

TokenCounter = Callable[[str], int]


class CompactionAborted(OpiError):
    """The compaction was cancelled (its abort signal fired); nothing was changed."""

    def __init__(self, message: str = "Compaction cancelled") -> None:
        super().__init__(message)


@record
class CompactionResult:
    """A finished compaction, ready to be stored as a ``compaction`` entry.

    Attributes:
        details: ``readFiles``/``modifiedFiles``; with ``fallback: true`` and
            ``fallbackReason`` when no model wrote the summary; ``omittedBlocks`` when the
            transcript had to be trimmed to fit the window.
        usage: what the summary calls cost (zero for a fallback).
    """

    summary: str
    first_kept_entry_id: str
    tokens_before: int
    details: dict[str, JsonValue]
    usage: Usage = field(default_factory=Usage)

    @property
    def is_fallback(self) -> bool:
        return self.details.get("fallback") is True

    def to_json(self) -> dict[str, JsonValue]:
        """The ``result`` object of a ``compaction_end`` event (PROTOCOL.md §3)."""
        return {
            "summary": self.summary,
            "firstKeptEntryId": self.first_kept_entry_id,
            "tokensBefore": self.tokens_before,
            "details": dict(self.details),
        }


# ---------------------------------------------------------------------------------------------
# Transcript


def _truncate_tool_result(text: str) -> str:
    if len(text) <= TOOL_RESULT_MAX_CHARS:
        return text
    return f"{text[:TOOL_RESULT_MAX_CHARS]}\n\n[... {len(text) - TOOL_RESULT_MAX_CHARS} more characters truncated]"


def _serialize_parts(messages: Sequence[Message]) -> list[str]:
    parts: list[str] = []
    for m in messages:
        if isinstance(m, UserMessage):
            text = text_of(m.content)
            if text:
                parts.append(f"[User]: {text}")
        elif isinstance(m, AssistantMessage):
            texts = [c.text for c in m.content if isinstance(c, TextContent)]
            thinking = [c.thinking for c in m.content if isinstance(c, ThinkingContent) and not c.redacted]
            calls = [
                f"{c.name}({', '.join(f'{k}={_json(v)}' for k, v in c.arguments.items())})"
                for c in m.tool_calls
            ]
            if thinking:
                parts.append("[Assistant thinking]: " + "\n".join(thinking))
            if texts:
                parts.append("[Assistant]: " + "\n".join(texts))
            if calls:
                parts.append("[Assistant tool calls]: " + "; ".join(calls))
        else:
            text = text_of(m.content)
            if text:
                parts.append(f"[Tool result]: {_truncate_tool_result(text)}")
    return parts


def _json(value: JsonValue) -> str:
    """``JSON.stringify``: compact separators, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def serialize_conversation(messages: Sequence[Message]) -> str:
    """pi's ``serializeConversation``: ``[User]:``/``[Assistant]:``/... blocks joined by blank lines."""
    return "\n\n".join(_serialize_parts(messages))


def format_file_operations(read_files: Sequence[str], modified_files: Sequence[str]) -> str:
    """The ``<read-files>``/``<modified-files>`` tail appended to every summary (empty lists omitted)."""
    sections = []
    if read_files:
        sections.append("<read-files>\n" + "\n".join(read_files) + "\n</read-files>")
    if modified_files:
        sections.append("<modified-files>\n" + "\n".join(modified_files) + "\n</modified-files>")
    return "\n\n" + "\n\n".join(sections) if sections else ""


def _strip_file_tags(summary: str) -> str:
    """A previous summary without its file lists (the new summary appends cumulative ones)."""
    return _FILE_TAGS.sub("", summary).rstrip()


# ---------------------------------------------------------------------------------------------
# Fitting a request into the window


def _conservative_tokens(text: str) -> int:
    """An over-estimate for any tokenizer: one token per three UTF-8 bytes (code and CJK included)."""
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 3)


def summary_budgets(model: Model, settings: CompactionSettings) -> tuple[int, int]:
    """``max_tokens`` of the history and turn-prefix calls: 80 % and 50 % of ``reserve_tokens``.

    Capped at the model's output limit, and at half its window so that a reserve set larger
    than a small model's window still leaves room for the transcript.
    """
    cap = model.context_window // 2
    if model.max_tokens > 0:
        cap = min(cap, model.max_tokens)
    return min(math.floor(0.8 * settings.reserve_tokens), cap), min(
        math.floor(0.5 * settings.reserve_tokens), cap
    )


def _margin(window: int) -> int:
    return max(128, window // 50)


@record
class _Fitted:
    prompt: str
    omitted_blocks: int


def _omission_note(blocks: int, chars: int) -> str:
    return (
        f"[... {blocks} earlier transcript block{'s' if blocks != 1 else ''} ({chars} characters) "
        "omitted so that this request fits the model's context window]"
    )


def _fit(parts: list[str], build: Callable[[str], str], limit: int, count: TokenCounter) -> _Fitted | None:
    """The prompt with as many of the newest ``parts`` as fit in ``limit`` tokens, or ``None``.

    Whole blocks are dropped oldest first; the end of the newest dropped block fills what
    room is left. A note says how many blocks and characters were left out.
    """
    budget = limit - count(build("")) - count(_omission_note(len(parts), 10**9)) - 1
    if budget < 0:
        return None
    kept: list[str] = []
    used = 0
    for part in reversed(parts):
        cost = count(part) + 1
        if used + cost > budget:
            break
        kept.append(part)
        used += cost
    kept.reverse()
    cut_chars = 0
    room = budget - used - count(_CUT_MARK) - 1
    if len(kept) < len(parts) and room >= _MIN_TAIL_TOKENS:
        block = parts[len(parts) - len(kept) - 1]
        tail = _tail_that_fits(block, room, count)
        kept.insert(0, _CUT_MARK + tail)
        cut_chars = len(block) - len(tail)
    while True:
        dropped = parts[: len(parts) - len(kept)]
        chars = sum(len(p) for p in dropped) + cut_chars
        note = [_omission_note(len(dropped) + (cut_chars > 0), chars)] if chars else []
        prompt = build("\n\n".join(note + kept))
        if count(prompt) <= limit:
            return _Fitted(prompt, len(dropped) + (cut_chars > 0))
        if not kept:
            return None
        if cut_chars:
            cut_chars = 0  # the partial block goes whole; ``dropped`` now counts it
        kept = kept[1:]


def _tail_that_fits(text: str, budget: int, count: TokenCounter) -> str:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[len(text) - mid :]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[len(text) - lo :]


# ---------------------------------------------------------------------------------------------
# Model calls


@record
class _Call:
    messages: tuple[AgentMessage, ...]
    build: Callable[[str], str]
    max_tokens: int


@record
class _Outcome:
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    omitted_blocks: int = 0
    error: str | None = None
    aborted: bool = False


async def _complete(
    provider: Provider, model: Model, call: _Call, options: StreamOptions, count: TokenCounter
) -> _Outcome:
    parts = _serialize_parts(repair_history(convert_to_llm(call.messages)))
    limit = (
        model.context_window
        - call.max_tokens
        - _margin(model.context_window)
        - count(SUMMARIZATION_SYSTEM_PROMPT)
    )
    fitted = _fit(parts, call.build, limit, count)
    if fitted is None:
        return _Outcome(error="the summary request cannot fit in the model's context window")
    context = LlmContext(
        SUMMARIZATION_SYSTEM_PROMPT, (UserMessage((TextContent(fitted.prompt),), now_ms()),), ()
    )
    final: AssistantMessage | None = None
    stream = provider.stream(model, context, _with_max_tokens(options, call.max_tokens))
    try:
        async for event in stream:
            if isinstance(event, StreamDone):
                final = event.message
            elif isinstance(event, StreamError):
                if event.error.kind == "aborted" or event.message.stop_reason == "aborted":
                    return _Outcome(aborted=True)
                return _Outcome(error=f"Summarization failed: {event.error.message}")
    except OpiError as exc:
        return _Outcome(error=f"Summarization failed: {exc.message}")
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    if final is None:
        return _Outcome(error="Summarization failed: the stream ended without a result")
    text = "\n".join(c.text for c in final.content if isinstance(c, TextContent)).strip()
    if not text:
        return _Outcome(error="Summarization returned no text")
    return _Outcome(text, final.usage, fitted.omitted_blocks)


def _with_max_tokens(options: StreamOptions, max_tokens: int) -> StreamOptions:
    return StreamOptions(
        api_key=options.api_key,
        signal=options.signal,
        thinking_level=options.thinking_level,
        max_tokens=max_tokens,
        timeouts=options.timeouts,
    )


async def _run_calls(
    provider: Provider, model: Model, calls: list[_Call], options: StreamOptions, count: TokenCounter
) -> list[_Outcome]:
    """Run the calls concurrently; an abort of ``options.signal`` cancels them at once."""

    async def run_all() -> list[_Outcome]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_complete(provider, model, c, options, count)) for c in calls]
        return [t.result() for t in tasks]

    outcomes = (await _unless_aborted(run_all(), options.signal)).result()
    if any(o.aborted for o in outcomes):
        raise CompactionAborted()
    return outcomes


_T = TypeVar("_T")


async def _unless_aborted(work: Coroutine[object, object, _T], signal: AbortSignal | None) -> asyncio.Future[_T]:
    """Run ``work`` until it ends or ``signal`` fires (then it is cancelled and waited for);
    returns its finished task.

    Raises:
        CompactionAborted: the signal fired first.
    """
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(signal.wait()) if signal is not None else None
    try:
        await asyncio.wait({task} if waiter is None else {task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, waiter):
            if t is not None and not t.done():
                t.cancel()
                await asyncio.wait({t})
    if (signal is not None and signal.aborted) or task.cancelled():
        raise CompactionAborted()
    return task


async def summarize(
    provider: Provider,
    model: Model,
    prep: CompactionPreparation,
    settings: CompactionSettings | None = None,
    *,
    api_key: str | None = None,
    signal: AbortSignal | None = None,
    focus: str | None = None,
    thinking_level: ThinkingLevel = "off",
    count_tokens: TokenCounter | None = None,
    timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
) -> CompactionResult:
    """Write the summary for ``prep`` with ``model`` (no tools are sent).

    Args:
        settings: budgets come from ``reserve_tokens`` (default: ``prep.settings``).
        focus: ``/compact <focus>``: appended as ``Additional focus: ...``.
        thinking_level: the session's level (sent only to reasoning models by the provider).
        timeouts: the HTTP time limits of each summary request.
        count_tokens: counts a request's tokens when fitting it in the window; the default
            over-estimates (one token per three UTF-8 bytes). Pass ``opi_cli.ai.tokens``'
            ``count_tokens`` bound to the model for exact figures.

    Returns:
        The result; a fallback summary (``details.fallback``) when a call failed.

    Raises:
        CompactionAborted: ``signal`` fired before the summary was done.
    """
    settings = settings or prep.settings
    count = count_tokens or _conservative_tokens
    history_budget, prefix_budget = summary_budgets(model, settings)
    previous = _strip_file_tags(prep.previous_summary) if prep.previous_summary else None
    calls: list[_Call] = []
    if prep.messages_to_summarize:
        calls.append(
            _Call(prep.messages_to_summarize, lambda t: history_prompt(t, previous, focus), history_budget)
        )
    if prep.is_split_turn and prep.turn_prefix_messages:
        calls.append(_Call(prep.turn_prefix_messages, lambda t: turn_prefix_prompt(t, focus), prefix_budget))
    options = StreamOptions(api_key=api_key, signal=signal, thinking_level=thinking_level, timeouts=timeouts)
    if signal is not None and signal.aborted:
        raise CompactionAborted()
    outcomes = await _run_calls(provider, model, calls, options, count)
    failed = next((o.error for o in outcomes if o.error is not None), None)
    if failed is not None:
        return fallback_result(prep, failed)
    texts = [o.text for o in outcomes]
    if not prep.messages_to_summarize:
        texts.insert(0, previous or NO_PRIOR_HISTORY)
    body = texts[0] if len(texts) == 1 else texts[0] + SPLIT_TURN_SEPARATOR + texts[1]
    details = _details(prep)
    omitted = sum(o.omitted_blocks for o in outcomes)
    if omitted:
        details["omittedBlocks"] = omitted
    usage = Usage()
    for o in outcomes:
        usage = usage.plus(o.usage)
    summary = body + format_file_operations(prep.read_files, prep.modified_files)
    return CompactionResult(summary, prep.first_kept_entry_id, prep.tokens_before, details, usage)


@record
class SummaryRequest:
    """What a custom summariser (the seed's compaction hook) is asked to summarise.

    Attributes:
        messages: the history to summarise, oldest first.
        turn_prefix: when the cut splits a turn, that turn's beginning (summarised too).
        previous_summary: the summary of an earlier compaction, to fold in.
        focus: ``/compact <focus>`` or ``agent.compact(focus)``.
        reason: ``manual``, ``threshold`` or ``overflow``.
        tokens_before: the context size before compacting.
        read_files / modified_files: files the summarised history touched (opi appends
            them to the summary itself).
        signal: fires when the compaction is cancelled.
    """

    messages: tuple[AgentMessage, ...]
    turn_prefix: tuple[AgentMessage, ...]
    previous_summary: str | None
    focus: str | None
    reason: str
    tokens_before: int
    read_files: tuple[str, ...]
    modified_files: tuple[str, ...]
    signal: AbortSignal | None = None


Summarizer = Callable[[SummaryRequest], Awaitable[str]]
"""A custom summariser: returns the summary text (the file lists are appended by opi)."""


async def summarize_with(
    summarizer: Summarizer,
    prep: CompactionPreparation,
    *,
    reason: str,
    focus: str | None = None,
    signal: AbortSignal | None = None,
) -> CompactionResult:
    """The summary written by ``summarizer``; the fallback summary when it raises or returns no text.

    Raises:
        CompactionAborted: ``signal`` fired before the summariser was done.
    """
    if signal is not None and signal.aborted:
        raise CompactionAborted()
    request = SummaryRequest(
        tuple(prep.messages_to_summarize),
        tuple(prep.turn_prefix_messages),
        _strip_file_tags(prep.previous_summary) if prep.previous_summary else None,
        focus,
        reason,
        prep.tokens_before,
        tuple(prep.read_files),
        tuple(prep.modified_files),
        signal,
    )
    async def call() -> str:
        return await summarizer(request)

    done = await _unless_aborted(call(), signal)
    try:
        text = done.result()
    except Exception as exc:  # a user's summariser failed: the fallback keeps the user going
        return fallback_result(prep, f"the summarizer failed: {type(exc).__name__}: {exc}")
    if not isinstance(text, str) or not text.strip():
        return fallback_result(prep, "the summarizer returned no text")
    details = _details(prep)
    details["summarizer"] = "custom"
    summary = text.strip() + format_file_operations(prep.read_files, prep.modified_files)
    return CompactionResult(summary, prep.first_kept_entry_id, prep.tokens_before, details)


def _details(prep: CompactionPreparation) -> dict[str, JsonValue]:
    return {"readFiles": list(prep.read_files), "modifiedFiles": list(prep.modified_files)}


# ---------------------------------------------------------------------------------------------
# Fallback


def _clip(text: str, limit: int = _FALLBACK_TEXT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit]}\n[... {len(text) - limit} more characters]"


def _open_tool_errors(messages: Sequence[AgentMessage]) -> list[str]:
    """Error results not followed by a success of the same tool on the same target."""
    calls = {c.id: c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls}
    open_errors: dict[str, str] = {}
    for m in messages:
        if not isinstance(m, ToolResultMessage):
            continue
        call = calls.get(m.tool_call_id)
        args = call.arguments if call is not None else {}
        target = args.get("path", args)
        key = f"{m.tool_name}:{_json(target)}"
        if m.is_error:
            first = text_of(m.content).strip().splitlines()
            open_errors[key] = (
                f"- {m.tool_name}({_clip(_json(target), 200)}): {_clip(first[0] if first else '', 300)}"
            )
        else:
            open_errors.pop(key, None)
    return list(open_errors.values())


def fallback_summary(prep: CompactionPreparation, reason: str) -> str:
    """A summary built without a model: the goal, the last answer, open tool errors, the old summary.

    The file lists are not included; :func:`fallback_result` appends them as usual.
    """
    messages = prep.messages_to_summarize + prep.turn_prefix_messages
    goal = next(
        (text_of(m.content) for m in messages if isinstance(m, UserMessage) and text_of(m.content)), ""
    )
    last = next(
        (m.text for m in reversed(messages) if isinstance(m, AssistantMessage) and m.text.strip()), ""
    )
    errors = _open_tool_errors(messages)
    sections = [
        "## Goal\n"
        + (_clip(goal) if goal else "(see the previous summary)" if prep.previous_summary else "(unknown)"),
        "## Progress\n"
        f"- This summary was built without a model ({reason}); it lists facts, not an analysis.\n"
        f"- {len(messages)} earlier messages were summarised; the files they touched are listed below.",
        "## Last Assistant Message\n" + (_clip(last) if last else "(none)"),
        "## Open Tool Errors\n" + ("\n".join(errors) if errors else "(none)"),
    ]
    if prep.previous_summary:
        sections.append("## Previous Summary\n" + _strip_file_tags(prep.previous_summary))
    return "\n\n".join(sections)


def fallback_result(prep: CompactionPreparation, reason: str) -> CompactionResult:
    """A :class:`CompactionResult` with the fallback summary, marked ``fallback`` with its reason."""
    details = _details(prep)
    details["fallback"] = True
    details["fallbackReason"] = reason
    summary = fallback_summary(prep, reason) + format_file_operations(prep.read_files, prep.modified_files)
    return CompactionResult(summary, prep.first_kept_entry_id, prep.tokens_before, details)
