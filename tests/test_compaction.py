"""Compaction: token accounting, cut points, preparation, summaries, fallback, the lock and the preview."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from opi_cli._util.abort import AbortController
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.messages import AgentMessage, BashExecutionMessage, CompactionSummaryMessage, CustomMessage
from opi_cli.ai.events import AssistantStreamEvent, ProviderError
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, StreamOptions
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, faux_model
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    Message,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from opi_cli.session.compaction import (
    CompactionLock,
    CompactionPreparation,
    CompactionRequest,
    CompactionSettings,
    NothingToCompact,
    compact,
    context_tokens,
    entry_message,
    estimate_message_tokens,
    find_cut_point,
    prepare_compaction,
    preview,
    serialize_conversation,
    should_compact,
    summarize,
    summary_budgets,
)
from opi_cli.session.compaction_prompts import (
    SUMMARIZATION_SYSTEM_PROMPT,
    TURN_PREFIX_SUMMARIZATION_PROMPT,
    UPDATE_SUMMARIZATION_PROMPT,
)
from opi_cli.session.context import build_context
from opi_cli.session.entries import (
    CompactionEntry,
    Entry,
    LabelEntry,
    MessageEntry,
    ModelChangeEntry,
    ThinkingLevelChangeEntry,
)

_T0 = datetime(2025, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Building sessions


class Path:
    """A linear session path built entry by entry, with timestamps one second apart."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def _next(self) -> tuple[str, str | None, str, int]:
        n = len(self.entries)
        when = _T0 + timedelta(seconds=n)
        parent = self.entries[-1].id if self.entries else None
        iso = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return f"e{n:07d}", parent, iso, int(when.timestamp() * 1000)

    @property
    def now_ms(self) -> int:
        return self._next()[3]

    def msg(self, message: AgentMessage) -> MessageEntry:
        eid, parent, iso, _ = self._next()
        entry = MessageEntry(eid, parent, iso, message)
        self.entries.append(entry)
        return entry

    def user(self, text: str) -> MessageEntry:
        return self.msg(UserMessage((TextContent(text),), self.now_ms))

    def assistant(
        self,
        text: str = "",
        *,
        calls: tuple[ToolCall, ...] = (),
        usage: Usage | None = None,
        stop: StopReason = "stop",
    ) -> MessageEntry:
        content: tuple[TextContent | ToolCall, ...] = ((TextContent(text),) if text else ()) + calls
        return self.msg(AssistantMessage(content, "faux", "faux", "m", usage or Usage(), stop, self.now_ms))

    def tool(self, call: ToolCall, text: str, *, error: bool = False) -> MessageEntry:
        return self.msg(ToolResultMessage(call.id, call.name, (TextContent(text),), error, self.now_ms))

    def call(self, name: str, **args: JsonValue) -> tuple[MessageEntry, ToolCall]:
        c = ToolCall(f"call_{len(self.entries)}", name, dict(args))
        return self.assistant(calls=(c,)), c

    def model_change(self) -> None:
        eid, parent, iso, _ = self._next()
        self.entries.append(ModelChangeEntry(eid, parent, iso, "faux", "m"))

    def compaction(
        self, first_kept_id: str, summary: str = "S1", details: JsonValue = None
    ) -> CompactionEntry:
        eid, parent, iso, _ = self._next()
        entry = CompactionEntry(eid, parent, iso, summary, first_kept_id, 1000, details)
        self.entries.append(entry)
        return entry


def index_of(entries: list[Entry], eid: str) -> int:
    return next(i for i, e in enumerate(entries) if e.id == eid)


@dataclass
class RecordingProvider:
    """A FauxProvider that also records the options of every request."""

    inner: FauxProvider = field(default_factory=FauxProvider)
    options: list[StreamOptions] = field(default_factory=list)

    @property
    def requests(self) -> list[LlmContext]:
        return self.inner.requests

    async def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        self.options.append(options)
        async for event in self.inner.stream(model, context, options):
            yield event


def prompt_of(ctx: LlmContext) -> str:
    (message,) = ctx.messages
    assert isinstance(message, UserMessage)
    (block,) = message.content
    assert isinstance(block, TextContent)
    return block.text


