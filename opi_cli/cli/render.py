"""Turn conversation pieces (messages, tool calls, results, statuses) into rich renderables.

Pure functions: no terminal, no state. The streaming view (live.py) decides *when* a piece
is final; this module only decides how it looks, so the same code renders a live frame, a
committed block and a snapshot in a test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.padding import Padding
from rich.panel import Panel
from rich.segment import Segment
from rich.syntax import Syntax
from rich.text import Text

from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.messages import AgentMessage, BashExecutionMessage, CompactionSummaryMessage
from opi_cli.ai.types import (
    AssistantMessage,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    text_of,
)

__all__ = [
    "CODE_THEME",
    "code_chunk",
    "collapse",
    "diff_text",
    "error_line",
    "fmt_tokens",
    "history",
    "markdown_block",
    "status_line",
    "thinking_block",
    "tool_box",
    "tool_header",
    "user_block",
]

CODE_THEME = "monokai"
PREVIEW_LINES: Mapping[str, int] = {"read": 10, "write": 10, "ls": 20, "find": 20, "grep": 15, "bash": 5}
"""Lines of a tool's output shown while collapsed (pi §7.2); others get 10."""
_ARG_PREVIEW = 80


def fmt_tokens(n: int) -> str:
    """pi's token format: ``999``, ``1.2k``, ``32k``, ``1.2M``, ``12M``."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{round(n / 1000)}k"
    if n < 10_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{round(n / 1_000_000)}M"


def user_block(text: str) -> RenderableType:
    """A user message: its own background, so turns are easy to find when scrolling."""
    return Padding(Text(text, style="bold"), (0, 1), style="on grey23", expand=True)


class _Trimmed:
    """A renderable without blank lines at its edges (rich pads headings with them; the
    streaming view places the blank lines between pieces itself)."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.inner, options, pad=False)
        blank = [not "".join(seg.text for seg in line if not seg.control).strip() for line in lines]
        start = next((i for i, b in enumerate(blank) if not b), len(lines))
        end = len(lines) - next((i for i, b in enumerate(reversed(blank)) if not b), 0)
        for line in lines[start:end]:
            yield from line
            yield Segment.line()


def markdown_block(text: str, *, dim: bool = False) -> RenderableType:
    """Prose as markdown; thinking is the same markdown, dimmed and italic."""
    return _Trimmed(Markdown(text, code_theme=CODE_THEME, style="dim italic" if dim else "none"))


def code_chunk(code: str, lang: str) -> RenderableType:
    """A run of lines from a fenced code block. Chunks of one block join seamlessly
    (no vertical padding), so a long block can be printed piece by piece."""
    lexer = lang or "text"
    return Syntax(code, lexer, theme=CODE_THEME, word_wrap=True, padding=(0, 1), background_color=None)


def thinking_block(text: str, *, hidden: bool) -> RenderableType:
    """Reasoning text, or one static line when thinking is hidden (Ctrl+T)."""
    if hidden:
        return Text("Thinking... (ctrl+t to show)", style="dim italic")
    return markdown_block(text, dim=True)


def status_line(text: str, style: str = "dim") -> Text:
    return Text(text, style=style)


def error_line(text: str) -> Text:
    return Text(text, style="bold red")


def _short(value: JsonValue) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    s = s.replace("\n", " ⏎ ")
    return s if len(s) <= _ARG_PREVIEW else s[: _ARG_PREVIEW - 1] + "…"


def tool_header(name: str, args: Mapping[str, JsonValue], first_line: int | None = None) -> Text:
    """One line naming the call the way a reader scans it: ``$ cmd``, ``edit path:12``."""
    path = args.get("path")
    if name == "bash":
        return Text.assemble(("$ ", "bold"), (str(args.get("command", "")), "bold"))
    if name in ("read", "write", "edit", "ls") and isinstance(path, str):
        suffix = ""
        if name == "read" and args.get("offset") is not None:
            suffix = f":{args.get('offset')}"
        elif name == "edit" and first_line is not None:
            suffix = f":{first_line}"
        return Text.assemble((name, "bold"), " ", (path + suffix, "cyan"))
    if name in ("grep", "find") and "pattern" in args:
        where = f" in {args['path']}" if isinstance(path, str) else ""
        return Text.assemble((name, "bold"), " ", (_short(args["pattern"]), "cyan"), where)
    shown = " ".join(f"{k}={_short(v)}" for k, v in args.items())
    return Text.assemble((name, "bold"), " ", (shown, "dim"))


