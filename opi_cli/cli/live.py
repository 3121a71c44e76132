"""Streaming view: finished blocks are committed once to scrollback, only the growing tail stays live.

:class:`StreamView` consumes agent events. Text and thinking are split at safe markdown
boundaries (a blank line outside a code fence; every few lines inside a long fence) by
:class:`MarkdownStream`; each finished piece goes to the ``commit`` sink exactly once
(the REPL prints it above the prompt). What is still growing (the current paragraph, a
running tool's box, a retry countdown, the spinner) is rendered on demand by
:meth:`StreamView.render_live`, capped in height and input size, so the work per frame is
bounded and the total work stays linear in the reply's length.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import field
from io import StringIO

from rich.console import Console, Group, RenderableType
from rich.text import Text

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.events import (
    AgentEnd,
    AgentEvent,
    AgentStart,
    AutoRetryEnd,
    AutoRetryStart,
    CompactionEnd,
    CompactionStart,
    MessageEnd,
    MessageUpdate,
    PersistenceErrorEvent,
    ToolExecutionEnd,
    ToolExecutionStart,
    ToolExecutionUpdate,
)
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart
from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, UserMessage
from opi_cli.cli import render

__all__ = ["MarkdownStream", "Piece", "StreamView", "render_ansi"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
CODE_CHUNK_LINES = 12
"""Inside a long code fence, commit this many finished lines at a time."""
PARA_MAX_LINES = 40
"""A paragraph (or list) longer than this is committed at a line boundary."""
TAIL_MAX_CHARS = 4000
"""The live tail renders at most this much text: a frame never costs more than that."""
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_BLANK = Text("")


@record
class Piece:
    """A finished part of a block: markdown prose, or a run of lines from a code fence."""

    kind: str  # "md" | "code"
    text: str
    lang: str = ""
    gap: bool = False  # a blank line separated it from the previous piece


class MarkdownStream:
    """Split streamed markdown into pieces that can be rendered once and never change."""

    def __init__(self) -> None:
        self._partial = ""  # the unfinished last line
        self._lines: list[str] = []  # finished lines not yet committed
        self._fence: tuple[str, str] | None = None  # (marker, lang) while inside a fence
        self._gap = False
        self._emitted = False

    def feed(self, delta: str) -> list[Piece]:
        """Take a delta; returns the pieces it completed (often none)."""
        if "\n" not in delta:
            self._partial += delta
            return []
        text = self._partial + delta
        *done, self._partial = text.split("\n")
        out: list[Piece] = []
        for line in done:
            self._line(line, out)
        return out

    def finish(self) -> list[Piece]:
        """The block ended: everything left is final."""
        out: list[Piece] = []
        if self._partial:
            self._line(self._partial, out)
            self._partial = ""
        self._flush(out)
        return out

    def _piece(self, kind: str, text: str, lang: str = "") -> Piece:
        p = Piece(kind, text, lang, self._gap and self._emitted)
        self._gap = False
        self._emitted = True
        return p

    def _flush(self, out: list[Piece]) -> None:
        if not self._lines:
            return
        if self._fence is not None:
            out.append(self._piece("code", "\n".join(self._lines), self._fence[1]))
        elif any(line.strip() for line in self._lines):
            out.append(self._piece("md", "\n".join(self._lines)))
        self._lines = []

    def _line(self, line: str, out: list[Piece]) -> None:
        m = _FENCE.match(line)
        if self._fence is not None:
            marker = self._fence[0]
            if m and m.group(1)[0] == marker[0] and len(m.group(1)) >= len(marker) and not m.group(2):
                self._flush(out)
                self._fence = None
                return
            self._lines.append(line)
            if len(self._lines) >= CODE_CHUNK_LINES:
                self._flush(out)
            return
        if m:
            self._flush(out)
            self._fence = (m.group(1), m.group(2))
            return
        if not line.strip():
            self._flush(out)
            self._gap = True
            return
        self._lines.append(line)
        if len(self._lines) >= PARA_MAX_LINES:
            self._flush(out)

    def tail(self) -> Piece | None:
        """What is still growing, as a piece to render live (bounded in size)."""
        lines = [*self._lines, self._partial] if self._partial else list(self._lines)
        text = "\n".join(lines)
        if len(text) > TAIL_MAX_CHARS:
            text = text[-TAIL_MAX_CHARS:]
        if not text.strip():
            return None
        if self._fence is not None:
            return Piece("code", text, self._fence[1])
        return Piece("md", text)


def _piece_renderable(p: Piece, *, dim: bool) -> RenderableType:
    body = render.code_chunk(p.text, p.lang) if p.kind == "code" else render.markdown_block(p.text, dim=dim)
    return Group(Text(""), body) if p.gap else body


@record(frozen=False)
class _Block:
    kind: str  # "text" | "thinking"
    stream: MarkdownStream = field(default_factory=MarkdownStream)
    started: bool = False


@record(frozen=False)
class _Tool:
    call_id: str
    name: str
    args: dict[str, JsonValue]
    raw_args: str = ""
    state: str = "pending"
    output: str = ""
    details: JsonValue = None


@record(frozen=False)
class _Status:
    text: str
    deadline: float | None = None  # a countdown ends here
    detail: str = ""  # what failed (a retry's error)


def render_ansi(renderables: list[RenderableType], width: int, *, color: bool = True) -> str:
    """Render to a string of ANSI text, ``width`` columns wide (for the live area)."""
    buf = StringIO()
    console = Console(
        file=buf, width=max(20, width), force_terminal=True, no_color=not color,
        color_system="truecolor" if color else None, legacy_windows=False, emoji=False,
    )
    for r in renderables:
        console.print(r)
    return buf.getvalue()


class StreamView:
    """The conversation as it streams: commits finished renderables, renders the live rest.

    Args:
        commit: called once with each finished renderable (in order).
        clock: monotonic seconds (for countdowns and the spinner).
    """

    def __init__(self, commit: Callable[[RenderableType], None], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._sink = commit
        self._after_blank = True  # the last committed line was blank (or nothing yet)
        self._clock = clock
        self._blocks: dict[int, _Block] = {}
        self._tools: dict[str, _Tool] = {}
        self._stream_tools: dict[int, _Tool] = {}
        self._status: _Status | None = None
        self._error: str | None = None  # the last failed reply, shown once the run settles
        self._failed = 0  # replies that failed since the run started or last succeeded
        self.hide_thinking = False
        self.spinner = SPINNER
        self.working = False
        self.last_tool: _Tool | None = None
        self.version = 0  # bumps whenever the live area may look different
        self._cache_key: tuple[int, int, bool, bool] | None = None
        self._cache: list[str] = []

    def _commit(self, renderable: RenderableType) -> None:
        self._after_blank = renderable is _BLANK
        self._sink(renderable)

    # -- events ---------------------------------------------------------------------------
    def handle(self, ev: AgentEvent) -> None:
        """Update the view with one agent event."""
        self.version += 1
        if isinstance(ev, MessageUpdate):
            self._on_update(ev.source)
        elif isinstance(ev, MessageEnd):
            m = ev.message
            if isinstance(m, AssistantMessage):
                self._end_assistant(m)
            elif isinstance(m, UserMessage):
                text = "".join(c.text for c in m.content if isinstance(c, TextContent))
                block = render.user_block(text or "(image)")
                self._commit(block if self._after_blank else Group(Text(""), block))
        elif isinstance(ev, ToolExecutionStart):
            tool = self._tools.get(ev.tool_call_id)
            if tool is None:
                tool = self._tools[ev.tool_call_id] = _Tool(ev.tool_call_id, ev.tool_name, dict(ev.args))
            tool.args, tool.state = dict(ev.args), "running"
        elif isinstance(ev, ToolExecutionUpdate):
            tool = self._tools.get(ev.tool_call_id)
            if tool is not None:
                tool.output = "".join(c.text for c in ev.content if isinstance(c, TextContent))
        elif isinstance(ev, ToolExecutionEnd):
            self._end_tool(ev)
        elif isinstance(ev, AgentStart):
            self.working = True
            self._failed = 0
        elif isinstance(ev, AgentEnd):
            self.working = False
            self._flush_all()
            self._settle_error()
        else:
            self._on_session_event(ev)

    def _on_session_event(self, ev: AgentEvent) -> None:
        if isinstance(ev, AutoRetryStart):
            # one status line, updated in place for every attempt, says what failed
            detail = _first_line(self._error or ev.error_message)
            self._status = _Status(f"Retrying ({ev.attempt}/{ev.max_attempts})", self._clock() + ev.delay_ms / 1000,
                                   detail)
        elif isinstance(ev, AutoRetryEnd):
            self._status = None
            ran, self._failed = self._failed, 0
            last, self._error = self._error, None
            attempts = f"{ran} attempt{'' if ran == 1 else 's'}"
            if ev.success:
                return
            if ev.final_error == "Retry cancelled":
                self._commit(render.error_line(f"Retry cancelled after {attempts}: {_first_line(last or '')}".rstrip(": ")))
            else:
                self._commit(render.error_line(f"Retry failed after {attempts}: {ev.final_error or last or ''}"))
        elif isinstance(ev, CompactionStart):
            label = {"manual": "Compacting context...", "threshold": "Auto-compacting...",
                     "overflow": "Context overflow detected, Auto-compacting..."}[ev.reason]
            self._status = _Status(label)
        elif isinstance(ev, CompactionEnd):
            self._status = None
            if ev.aborted:
                self._commit(render.status_line("Compaction cancelled", "yellow"))
            elif ev.error_message:  # nothing to compact, another compaction running, a failure
                self._commit(render.status_line(ev.error_message, "yellow"))
            else:
                before = ev.result.get("tokensBefore") if ev.result else None
                n = f" ({render.fmt_tokens(before)} tokens summarised)" if isinstance(before, int) else ""
                self._commit(render.status_line(f"Compacted context{n}"))
        elif isinstance(ev, PersistenceErrorEvent):
            self._commit(render.status_line(f"Warning: {ev.message}", "bold yellow"))

    def _on_update(self, src: ContentStart | ContentDelta | ContentEnd) -> None:
        idx = src.content_index
        if src.kind == "toolcall":
            self._on_toolcall(src)
            return
        block = self._blocks.get(idx)
        if block is None:
            block = self._blocks[idx] = _Block(src.kind)
        if isinstance(src, ContentDelta):
            self._emit(block, block.stream.feed(src.delta))
        elif isinstance(src, ContentEnd):
            self._end_block(idx)

    def _emit(self, block: _Block, pieces: list[Piece]) -> None:
        if block.kind == "thinking" and self.hide_thinking:
            if pieces and not block.started:
                block.started = True
                self._commit(render.thinking_block("", hidden=True))
            return
        for p in pieces:
            block.started = True
            self._commit(_piece_renderable(p, dim=block.kind == "thinking"))

    def _end_block(self, idx: int) -> None:
        block = self._blocks.pop(idx, None)
        if block is None:
            return
        self._emit(block, block.stream.finish())
        if block.started:
            self._commit(_BLANK)

    def _on_toolcall(self, src: ContentStart | ContentDelta | ContentEnd) -> None:
        idx = src.content_index
        tool = self._stream_tools.get(idx)
        if isinstance(src, ContentStart) or tool is None:
            call = src.partial.content[idx] if idx < len(src.partial.content) else None
            name = call.name if isinstance(call, ToolCall) else "tool"
            cid = call.id if isinstance(call, ToolCall) else f"#{idx}"
            tool = self._stream_tools[idx] = self._tools.setdefault(cid, _Tool(cid, name, {}))
        if isinstance(src, ContentDelta):
            tool.raw_args += src.delta  # parsed lazily, per frame, from a bounded prefix
        elif isinstance(src, ContentEnd) and isinstance(src.content, ToolCall):
            self._stream_tools.pop(idx, None)
            if tool.call_id != src.content.id:  # the id arrived late: re-key the box
                self._tools.pop(tool.call_id, None)
                tool.call_id = src.content.id
                self._tools[tool.call_id] = tool
            tool.name, tool.args = src.content.name, dict(src.content.arguments)

    def _end_assistant(self, m: AssistantMessage) -> None:
        for idx in sorted(self._blocks):
            self._end_block(idx)
        self._stream_tools.clear()
        if m.stop_reason == "aborted":
            self._commit(render.error_line("Operation aborted"))
            self._drop_pending_tools()
        elif m.stop_reason == "error":
            # held until the run settles: a retry shows it in its status line instead
            self._error = m.error_message or "the request failed"
            self._failed += 1
            self._drop_pending_tools()

    def _settle_error(self) -> None:
        if self._error is not None:
            self._commit(render.error_line(f"Error: {self._error}"))
            self._error = None

    def _drop_pending_tools(self) -> None:
        for cid in [c for c, t in self._tools.items() if t.state == "pending"]:
            del self._tools[cid]

    def _end_tool(self, ev: ToolExecutionEnd) -> None:
        tool = self._tools.pop(ev.tool_call_id, None) or _Tool(ev.tool_call_id, ev.tool_name, {})
        tool.output = "".join(c.text for c in ev.content if isinstance(c, TextContent))
        tool.details = ev.details
        tool.state = "error" if ev.is_error else "done"
        self.last_tool = tool
        self._commit(self._tool_renderable(tool))

    def _flush_all(self) -> None:
        for idx in sorted(self._blocks):
            self._end_block(idx)
        for tool in self._tools.values():
            tool.state = "error" if tool.state != "done" else tool.state
            self._commit(self._tool_renderable(tool))
        self._tools.clear()
        self._stream_tools.clear()
        self._status = None

    @staticmethod
    def _tool_renderable(tool: _Tool, *, expanded: bool = False) -> RenderableType:
        return render.tool_box(tool.name, tool.args, output=tool.output, details=tool.details,
                               state=tool.state, expanded=expanded)

    # -- user actions ---------------------------------------------------------------------
    def expand_last_tool(self) -> bool:
        """Commit the last finished tool's full output (Ctrl+O); False if there is none."""
        if self.last_tool is None:
            return False
        self._commit(self._tool_renderable(self.last_tool, expanded=True))
        return True

    def shell_output(self, command: str, tail: str | None) -> None:
        """Show a running ``!cmd`` as a live bash box (``tail`` None removes it)."""
        self.version += 1
        if tail is None:
            self._tools.pop("!shell", None)
            return
        tool = self._tools.setdefault("!shell", _Tool("!shell", "bash", {"command": command}))
        tool.state, tool.output = "running", tail

    def end_shell(self, command: str, output: str, *, failed: bool) -> None:
        """A ``!cmd`` finished: print its box once; Ctrl+O expands it like a tool's."""
        self.shell_output(command, None)
        tool = _Tool("!shell", "bash", {"command": command}, state="error" if failed else "done", output=output)
        self.last_tool = tool
        self._commit(self._tool_renderable(tool))

    def note(self, renderable: RenderableType) -> None:
        """Commit something the REPL itself says (command output, warnings)."""
        self._commit(renderable)

    # -- the live area --------------------------------------------------------------------
    def live_renderables(self) -> list[RenderableType]:
        """What is still changing, top to bottom."""
        return self._content_renderables() + self._status_renderables()

    def _content_renderables(self) -> list[RenderableType]:
        out: list[RenderableType] = []
        for idx in sorted(self._blocks):
            block = self._blocks[idx]
            tail = block.stream.tail()
            if block.kind == "thinking" and self.hide_thinking:
                out.append(render.thinking_block("", hidden=True))
            elif tail is not None:
                out.append(_piece_renderable(tail, dim=block.kind == "thinking"))
        for t in self._tools.values():
            if t.state == "pending" and not t.args and t.raw_args:
                t = _Tool(t.call_id, t.name, _partial_args(t.raw_args[:2000]))
            out.append(self._tool_renderable(t))
        return out

    def _status_renderables(self) -> list[RenderableType]:
        out: list[RenderableType] = []
        now = self._clock()
        if self._status is not None:
            s = self._status
            if s.deadline is not None:
                left = max(0, int(s.deadline - now + 0.999))
                detail = f": {s.detail}" if s.detail else ""
                out.append(render.status_line(f"{s.text} in {left}s... (escape to cancel){detail}", "yellow"))
            else:
                out.append(render.status_line(f"{s.text} (escape to cancel)", "yellow"))
        if self.working:
            frame = self.spinner[int(now * 10) % len(self.spinner)]
            out.append(Text.assemble((frame + " ", "cyan"), ("Working...", "dim"), (" (escape to interrupt)", "dim")))
        return out

    def render_live(self, width: int, max_lines: int, *, color: bool = True) -> str:
        """The live area as ANSI text: at most ``max_lines`` lines (the last ones).

        The streaming content is rendered again only when an event changed it (or the
        width did); the spinner and countdown lines are cheap and drawn every frame.
        """
        key = (self.version, width, self.hide_thinking, color)
        if self._cache_key != key:
            items = self._content_renderables()
            self._cache = render_ansi(items, width, color=color).rstrip("\n").split("\n") if items else []
            self._cache_key = key
        status = self._status_renderables()
        lines = self._cache + (render_ansi(status, width, color=color).rstrip("\n").split("\n") if status else [])
        if len(lines) > max_lines:
            lines = ["\x1b[2m…\x1b[0m", *lines[len(lines) - max(1, max_lines - 1) :]]
        return "\n".join(lines)


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _partial_args(raw: str) -> dict[str, JsonValue]:
    """Best-effort arguments from a JSON object still streaming (for the box header)."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
        for closer in ('"}', "}", '""}'):
            try:
                value = json.loads(raw + closer)
                break
            except ValueError:
                continue
    return value if isinstance(value, dict) else {}