def answer_by_kind(ctx: LlmContext) -> FauxResponse:
    is_prefix = TURN_PREFIX_SUMMARIZATION_PROMPT.splitlines()[0] in prompt_of(ctx)
    return FauxResponse(text="PREFIX-SUMMARY" if is_prefix else "HISTORY-SUMMARY")


# ---------------------------------------------------------------------------------------------
# Token accounting


def test_estimates_follow_pis_rules() -> None:
    assert estimate_message_tokens(UserMessage((TextContent("abcde"),), 0)) == 2
    with_image = UserMessage((TextContent("abcd"), ImageContent("xx", "image/png")), 0)
    assert estimate_message_tokens(with_image) == 1 + 1200
    result = ToolResultMessage("c", "read", (ImageContent("xx", "image/png"),), False, 0)
    assert estimate_message_tokens(result) == 1200
    call = ToolCall("c1", "read", {"path": "a.py"})
    assistant = AssistantMessage(
        (ThinkingContent("hmm"), TextContent("ok"), call), "a", "p", "m", Usage(), "toolUse", 0
    )
    assert estimate_message_tokens(assistant) == math.ceil((3 + 2 + 4 + len('{"path":"a.py"}')) / 4)
    bash = BashExecutionMessage("ls", "a\nb", 0, False, False, 0)
    assert estimate_message_tokens(bash) == math.ceil(5 / 4)
    assert estimate_message_tokens(CompactionSummaryMessage("x" * 40, 5, 0)) == 10
    assert estimate_message_tokens(CustomMessage("k", (TextContent("y" * 9),), True, 0)) == 3


def _assistant(usage: Usage, stop: StopReason = "stop", ts: int = 10) -> AssistantMessage:
    return AssistantMessage((TextContent("x" * 8),), "a", "p", "m", usage, stop, ts)


def test_context_tokens_uses_last_usage_plus_estimated_tail() -> None:
    messages: list[AgentMessage] = [
        UserMessage((TextContent("q"),), 1),
        _assistant(Usage(100, 20, 0, 0, 120)),
        UserMessage((TextContent("x" * 40),), 11),
    ]
    usage = context_tokens(messages)
    assert (usage.tokens, usage.from_usage, usage.estimated_tail, usage.last_usage_index) == (130, 120, 10, 1)


def test_context_tokens_never_double_counts_cache() -> None:
    with_total = Usage(input=100, output=10, cache_read=900, cache_write=50, total_tokens=1060)
    assert context_tokens([_assistant(with_total)]).tokens == 1060
    without_total = Usage(input=100, output=10, cache_read=900, cache_write=50, total_tokens=0)
    assert context_tokens([_assistant(without_total)]).tokens == 1060


def test_context_tokens_skips_error_aborted_zero_and_stale_usage() -> None:
    good = _assistant(Usage(500, 0, 0, 0, 500), ts=5)
    failed = _assistant(Usage(9999, 0, 0, 0, 9999), "error", ts=6)
    aborted = _assistant(Usage(9999, 0, 0, 0, 9999), "aborted", ts=7)
    silent = _assistant(Usage(), ts=8)
    usage = context_tokens([good, failed, aborted, silent])
    assert usage.from_usage == 500 and usage.last_usage_index == 0
    assert usage.estimated_tail == 3 * 2
    # A kept message's usage measured the context before the compaction: estimate instead.
    summary = CompactionSummaryMessage("s" * 40, 9999, 100)
    kept = _assistant(Usage(90000, 0, 0, 0, 90000), ts=50)
    stale = context_tokens([summary, kept])
    assert stale.from_usage == 0 and stale.tokens == 10 + 2
    fresh = _assistant(Usage(3000, 0, 0, 0, 3000), ts=150)
    assert context_tokens([summary, kept, fresh]).tokens == 3000


def test_should_compact_threshold() -> None:
    s = CompactionSettings(reserve_tokens=1000)
    assert not should_compact(9000, 10000, s)
    assert should_compact(9001, 10000, s)
    assert not should_compact(9001, 10000, CompactionSettings(enabled=False, reserve_tokens=1000))
    assert should_compact(111_617, 128_000, CompactionSettings())
    assert not should_compact(111_616, 128_000, CompactionSettings())


# ---------------------------------------------------------------------------------------------
# Cut point


def pi_example() -> Path:
    p = Path()
    p.user("q1")
    p.assistant("a" * 72)
    p.user("q2")
    p.assistant("b" * 68)
    return p