def collapse(text: str, keep: int, *, tail: bool, expanded: bool = False) -> tuple[str, int]:
    """Keep ``keep`` lines (the last ones when ``tail``); returns the text and how many were hidden."""
    lines = text.rstrip("\n").split("\n") if text else []
    if expanded or len(lines) <= keep:
        return "\n".join(lines), 0
    hidden = len(lines) - keep
    shown = lines[-keep:] if tail else lines[:keep]
    return "\n".join(shown), hidden


def diff_text(diff: str) -> Text:
    """The edit tool's line-numbered diff, coloured: removals red, additions green."""
    out = Text()
    for i, line in enumerate(diff.split("\n")):
        if i:
            out.append("\n")
        if line.startswith("+"):
            out.append(line, style="green")
        elif line.startswith("-"):
            out.append(line, style="red")
        else:
            out.append(line, style="dim")
    return out


def _body(name: str, text: str, details: JsonValue, *, expanded: bool, running: bool) -> list[RenderableType]:
    parts: list[RenderableType] = []
    diff = details.get("diff") if isinstance(details, dict) else None
    if name == "edit" and isinstance(diff, str) and diff and not running:
        parts.append(diff_text(diff))
        return parts
    keep = PREVIEW_LINES.get(name, 10)
    tail = name == "bash"
    shown, hidden = collapse(text, keep, tail=tail, expanded=expanded)
    noun = "line" if hidden == 1 else "lines"
    more = Text(f"... ({hidden} {'earlier' if tail else 'more'} {noun}, ctrl+o to expand)", style="dim")
    if hidden and tail:
        parts.append(more)
    if shown:
        parts.append(Text(shown, style="" if name != "bash" else "grey70"))
    if hidden and not tail:
        parts.append(more)
    return parts


def tool_box(
    name: str,
    args: Mapping[str, JsonValue],
    *,
    output: str = "",
    details: JsonValue = None,
    state: str = "pending",
    expanded: bool = False,
) -> RenderableType:
    """A box per tool call. ``state`` is ``pending`` (arguments streaming), ``running``,
    ``done`` or ``error``; the border colour says which."""
    first = details.get("firstChangedLine") if isinstance(details, dict) else None
    header = tool_header(name, args, first if isinstance(first, int) else None)
    body = _body(name, output, details, expanded=expanded, running=state in ("pending", "running"))
    if state == "error" and output and name == "edit":
        body = [Text(output.strip(), style="red")]
    border = {"pending": "grey50", "running": "yellow", "done": "green", "error": "red"}.get(state, "grey50")
    content: RenderableType = Group(header, *body) if body else header
    return Panel(content, box=box.ROUNDED, border_style=border, padding=(0, 1), expand=True)


def history(messages: Sequence[AgentMessage], limit: int = 40) -> list[RenderableType]:
    """A resumed conversation, as it looked: the last ``limit`` messages, tools collapsed."""
    calls: dict[str, ToolCall] = {}
    out: list[RenderableType] = []
    if len(messages) > limit:
        out.append(status_line(f"... {len(messages) - limit} earlier messages (the model still sees them)"))
    for m in messages[-limit:]:
        if isinstance(m, UserMessage):
            out.append(user_block(text_of(m.content) or "(image)"))
        elif isinstance(m, AssistantMessage):
            for c in m.content:
                if isinstance(c, ThinkingContent) and c.thinking:
                    out.append(thinking_block(c.thinking, hidden=False))
                elif isinstance(c, TextContent) and c.text.strip():
                    out.append(markdown_block(c.text))
                elif isinstance(c, ToolCall):
                    calls[c.id] = c
        elif isinstance(m, ToolResultMessage):
            call = calls.get(m.tool_call_id)
            out.append(tool_box(m.tool_name, call.arguments if call else {}, output=text_of(m.content),
                                details=m.details, state="error" if m.is_error else "done"))
        elif isinstance(m, BashExecutionMessage):
            out.append(tool_box("bash", {"command": m.command}, output=m.output, state="done"))
        elif isinstance(m, CompactionSummaryMessage):
            out.append(status_line(f"[compacted: {fmt_tokens(m.tokens_before)} tokens summarised]"))
    out.append(status_line("── resumed ──"))
    return out
