"""Render a session's current path as one self-contained HTML page or as Markdown.

HTML has inline CSS only (no scripts, no external resources), every text escaped, tool
output and thinking folded into ``<details>``; images are inlined as data URIs (common
raster types only). Markdown uses fenced blocks long enough never to be closed by the text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from opi_cli._util.jsonio import JsonValue
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
    UserContent,
    UserMessage,
)
from opi_cli.session.context import entry_message
from opi_cli.session.entries import (
    CompactionEntry,
    Entry,
    ModelChangeEntry,
    SessionHeader,
    ThinkingLevelChangeEntry,
)

__all__ = ["export_html", "export_markdown"]

_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_B64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fff}
header{border-bottom:1px solid #ddd;margin-bottom:1.5rem}header p{color:#666;margin:.2rem 0}
section{margin:1rem 0;padding:.6rem .9rem;border-radius:8px;border-left:4px solid #bbb;background:#f7f7f8}
section.user{border-color:#2f6feb;background:#eef4ff}section.assistant{border-color:#1a7f37}
section.toolResult,section.bashExecution{border-color:#8250df}section.error{border-color:#cf222e}
section.summary{border-color:#bf8700;background:#fff8e5}section.note{border:0;background:none;color:#666;padding:0 .9rem}
h3{margin:0 0 .3rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:#555}
pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #e5e5e5;padding:.5rem;border-radius:6px;overflow-x:auto}
.text{white-space:pre-wrap;word-break:break-word}details summary{cursor:pointer;color:#555}img{max-width:100%}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}section{background:#1c1c1e}
section.user{background:#16213a}section.summary{background:#2a2410}pre{background:#000;border-color:#333}}
"""


def _e(text: str) -> str:
    # Lone surrogates cannot be encoded in the page; show them as U+FFFD.
    return html.escape(text.encode("utf-8", "replace").decode("utf-8"), quote=True)


def _json_text(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _html_content(content: Sequence[UserContent]) -> str:
    parts: list[str] = []
    for c in content:
        if isinstance(c, TextContent):
            parts.append(f'<div class="text">{_e(c.text)}</div>')
        elif c.mime_type in _IMAGE_TYPES and _B64.match(c.data):
            parts.append(f'<img alt="image" src="data:{c.mime_type};base64,{_e(c.data)}">')
        else:
            parts.append(f"<p>[image: {_e(c.mime_type)}]</p>")
    return "".join(parts)


def _html_message(m: AgentMessage) -> str:
    if isinstance(m, UserMessage):
        return f'<section class="user"><h3>User</h3>{_html_content(m.content)}</section>'
    if isinstance(m, AssistantMessage):
        parts: list[str] = []
        for c in m.content:
            if isinstance(c, ThinkingContent):
                if c.thinking:
                    parts.append(f"<details><summary>Thinking</summary><pre>{_e(c.thinking)}</pre></details>")
            elif isinstance(c, TextContent):
                parts.append(f'<div class="text">{_e(c.text)}</div>')
            else:
                parts.append(
                    f"<p>Tool call <code>{_e(c.name)}</code></p><pre>{_e(_json_text(c.arguments))}</pre>"
                )
        if m.error_message:
            parts.append(f"<p><strong>Error:</strong> {_e(m.error_message)}</p>")
        cls = "assistant error" if m.stop_reason in ("error", "aborted") else "assistant"
        return f'<section class="{cls}"><h3>Assistant · {_e(m.model)}</h3>{"".join(parts)}</section>'
    if isinstance(m, ToolResultMessage):
        cls = "toolResult error" if m.is_error else "toolResult"
        label = f"{'Error from' if m.is_error else 'Result of'} {m.tool_name}"
        return f'<section class="{cls}"><details><summary>{_e(label)}</summary>{_html_content(m.content)}</details></section>'
    if isinstance(m, BashExecutionMessage):
        status = "cancelled" if m.cancelled else f"exit {m.exit_code}"
        return (
            f'<section class="bashExecution"><h3>$ {_e(m.command)} ({_e(status)})</h3>'
            f"<details><summary>Output</summary><pre>{_e(m.output)}</pre></details></section>"
        )
    if isinstance(m, CustomMessage):
        return f'<section class="custom"><h3>{_e(m.custom_type)}</h3>{_html_content(m.content)}</section>'
    if isinstance(m, BranchSummaryMessage):
        return f'<section class="summary"><h3>Branch summary</h3><div class="text">{_e(m.summary)}</div></section>'
    return (
        f'<section class="summary"><details><summary>Compaction summary ({m.tokens_before} tokens before)</summary>'
        f'<div class="text">{_e(m.summary)}</div></details></section>'
    )


def _note(entry: Entry) -> str | None:
    if isinstance(entry, ModelChangeEntry):
        return f"model: {entry.provider}/{entry.model_id}"
    if isinstance(entry, ThinkingLevelChangeEntry):
        return f"thinking: {entry.thinking_level}"
    return None


def _message_of(entry: Entry) -> AgentMessage | None:
    if isinstance(entry, CompactionEntry):
        return CompactionSummaryMessage(entry.summary, entry.tokens_before, 0)
    return entry_message(entry)


def export_html(header: SessionHeader, path: Sequence[Entry], *, title: str | None = None) -> str:
    """The whole current path (root first, compactions shown as folded summaries) as one page."""
    name = title or f"opi session {header.id}"
    body: list[str] = []
    for entry in path:
        note = _note(entry)
        if note is not None:
            body.append(f'<section class="note">{_e(note)}</section>')
        message = _message_of(entry)
        if message is not None:
            body.append(_html_message(message))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(name)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(name)}</h1><p>Folder: <code>{_e(header.cwd)}</code></p>"
        f"<p>Started: {_e(header.timestamp)}</p></header>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _md_content(content: Sequence[UserContent]) -> str:
    return "\n\n".join(c.text if isinstance(c, TextContent) else f"*[image: {c.mime_type}]*" for c in content)