def test_pis_documented_example_splits_the_first_turn() -> None:
    p = pi_example()
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=30))
    assert (cut.first_kept_index, cut.turn_start_index, cut.is_split_turn) == (1, 0, True)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=30))
    assert isinstance(prep, CompactionPreparation)
    assert prep.first_kept_entry_id == p.entries[1].id
    assert prep.messages_to_summarize == ()
    assert [m.role for m in prep.turn_prefix_messages] == ["user"]
    assert len(prep.kept_messages) == 3


async def test_pis_documented_example_summary_shape() -> None:
    p = pi_example()
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=30, reserve_tokens=1000))
    assert isinstance(prep, CompactionPreparation)
    provider = RecordingProvider(FauxProvider([FauxResponse(text="<prefix summary>")]))
    result = await summarize(provider, faux_model(), prep)
    assert result.summary == "No prior history.\n\n---\n\n**Turn Context (split turn):**\n\n<prefix summary>"
    assert result.first_kept_entry_id == p.entries[1].id
    assert len(provider.requests) == 1
    assert provider.options[0].max_tokens == 500  # floor(0.5 * 1000), as pi's probe shows


def test_budget_never_reached_keeps_everything() -> None:
    p = pi_example()
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=10_000))
    assert (cut.first_kept_index, cut.is_split_turn) == (0, False)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=10_000))
    assert prep == NothingToCompact("Nothing to compact (session too small)")


def test_cut_at_user_message_is_not_split() -> None:
    p = Path()
    for i in range(4):
        p.user(f"question {i} " + "q" * 200)
        p.assistant("answer " + "a" * 200)
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=100))
    assert cut.first_kept_index == 6 and not cut.is_split_turn and cut.turn_start_index is None


def test_cut_moves_over_settings_entries_without_becoming_a_split_turn() -> None:
    p = Path()
    p.user("u" * 400)
    p.assistant("a" * 400)
    p.model_change()
    eid, parent, iso, _ = p._next()
    p.entries.append(ThinkingLevelChangeEntry(eid, parent, iso, "high"))
    p.user("v" * 400)
    p.assistant("b" * 400)
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=150))
    assert cut.first_kept_index == 2  # the model change, just before the user message
    assert not cut.is_split_turn
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=150))
    assert isinstance(prep, CompactionPreparation)
    assert [m.role for m in prep.messages_to_summarize] == ["user", "assistant"]
    assert prep.turn_prefix_messages == ()


def test_huge_last_tool_result_cuts_at_its_call() -> None:
    p = Path()
    p.user("please read")
    p.assistant("sure")
    p.user("now the big one")
    call_entry, call = p.call("read", path="big.log")
    p.tool(call, "x" * 400_000)
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=20_000))
    assert cut.first_kept_index == index_of(p.entries, call_entry.id)
    assert cut.is_split_turn and cut.turn_start_index == 2
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=20_000))
    assert isinstance(prep, CompactionPreparation)
    assert [m.role for m in prep.kept_messages] == ["assistant", "toolResult"]


def random_session(rng: random.Random) -> Path:
    p = Path()
    for turn in range(rng.randint(1, 8)):
        if rng.random() < 0.2:
            p.model_change()
        if rng.random() < 0.1:
            p.msg(BashExecutionMessage("ls", "o" * rng.randint(0, 3000), 0, False, False, p.now_ms))
        p.user(f"turn {turn} " + "u" * rng.randint(0, 2000))
        for _ in range(rng.randint(0, 4)):
            calls = tuple(
                ToolCall(f"c{len(p.entries)}_{k}", rng.choice(["read", "bash", "edit"]), {"path": f"f{k}.py"})
                for k in range(rng.randint(1, 3))
            )
            p.assistant("t" * rng.randint(0, 500), calls=calls, stop="toolUse")
            for c in calls:
                if rng.random() < 0.15:
                    p.msg(ToolResultMessage(c.id, c.name, (ImageContent("i", "image/png"),), False, p.now_ms))
                else:
                    p.tool(c, "r" * rng.choice([10, 1000, 30_000]), error=rng.random() < 0.1)
        p.assistant("done " + "d" * rng.randint(0, 1500))
    return p


