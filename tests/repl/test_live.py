"""The streaming view without a terminal: what is committed, when, and exactly once."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from rich.console import Console, RenderableType

from opi_cli.agent.events import (
    AgentEnd,
    AgentStart,
    AutoRetryEnd,
    AutoRetryStart,
    CompactionEnd,
    CompactionStart,
    MessageEnd,
    MessageUpdate,
    ToolExecutionEnd,
    ToolExecutionStart,
    ToolExecutionUpdate,
)
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart
from opi_cli.ai.model import Model
from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, Usage, UserMessage
from opi_cli.cli.commands import close_matches, parse_command
from opi_cli.cli.footer import FooterState, footer_fragments, tilde
from opi_cli.cli.live import MarkdownStream, StreamView
from opi_cli.cli.render import fmt_tokens


class Snap:
    def __init__(self, msg: AssistantMessage | None = None) -> None:
        self.msg = msg

    def message(self) -> AssistantMessage:
        assert self.msg is not None
        return self.msg


def assistant(*content: object, stop: str = "stop", usage: Usage | None = None) -> AssistantMessage:
    return AssistantMessage(tuple(content), "openai-completions", "mock", "m", usage or Usage(), stop, 0)  # type: ignore[arg-type]


def feed_all(stream: MarkdownStream, text: str, step: int) -> list[str]:
    out = []
    for i in range(0, len(text), step):
        out += [p.kind + ":" + p.text for p in stream.feed(text[i : i + step])]
    out += [p.kind + ":" + p.text for p in stream.finish()]
    return out


def test_markdown_stream_commits_at_blank_lines_and_fences_whatever_the_chunking() -> None:
    text = "Intro line\nstill intro\n\n```py\nx = 1\ny = 2\n```\n\nLast words"
    expected = ["md:Intro line\nstill intro", "code:x = 1\ny = 2", "md:Last words"]
    for step in (1, 2, 3, 7, 100):
        assert feed_all(MarkdownStream(), text, step) == expected


def test_markdown_stream_splits_long_fences_so_the_tail_stays_small() -> None:
    code = "\n".join(f"line {i}" for i in range(30))
    pieces = feed_all(MarkdownStream(), f"```\n{code}\n```\n", 5)
    assert len(pieces) == 3
    assert "\n".join(p.removeprefix("code:") for p in pieces) == code


def test_markdown_stream_tail_is_the_unfinished_paragraph() -> None:
    s = MarkdownStream()
    assert [p.text for p in s.feed("Done para.\n\nGrowing par")] == ["Done para."]
    tail = s.tail()
    assert tail is not None and tail.text == "Growing par"


def run_view(events: list[object]) -> tuple[list[RenderableType], StreamView]:
    committed: list[RenderableType] = []
    view = StreamView(committed.append, clock=lambda: 0.0)
    for ev in events:
        view.handle(ev)  # type: ignore[arg-type]
    return committed, view


def text_of(items: list[RenderableType], width: int = 80) -> str:
    out = StringIO()
    console = Console(file=out, width=width, color_system=None)
    for r in items:
        console.print(r)
    return out.getvalue()


def test_view_commits_each_paragraph_once_and_keeps_only_the_tail_live() -> None:
    snap = Snap()
    final = assistant(TextContent("First paragraph.\n\nSecond one."))
    events: list[object] = [AgentStart(), MessageUpdate(ContentStart("text", 0, snap))]
    events += [MessageUpdate(ContentDelta("text", 0, ch, snap)) for ch in "First paragraph.\n\nSecond one."]
    committed, view = run_view(events)
    assert text_of(committed).count("First paragraph.") == 1
    live = view.render_live(80, 10, color=False)
    assert "Second one." in live and "First paragraph." not in live
    view.handle(MessageUpdate(ContentEnd("text", 0, TextContent(""), snap)))
    view.handle(MessageEnd(final))
    view.handle(AgentEnd((final,)))
    shown = text_of(committed)
    assert shown.count("First paragraph.") == 1 and shown.count("Second one.") == 1
    assert view.render_live(80, 10, color=False) == ""


def test_tool_box_appears_while_streaming_updates_and_commits_with_result() -> None:
    call = ToolCall("c1", "bash", {"command": "seq 20"})
    snap = Snap(assistant(call))
    committed, view = run_view([AgentStart(), MessageUpdate(ContentStart("toolcall", 0, snap)),
                                MessageUpdate(ContentDelta("toolcall", 0, '{"command": "seq', snap))])
    assert "$ seq" in view.render_live(80, 20, color=False)
    view.handle(MessageUpdate(ContentEnd("toolcall", 0, call, snap)))
    view.handle(MessageEnd(assistant(call, stop="toolUse")))
    view.handle(ToolExecutionStart("c1", "bash", {"command": "seq 20"}))
    view.handle(ToolExecutionUpdate("c1", "bash", {"command": "seq 20"}, (TextContent("1\n2\n3"),)))
    assert "3" in view.render_live(80, 20, color=False)
    assert committed == []
    out = "\n".join(str(i) for i in range(1, 21))
    view.handle(ToolExecutionEnd("c1", "bash", (TextContent(out),), None, False))
    shown = text_of(committed)
    assert "$ seq 20" in shown and "15 earlier lines, ctrl+o to expand" in shown and "20" in shown
    assert view.expand_last_tool()
    assert " 1 " in text_of(committed[-1:]) or "│ 1" in text_of(committed[-1:])


def test_edit_result_shows_the_coloured_diff() -> None:
    committed, _view = run_view([ToolExecutionStart("e1", "edit", {"path": "a.py"}),
                                ToolExecutionEnd("e1", "edit", (TextContent("ok"),),
                                                 {"diff": " 1 a\n-2 b\n+2 c", "firstChangedLine": 2}, False)])
    out = StringIO()
    Console(file=out, width=60, force_terminal=True, color_system="standard").print(committed[0])
    raw = out.getvalue()
    assert "edit a.py:2" in text_of(committed)
    assert "\x1b[31m-2 b" in raw and "\x1b[32m+2 c" in raw


def test_aborted_and_error_replies_say_so() -> None:
    failed = AssistantMessage((), "a", "p", "m", Usage(), "error", 0, "boom")
    committed, _ = run_view([MessageEnd(assistant(stop="aborted")), MessageEnd(failed)])
    assert "Operation aborted" in text_of(committed) and "boom" not in text_of(committed)  # a retry may follow
    committed, _ = run_view([MessageEnd(assistant(stop="aborted")), MessageEnd(failed), AgentEnd((failed,))])
    shown = text_of(committed)
    assert "Operation aborted" in shown and "Error: boom" in shown


def test_narrow_and_non_utf8_rendering_does_not_fail() -> None:
    committed, _ = run_view([MessageEnd(UserMessage((TextContent("héllo → wörld ✓"),), 0))])
    buf = StringIO()
    Console(file=buf, width=60, color_system=None, legacy_windows=False).print(*committed)
    data = buf.getvalue().encode("ascii", errors="replace")
    assert b"h?llo" in data


def test_footer_colours_context_and_formats_tokens(tmp_path: Path) -> None:
    home = tmp_path
    model = Model("m", "p", "openai-completions", "", context_window=1000, reasoning=True)
    state = FooterState(home / "proj", home, session_name="work")
    state.add_usage(Usage(1234, 56, 0, 0, 1290))
    frags = footer_fragments(state, 910, model, "high", 80)
    text = "".join(t for _, t in frags)
    assert "~/proj • work" in text and "↑1.2k ↓56" in text and "91.0%/1.0k" in text and "m • high" in text
    assert any(style.endswith(".red") for style, _ in frags)
    estimate = "".join(t for _, t in footer_fragments(state, 300, model, "high", 80, estimated=True))
    assert "~30.0%/1.0k" in estimate  # no reply has measured the context yet: opi's estimate
    assert tilde(home / "a", home) == "~/a"
    assert [fmt_tokens(n) for n in (999, 1234, 32000, 1_200_000, 12_000_000)] == ["999", "1.2k", "32k", "1.2M", "12M"]


def test_command_parsing_and_close_matches() -> None:
    assert parse_command("/model gpt") == ("model", "gpt")
    assert parse_command("/etc/hosts is broken") is None
    assert parse_command("hello") is None
    assert close_matches("sesion", ["session", "model", "help"]) == ["session"]
    assert close_matches("mod", ["session", "model", "help"]) == ["model"]


def test_retry_countdown_and_compaction_status_lines() -> None:
    now = [100.0]
    committed: list[RenderableType] = []
    view = StreamView(committed.append, clock=lambda: now[0])
    failed = AssistantMessage((), "a", "p", "m", Usage(), "error", 0, "503 overloaded")
    view.handle(MessageEnd(failed))
    view.handle(AutoRetryStart(1, 3, 2000, "503 overloaded"))
    assert "Retrying (1/3) in 2s... (escape to cancel): 503 overloaded" in view.render_live(80, 5, color=False)
    now[0] += 1.2
    assert "in 1s..." in view.render_live(80, 5, color=False)
    for attempt in (2, 3):
        view.handle(MessageEnd(failed))
        view.handle(AutoRetryStart(attempt, 3, 4000, "503 overloaded"))
        assert view.render_live(80, 5, color=False).count("Retrying") == 1
    view.handle(MessageEnd(failed))
    view.handle(AutoRetryEnd(False, 3, "still overloaded"))
    assert view.render_live(80, 5, color=False) == ""
    assert text_of(committed) == "Retry failed after 4 attempts: still overloaded\n"  # 4 requests ran
    view.handle(CompactionStart("threshold"))
    assert "Auto-compacting... (escape to cancel)" in view.render_live(80, 5, color=False)
    view.handle(CompactionEnd("threshold", {"tokensBefore": 120000}, False, False))
    assert "Compacted context (120k tokens summarised)" in text_of(committed)
    view.handle(CompactionEnd("manual", None, False, False, "Nothing to compact"))
    assert "Nothing to compact" in text_of(committed[-1:])