def _md_message(m: AgentMessage) -> str:
    if isinstance(m, UserMessage):
        return f"## User\n\n{_md_content(m.content)}"
    if isinstance(m, AssistantMessage):
        parts = [f"## Assistant ({m.model})"]
        for c in m.content:
            if isinstance(c, ThinkingContent):
                if c.thinking:
                    parts.append("> *thinking*\n>\n" + "\n".join("> " + ln for ln in c.thinking.splitlines()))
            elif isinstance(c, TextContent):
                parts.append(c.text)
            elif isinstance(c, ToolCall):
                parts.append(f"**Tool call** `{c.name}`\n\n" + _fence(_json_text(c.arguments), "json"))
        if m.error_message:
            parts.append(f"**Error:** {m.error_message}")
        return "\n\n".join(parts)
    if isinstance(m, ToolResultMessage):
        head = f"### {'Error from' if m.is_error else 'Result of'} `{m.tool_name}`"
        return head + "\n\n" + _fence(_md_content(m.content))
    if isinstance(m, BashExecutionMessage):
        return f"### `$ {m.command}`\n\n" + _fence(m.output)
    if isinstance(m, CustomMessage):
        return f"## {m.custom_type}\n\n{_md_content(m.content)}"
    if isinstance(m, BranchSummaryMessage):
        return f"## Branch summary\n\n{m.summary}"
    return f"## Compaction summary ({m.tokens_before} tokens before)\n\n{m.summary}"


def export_markdown(header: SessionHeader, path: Sequence[Entry], *, title: str | None = None) -> str:
    """The current path as Markdown."""
    parts = [
        f"# {title or 'opi session ' + header.id}",
        f"Folder: `{header.cwd}` · started {header.timestamp}",
    ]
    for entry in path:
        note = _note(entry)
        if note is not None:
            parts.append(f"*{note}*")
        message = _message_of(entry)
        if message is not None:
            parts.append(_md_message(message))
    return "\n\n".join(parts) + "\n"