@pytest.mark.parametrize("seed", range(60))
def test_generated_sessions_never_separate_a_call_from_its_result(seed: int) -> None:
    rng = random.Random(seed)
    p = random_session(rng)
    keep = rng.choice([1, 50, 500, 2000, 8000, 20000])
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=keep))
    first = p.entries[cut.first_kept_index]
    assert not (isinstance(first, MessageEntry) and first.message.role == "toolResult")
    call_index: dict[str, int] = {}
    for i, e in enumerate(p.entries):
        if isinstance(e, MessageEntry) and isinstance(e.message, AssistantMessage):
            for c in e.message.tool_calls:
                call_index[c.id] = i
        if (
            isinstance(e, MessageEntry)
            and isinstance(e.message, ToolResultMessage)
            and i >= cut.first_kept_index
        ):
            assert call_index[e.message.tool_call_id] >= cut.first_kept_index

    # The cut is the first valid cut point at or after the entry where the budget was reached.
    def is_cut_point(e: Entry) -> bool:
        return isinstance(e, MessageEntry) and e.message.role != "toolResult"

    def tokens_from(k: int) -> int:
        return sum(estimate_message_tokens(e.message) for e in p.entries[k:] if isinstance(e, MessageEntry))

    anchor = next(i for i in range(cut.first_kept_index, len(p.entries)) if is_cut_point(p.entries[i]))
    if tokens_from(anchor + 1) >= keep:  # only when nothing after it could be a cut point
        assert not any(is_cut_point(e) for e in p.entries[anchor + 1 :])
    earlier = [i for i in range(anchor) if is_cut_point(p.entries[i])]
    if earlier:
        assert tokens_from(earlier[-1]) >= keep
    if cut.is_split_turn:
        assert cut.turn_start_index is not None and cut.turn_start_index < cut.first_kept_index
    # Summarised + prefix + kept == the whole context: nothing is lost.
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=keep))
    if isinstance(prep, CompactionPreparation):
        everything = build_context(p.entries).messages
        assert prep.messages_to_summarize + prep.turn_prefix_messages + prep.kept_messages == everything


def test_images_count_toward_the_keep_budget() -> None:
    p = Path()
    p.user("look at these")
    for _ in range(3):
        _, call = p.call("read", path="pic.png")
        p.msg(ToolResultMessage(call.id, "read", (ImageContent("d", "image/png"),), False, p.now_ms))
    p.assistant("nice")
    cut = find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=2000))
    # 1 + 1200 (last image) + 6 (its call) + 1200 (second image) crosses 2000 at the second
    # image (index 4); the first cut point at or after it is the last image's call.
    assert cut.first_kept_index == 5 and cut.is_split_turn and cut.turn_start_index == 0
    # Without image accounting (4 chars each) nothing would be cut.
    assert find_cut_point(p.entries, CompactionSettings(keep_recent_tokens=3000)).first_kept_index == 3


# ---------------------------------------------------------------------------------------------
# Earlier compactions


def compacted_session() -> tuple[Path, str]:
    p = Path()
    for i in range(6):
        p.user(f"old question {i} " + "q" * 300)
        p.assistant(f"old answer {i} " + "a" * 300)
    settings = CompactionSettings(keep_recent_tokens=300)
    prep = prepare_compaction(p.entries, settings)
    assert isinstance(prep, CompactionPreparation)
    p.compaction(
        prep.first_kept_entry_id, "FIRST SUMMARY", {"readFiles": ["old.py"], "modifiedFiles": ["m.py"]}
    )
    return p, prep.first_kept_entry_id


def test_recompaction_starts_at_previous_first_kept_entry() -> None:
    p, first_kept = compacted_session()
    for i in range(3):
        p.user(f"new question {i} " + "n" * 300)
        _, call = p.call("edit", path="new.py")
        p.tool(call, "edited")
        p.assistant(f"new answer {i} " + "b" * 300)
    before = build_context(p.entries).messages[1:]  # without the first summary
    settings = CompactionSettings(keep_recent_tokens=300)
    cut = find_cut_point(p.entries, settings)
    assert cut.region_start == index_of(p.entries, first_kept)
    prep = prepare_compaction(p.entries, settings)
    assert isinstance(prep, CompactionPreparation)
    assert prep.previous_summary == "FIRST SUMMARY"
    summarised = prep.messages_to_summarize + prep.turn_prefix_messages
    assert summarised[0] == entry_message(p.entries[index_of(p.entries, first_kept)])  # kept by the first one
    assert summarised + prep.kept_messages == before  # nothing kept earlier is lost
    assert prep.read_files == ("old.py",)
    assert prep.modified_files == ("m.py", "new.py")
    # After storing the second compaction the context is its summary plus the kept messages.
    p.compaction(prep.first_kept_entry_id, "SECOND SUMMARY")
    after = build_context(p.entries).messages
    assert isinstance(after[0], CompactionSummaryMessage) and after[0].summary == "SECOND SUMMARY"
    assert after[1:] == prep.kept_messages


