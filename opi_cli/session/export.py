"""Render a session's current path as one self-contained HTML page or as Markdown.

The HTML page lives in :mod:`~opi_cli.session.export_html`. The Markdown export keeps the
text as Markdown, made inert: raw HTML outside code is escaped and images become links
(:func:`~opi_cli.session.markdown_html.markdown_safe`), so a Markdown viewer runs nothing
and loads nothing from it; code and tool output sit in fences long enough never to be
closed by the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

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
from opi_cli.session.entries import Entry, SessionHeader
from opi_cli.session.export_html import export_html
from opi_cli.session.export_items import items_of, tool_title
from opi_cli.session.markdown_html import markdown_safe

__all__ = ["export_html", "export_markdown"]


def _json_text(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _md_content(content: Sequence[UserContent]) -> str:
    return "\n\n".join(
        markdown_safe(c.text) if isinstance(c, TextContent) else f"*[image: {c.mime_type}]*" for c in content
    )


def _md_tool(call: ToolCall, result: ToolResultMessage | None) -> str:
    name, rest = tool_title(call.name, call.arguments)
    parts = [f"**{name}** `{rest}`" if rest else f"**{name}**", _fence(_json_text(call.arguments), "json")]
    if result is not None:
        label = "Error" if result.is_error else "Result"
        parts.append(f"{label}:\n\n" + _fence("".join(c.text for c in result.content if isinstance(c, TextContent))))
    return "\n\n".join(parts)


def _md_message(m: AgentMessage, results: Mapping[str, ToolResultMessage]) -> str:
    if isinstance(m, UserMessage):
        return f"## User\n\n{_md_content(m.content)}"
    if isinstance(m, AssistantMessage):
        parts = [f"## Assistant ({m.model})"]
        for c in m.content:
            if isinstance(c, ThinkingContent):
                if c.thinking:
                    quoted = "\n".join("> " + ln for ln in markdown_safe(c.thinking).splitlines())
                    parts.append("> *thinking*\n>\n" + quoted)
            elif isinstance(c, TextContent):
                parts.append(markdown_safe(c.text))
            else:
                parts.append(_md_tool(c, results.get(c.id)))
        if m.error_message:
            parts.append(f"**Error:** {markdown_safe(m.error_message)}")
        return "\n\n".join(parts)
    if isinstance(m, ToolResultMessage):
        head = f"### {'Error from' if m.is_error else 'Result of'} `{m.tool_name}`"
        return head + "\n\n" + _fence("".join(c.text for c in m.content if isinstance(c, TextContent)))
    if isinstance(m, BashExecutionMessage):
        return f"### `$ {m.command}`\n\n" + _fence(m.output)
    if isinstance(m, CustomMessage):
        return f"## {m.custom_type}\n\n{_md_content(m.content)}"
    if isinstance(m, BranchSummaryMessage):
        return f"## Branch summary\n\n{markdown_safe(m.summary)}"
    assert isinstance(m, CompactionSummaryMessage)
    return f"## Compaction summary ({m.tokens_before} tokens before)\n\n{markdown_safe(m.summary)}"


def export_markdown(header: SessionHeader, path: Sequence[Entry], *, title: str | None = None) -> str:
    """The current path as Markdown (inert: no raw HTML, no images that load)."""
    parts = [
        f"# {markdown_safe(title or 'opi session ' + header.id)}",
        f"Folder: `{header.cwd}` · started {header.timestamp}",
    ]
    for item in items_of(path):
        if isinstance(item, str):
            parts.append(f"*{item}*")
        else:
            parts.append(_md_message(*item))
    return "\n\n".join(parts) + "\n"