def test_recompaction_may_cut_before_the_previous_compaction() -> None:
    p, _ = compacted_session()
    p.user("tiny")
    p.assistant("ok")
    settings = CompactionSettings(keep_recent_tokens=100)
    prep = prepare_compaction(p.entries, settings)
    assert isinstance(prep, CompactionPreparation)
    assert prep.first_kept_index < index_of(p.entries, p.entries[-3].id)  # before the old compaction
    p.compaction(prep.first_kept_entry_id, "SECOND")
    assert build_context(p.entries).messages[1:] == prep.kept_messages


def test_nothing_to_compact_reasons() -> None:
    assert prepare_compaction([], CompactionSettings()) == NothingToCompact(
        "Nothing to compact (no messages yet)"
    )
    p, _ = compacted_session()
    assert prepare_compaction(p.entries, CompactionSettings()) == NothingToCompact("Already compacted")
    small = Path()
    small.user("hi")
    small.assistant("hello")
    reason = prepare_compaction(small.entries, CompactionSettings())
    assert reason == NothingToCompact("Nothing to compact (session too small)")


def test_file_lists_from_tool_calls() -> None:
    p = Path()
    p.user("work")
    for name, path in [
        ("read", "a.py"),
        ("read", "b.py"),
        ("write", "b.py"),
        ("edit", "c.py"),
        ("bash", "x"),
    ]:
        _, call = p.call(name, path=path)
        p.tool(call, "ok")
    eid, parent, iso, _ = p._next()
    p.entries.append(LabelEntry(eid, parent, iso, p.entries[0].id, "start"))
    p.user("more " + "m" * 2000)
    p.assistant("z" * 2000)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=900))
    assert isinstance(prep, CompactionPreparation)
    assert prep.read_files == ("a.py",)
    assert prep.modified_files == ("b.py", "c.py")


# ---------------------------------------------------------------------------------------------
# Summaries


def history_session() -> Path:
    p = Path()
    p.user("Fix the failing test in src/app.py")
    _, call = p.call("read", path="src/app.py")
    p.tool(call, "def f():\n    return 1\n" + "x" * 5000)
    _, call = p.call("bash", command="pytest")
    p.tool(call, "FAILED test_f - AssertionError", error=True)
    p.assistant("I found the problem in f().")
    p.user("great, continue " + "c" * 2000)
    p.assistant("done " + "d" * 2000)
    return p


async def test_summary_request_shape_and_result() -> None:
    p = history_session()
    settings = CompactionSettings(keep_recent_tokens=900, reserve_tokens=10_000)
    prep = prepare_compaction(p.entries, settings)
    assert isinstance(prep, CompactionPreparation) and not prep.is_split_turn
    provider = RecordingProvider(FauxProvider([FauxResponse(text="## Goal\nFix it")]))
    ctrl = AbortController()
    result = await summarize(
        provider, faux_model(), prep, settings, api_key="k", signal=ctrl.signal, thinking_level="high"
    )
    (ctx,) = provider.requests
    assert ctx.tools == () and ctx.system_prompt == SUMMARIZATION_SYSTEM_PROMPT
    text = prompt_of(ctx)
    assert text.startswith(
        "<conversation>\n[User]: Fix the failing test in src/app.py\n\n[Assistant tool calls]: "
    )
    assert '[Assistant tool calls]: read(path="src/app.py")' in text
    assert "\n\n[... 3022 more characters truncated]" in text  # 22 + 5000 characters, 2000 kept
    assert "<previous-summary>" not in text and "## Goal" in text and "Additional focus" not in text
    (opts,) = provider.options
    assert (opts.max_tokens, opts.api_key, opts.thinking_level, opts.signal) == (
        8000,
        "k",
        "high",
        ctrl.signal,
    )
    assert result.summary == "## Goal\nFix it\n\n<read-files>\nsrc/app.py\n</read-files>"
    assert result.details == {"readFiles": ["src/app.py"], "modifiedFiles": []}
    assert (
        result.first_kept_entry_id == prep.first_kept_entry_id and result.tokens_before == prep.tokens_before
    )
    assert result.to_json()["firstKeptEntryId"] == prep.first_kept_entry_id


async def test_update_prompt_and_focus_when_a_previous_summary_exists() -> None:
    p, _ = compacted_session()
    for i in range(4):
        p.user(f"new {i} " + "n" * 400)
        p.assistant("b" * 400)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=200))
    assert isinstance(prep, CompactionPreparation) and not prep.is_split_turn
    provider = RecordingProvider(FauxProvider([FauxResponse(text="UPDATED")]))
    result = await summarize(provider, faux_model(), prep, focus="the database layer")
    text = prompt_of(provider.requests[0])
    assert "<previous-summary>\nFIRST SUMMARY\n</previous-summary>\n\n" + UPDATE_SUMMARIZATION_PROMPT in text
    assert text.endswith("\n\nAdditional focus: the database layer")
    assert provider.options[0].max_tokens == 13107
    assert result.summary.startswith(
        "UPDATED\n\n<read-files>\nold.py\n</read-files>\n\n<modified-files>\nm.py\n"
    )


async def test_split_turn_runs_both_calls_concurrently() -> None:
    p = Path()
    p.user("first task " + "f" * 2000)
    p.assistant("first done " + "g" * 2000)
    p.user("second task")
    for _ in range(6):
        _, call = p.call("read", path="x.py")
        p.tool(call, "y" * 1000)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=700, reserve_tokens=2000))
    assert isinstance(prep, CompactionPreparation) and prep.is_split_turn
    both_started = asyncio.Event()
    arrived: list[str] = []

    @dataclass
    class Gate:
        async def stream(
            self, model: Model, context: LlmContext, options: StreamOptions
        ) -> AsyncIterator[AssistantStreamEvent]:
            arrived.append(prompt_of(context))
            if len(arrived) == 2:
                both_started.set()
            await both_started.wait()  # only returns if both requests are in flight at once
            inner = FauxProvider([answer_by_kind])
            async for event in inner.stream(model, context, options):
                yield event

    result = await asyncio.wait_for(summarize(Gate(), faux_model(), prep), 5)
    assert result.summary.startswith(
        "HISTORY-SUMMARY\n\n---\n\n**Turn Context (split turn):**\n\nPREFIX-SUMMARY"
    )
    assert any(TURN_PREFIX_SUMMARIZATION_PROMPT in a for a in arrived)


async def test_oversized_transcript_is_trimmed_to_fit_a_tiny_window() -> None:
    p = Path()
    for i in range(40):
        p.user(f"request number {i} " + "r" * 600)
        p.assistant(f"reply number {i} " + "s" * 600)
    settings = CompactionSettings(keep_recent_tokens=200, reserve_tokens=1000)
    prep = prepare_compaction(p.entries, settings)
    assert isinstance(prep, CompactionPreparation)
    model = faux_model(context_window=3000)
    provider = RecordingProvider(FauxProvider([FauxResponse(text="SMALL")]))
    result = await summarize(provider, model, prep)
    (ctx,) = provider.requests
    text = prompt_of(ctx)
    request_bytes = len(text.encode()) + len(ctx.system_prompt.encode())
    assert math.ceil(request_bytes / 3) + 800 <= model.context_window  # an over-estimate still fits
    assert "earlier transcript blocks" in text and "omitted so that this request fits" in text
    last_summarised = prep.messages_to_summarize[-1]
    assert isinstance(last_summarised, AssistantMessage) and last_summarised.text in text
    assert "request number 0 " not in text
    assert isinstance(result.details["omittedBlocks"], int) and result.details["omittedBlocks"] > 0
    assert not result.is_fallback


async def test_a_single_block_too_big_for_the_window_keeps_its_end() -> None:
    p = Path()
    p.user("START " + "w" * 30_000 + " THE END")
    p.assistant("ok")
    p.user("next " + "n" * 2000)
    p.assistant("x" * 2000)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=800, reserve_tokens=1000))
    assert isinstance(prep, CompactionPreparation) and len(prep.messages_to_summarize) == 2
    provider = RecordingProvider(FauxProvider([FauxResponse(text="S")]))
    model = faux_model(context_window=4000)
    await summarize(provider, model, prep)
    text = prompt_of(provider.requests[0])
    assert "<conversation>\n[... 1 earlier transcript block (" in text and "START" not in text
    assert "fits the model's context window]\n\n[...] www" in text
    assert " THE END\n\n[Assistant]: ok\n</conversation>" in text
    assert math.ceil(len((text + SUMMARIZATION_SYSTEM_PROMPT).encode()) / 3) + 800 <= model.context_window


async def test_window_too_small_for_any_request_falls_back() -> None:
    p = history_session()
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=900, reserve_tokens=1000))
    assert isinstance(prep, CompactionPreparation)
    provider = RecordingProvider(FauxProvider([FauxResponse(text="never")]))
    result = await summarize(provider, faux_model(context_window=700), prep)
    assert provider.requests == []
    assert result.is_fallback and "cannot fit" in str(result.details["fallbackReason"])


def test_budgets_are_capped_by_the_model() -> None:
    settings = CompactionSettings()
    assert summary_budgets(faux_model(), settings) == (13107, 8192)
    assert summary_budgets(faux_model(context_window=8192), settings) == (4096, 4096)
    capped = Model("m", "p", "faux", "", context_window=200_000, max_tokens=4000)
    assert summary_budgets(capped, settings) == (4000, 4000)


# ---------------------------------------------------------------------------------------------
# Fallback


async def test_fallback_on_provider_error() -> None:
    p = history_session()
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=900))
    assert isinstance(prep, CompactionPreparation)
    provider = FauxProvider([FauxResponse(error=ProviderError("server", "502 bad gateway"))])
    result = await summarize(provider, faux_model(), prep)
    assert result.details["fallback"] is True
    assert result.details["fallbackReason"] == "Summarization failed: 502 bad gateway"
    s = result.summary
    assert s.startswith("## Goal\nFix the failing test in src/app.py\n\n## Progress\n")
    assert "## Last Assistant Message\nI found the problem in f()." in s
    assert '## Open Tool Errors\n- bash({"command":"pytest"}): FAILED test_f - AssertionError' in s
    assert s.endswith("<read-files>\nsrc/app.py\n</read-files>")


async def test_fallback_on_empty_reply_and_resolved_errors_are_not_open() -> None:
    p = Path()
    p.user("make it pass")
    _, call = p.call("bash", command="pytest")
    p.tool(call, "1 failed", error=True)
    _, call = p.call("bash", command="pytest")
    p.tool(call, "1 passed")
    p.user("next " + "n" * 3000)
    p.assistant("k" * 3000)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=1000))
    assert isinstance(prep, CompactionPreparation)
    result = await summarize(FauxProvider([FauxResponse(text="   ")]), faux_model(), prep)
    assert result.details["fallbackReason"] == "Summarization returned no text"
    assert "## Open Tool Errors\n(none)" in result.summary


async def test_fallback_keeps_the_previous_summary() -> None:
    p, _ = compacted_session()
    for i in range(4):
        p.user(f"new {i} " + "n" * 400)
        p.assistant("b" * 400)
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=300))
    assert isinstance(prep, CompactionPreparation)
    result = await summarize(FauxProvider([]), faux_model(), prep)
    assert result.is_fallback and "## Previous Summary\nFIRST SUMMARY" in result.summary


# ---------------------------------------------------------------------------------------------
# One at a time, and cancellation


def request_for(p: Path, provider: object, **kw: object) -> CompactionRequest:
    return CompactionRequest(
        path=lambda: p.entries,
        provider=provider,  # type: ignore[arg-type]
        model=faux_model(),
        settings=CompactionSettings(keep_recent_tokens=900),
        reason="threshold",
        **kw,  # type: ignore[arg-type]
    )


async def test_two_concurrent_triggers_run_one_compaction() -> None:
    p = history_session()
    provider = RecordingProvider(FauxProvider([FauxResponse(text="ONE", delay_s=0.001)]))
    lock = CompactionLock()
    first, second = await asyncio.gather(
        compact(request_for(p, provider), lock), compact(request_for(p, provider), lock)
    )
    assert first.status == "compacted" and first.result is not None and first.result.summary.startswith("ONE")
    assert second.status == "skipped" and second.message == "skipped: compaction already running (threshold)"
    assert len(provider.requests) == 1
    assert not lock.running


async def test_a_waiting_trigger_runs_after_and_sees_the_new_session() -> None:
    p = history_session()
    provider = RecordingProvider(FauxProvider([FauxResponse(text="ONE", delay_s=0.001)]))
    lock = CompactionLock(wait=True)

    async def first() -> str:
        outcome = await compact(request_for(p, provider), lock)
        assert outcome.result is not None
        p.compaction(outcome.result.first_kept_entry_id, outcome.result.summary)
        return outcome.status

    statuses = await asyncio.gather(first(), compact(request_for(p, provider), lock))
    assert statuses[0] == "compacted"
    assert statuses[1].status == "nothing" and statuses[1].message == "Already compacted"
    assert len(provider.requests) == 1


async def test_abort_ends_with_an_aborted_outcome() -> None:
    p = history_session()
    ctrl = AbortController()
    provider = FauxProvider([FauxResponse(text="slow " * 50, chunk_size=1, delay_s=0.01)])
    task = asyncio.create_task(compact(request_for(p, provider, signal=ctrl.signal), CompactionLock()))
    while not provider.requests:
        await asyncio.sleep(0)
    ctrl.abort()
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.status == "aborted" and outcome.aborted and outcome.message == "Compaction cancelled"
    assert outcome.result is None


async def test_abort_is_prompt_even_when_the_provider_ignores_the_signal() -> None:
    p = history_session()
    ctrl = AbortController()
    started = asyncio.Event()
    closed = asyncio.Event()

    class Hang:
        async def stream(
            self, model: Model, context: LlmContext, options: StreamOptions
        ) -> AsyncIterator[AssistantStreamEvent]:
            started.set()
            try:
                await asyncio.Event().wait()
            finally:
                closed.set()
            yield  # type: ignore[misc]

    task = asyncio.create_task(compact(request_for(p, Hang(), signal=ctrl.signal), CompactionLock()))
    await started.wait()
    ctrl.abort()
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.status == "aborted" and closed.is_set()


async def test_already_aborted_signal_sends_nothing() -> None:
    p = history_session()
    ctrl = AbortController()
    ctrl.abort()
    provider = RecordingProvider(FauxProvider([FauxResponse(text="x")]))
    outcome = await compact(request_for(p, provider, signal=ctrl.signal), CompactionLock())
    assert outcome.status == "aborted" and provider.requests == []


# ---------------------------------------------------------------------------------------------
# Dry run and serialisation


def test_preview_counts_without_changing_anything() -> None:
    p = history_session()
    before = list(p.entries)
    view = preview(p.entries, CompactionSettings(keep_recent_tokens=900))
    assert p.entries == before
    prep = prepare_compaction(p.entries, CompactionSettings(keep_recent_tokens=900))
    assert isinstance(prep, CompactionPreparation)
    assert view.summarize_messages == len(prep.messages_to_summarize) == 6
    assert view.kept_messages == 2
    assert view.kept_tokens == sum(estimate_message_tokens(m) for m in prep.kept_messages)
    assert view.first_kept_entry_id == prep.first_kept_entry_id and view.reason is None
    lines = view.lines()
    assert lines[1].startswith("Would summarise 6 messages") and "Would keep 2 recent messages" in lines[2]
    small = Path()
    small.user("hi")
    small.assistant("hello")
    assert preview(small.entries, CompactionSettings()).lines() == [
        "Nothing to compact (session too small); context ≈ 3 tokens."
    ]


def test_serialize_conversation_blocks() -> None:
    call = ToolCall("c", "edit", {"path": "a.py", "old": "x", "n": 2})
    messages: list[Message] = [
        UserMessage((TextContent("hi"),), 0),
        AssistantMessage(
            (ThinkingContent("think"), TextContent("ok"), call), "a", "p", "m", Usage(), "toolUse", 0
        ),
        ToolResultMessage("c", "edit", (TextContent("z" * 2001),), False, 0),
    ]
    assert serialize_conversation(messages) == (
        "[User]: hi\n\n[Assistant thinking]: think\n\n[Assistant]: ok\n\n"
        '[Assistant tool calls]: edit(path="a.py", old="x", n=2)\n\n'
        "[Tool result]: " + "z" * 2000 + "\n\n[... 1 more characters truncated]"
    )
