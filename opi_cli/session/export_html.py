"""A session's current path as one self-contained HTML page that a person wants to read.

Text is rendered Markdown (headings, emphasis, lists, tables, links with their URLs,
highlighted code; :mod:`~opi_cli.session.markdown_html`), thinking folds into a
``<details>``, every tool call is one block with its arguments and its result (bash as
``$ command`` and its output, edits as a coloured diff, written files highlighted), long
outputs fold. The page has inline CSS only: no scripts, no external resources, and a
Content-Security-Policy that forbids both, so opening it never runs or fetches anything.
"""

from __future__ import annotations

import json
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
from opi_cli.session.export_items import IMAGE_TYPES, is_base64, items_of, tool_title
from opi_cli.session.markdown_html import escape_html as _e
from opi_cli.session.markdown_html import highlight, highlight_css, render_markdown

__all__ = ["export_html"]

FOLD_LINES = 15
"""Outputs longer than this fold into a ``<details>`` (the first lines stay visible)."""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root{--fg:#1d1d1f;--muted:#6b6b70;--bg:#fff;--card:#f6f6f7;--line:#e2e2e5;--user:#eef4ff;--accent:#2f6feb;
--ok:#1a7f37;--err:#cf222e;--warn:#bf8700;--add:#e6ffec;--del:#ffebe9;--addfg:#116329;--delfg:#82071e}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e6;--muted:#9a9aa0;--bg:#111214;--card:#1b1c1f;--line:#2e2f33;
--user:#16213a;--add:#0f2e1a;--del:#3a1518;--addfg:#7ee2a0;--delfg:#ffa198}}
body{font:15px/1.55 system-ui,-apple-system,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:var(--fg);background:var(--bg)}
header{border-bottom:1px solid var(--line);margin-bottom:1.5rem}header p{color:var(--muted);margin:.2rem 0}
.msg{margin:1.1rem 0;padding:.7rem 1rem;border-radius:10px;background:var(--card);border-left:4px solid var(--line)}
.msg.user{background:var(--user);border-color:var(--accent)}.msg.assistant{border-color:var(--ok)}
.msg.error{border-color:var(--err)}.msg.summary{border-color:var(--warn)}
.role{font-size:.75rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin-bottom:.3rem}
.note{color:var(--muted);font-size:.85rem;margin:.4rem 1rem}
.md h1{font-size:1.45rem}.md h2{font-size:1.25rem}.md h3{font-size:1.1rem}.md>:first-child{margin-top:0}.md>:last-child{margin-bottom:0}
.md table{border-collapse:collapse;margin:.6rem 0}.md th,.md td{border:1px solid var(--line);padding:.25rem .6rem}
.md th{background:var(--bg)}.md blockquote{margin:.5rem 0;padding-left:.8rem;border-left:3px solid var(--line);
color:var(--muted)}.url{color:var(--muted);font-size:.85em;word-break:break-all}a{color:var(--accent)}
code{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
:not(pre)>code{background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:0 .25rem}
pre{white-space:pre-wrap;word-break:break-word;border:1px solid var(--line);border-radius:6px;padding:.55rem .7rem;
margin:.5rem 0;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-x:auto}
details>summary{cursor:pointer;color:var(--muted)}details.thinking .md{color:var(--muted);font-style:italic}
.tool{margin:.6rem 0;border:1px solid var(--line);border-left:4px solid var(--ok);border-radius:8px;
background:var(--bg);padding:.45rem .7rem}.tool.error{border-left-color:var(--err)}
.tool.pending{border-left-color:var(--line)}.tool-head{font:600 13px/1.45 ui-monospace,Menlo,Consolas,monospace}
.tool-head .name{color:var(--accent)}.tool .label{color:var(--muted);font-size:.8rem;margin-top:.35rem}
.tool table.args td{vertical-align:top;padding:.1rem .6rem .1rem 0}.tool table.args td:first-child{color:var(--muted)}
.tool .err{color:var(--err)}pre.diff .add{background:var(--add);color:var(--addfg);display:block}
pre.diff .del{background:var(--del);color:var(--delfg);display:block}pre.diff .ctx{color:var(--muted);display:block}
img{max-width:100%}
"""


def _content_html(content: Sequence[UserContent], *, markdown: bool) -> str:
    parts: list[str] = []
    for c in content:
        if isinstance(c, TextContent):
            parts.append(f'<div class="md">{render_markdown(c.text)}</div>' if markdown else _pre(c.text))
        elif c.mime_type in IMAGE_TYPES and is_base64(c.data):
            parts.append(f'<img alt="image" src="data:{c.mime_type};base64,{_e(c.data)}">')
        else:
            parts.append(f"<p>[image: {_e(c.mime_type)}]</p>")
    return "".join(parts)


def _pre(text: str, cls: str = "output") -> str:
    return f'<pre class="{cls}">{_e(text)}</pre>'


def _folded(body_html: str, lines: int, label: str) -> str:
    return f"<details><summary>{_e(label)} · {lines} lines</summary>{body_html}</details>"


def _output(text: str, *, filename: str = "", label: str = "Output") -> str:
    """A tool's output: highlighted when it is a file's text, folded when long."""
    if not text:
        return '<div class="label">(no output)</div>'
    body = highlight(text, filename=filename) if filename else _pre(text)
    lines = text.count("\n") + 1
    if lines <= FOLD_LINES:
        return body
    head = "\n".join(text.split("\n")[:FOLD_LINES])
    preview = highlight(head, filename=filename) if filename else _pre(head)
    return preview + _folded(body, lines, f"All of the {label.lower()}")


def diff_html(diff: str) -> str:
    """The edit tool's line-numbered diff: additions green, removals red."""
    rows = []
    for line in diff.split("\n"):
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"
        rows.append(f'<span class="{cls}">{_e(line) or " "}</span>')
    return '<pre class="diff">' + "".join(rows) + "</pre>"


def _args_table(args: Mapping[str, JsonValue], skip: Sequence[str] = ()) -> str:
    rows = []
    for key, value in args.items():
        if key in skip:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
        cell = _pre(text, "arg") if "\n" in text else f"<code>{_e(text)}</code>"
        rows.append(f"<tr><td>{_e(key)}</td><td>{cell}</td></tr>")
    return f'<table class="args">{"".join(rows)}</table>' if rows else ""


def _arguments(call: ToolCall, result: ToolResultMessage | None) -> str:
    args = call.arguments
    path = args.get("path") if isinstance(args.get("path"), str) else ""
    details = result.details if result is not None and isinstance(result.details, dict) else {}
    if call.name == "bash":
        command = str(args.get("command", ""))
        extra = _args_table(args, skip=("command",))
        return (highlight(command, "bash") if "\n" in command else "") + extra
    if call.name == "edit":
        diff = details.get("diff")
        if isinstance(diff, str) and diff and not (result and result.is_error):
            return diff_html(diff)
        old, new = str(args.get("oldText", "")), str(args.get("newText", ""))
        lines = [f"-{x}" for x in old.split("\n")] + [f"+{x}" for x in new.split("\n")]
        return diff_html("\n".join(lines)) + _args_table(args, skip=("path", "oldText", "newText"))
    if call.name == "write":
        content = str(args.get("content", ""))
        return _output(content, filename=str(path), label="Content") + _args_table(args, skip=("path", "content"))
    if call.name in ("read", "ls", "grep", "find"):
        return _args_table(args, skip=("path", "pattern"))
    return _args_table(args)


def _result(call: ToolCall, result: ToolResultMessage | None) -> str:
    if result is None:
        return '<div class="label">no result was recorded</div>'
    text = "".join(c.text for c in result.content if isinstance(c, TextContent))
    images = [c for c in result.content if not isinstance(c, TextContent)]
    if result.is_error:
        return f'<div class="label err">Error</div>{_pre(text, "output err")}'
    if call.name == "edit":
        return f'<div class="label">{_e(text)}</div>' if text else ""
    if call.name == "write":
        return f'<div class="label">{_e(text)}</div>' if text else ""
    path = call.arguments.get("path")
    filename = path if call.name == "read" and isinstance(path, str) else ""
    return _output(text, filename=filename) + _content_html(images, markdown=False)


def tool_block(call: ToolCall, result: ToolResultMessage | None) -> str:
    """One tool call: a title line (``$ command``, ``edit path``), its arguments, its result."""
    state = "pending" if result is None else "error" if result.is_error else "done"
    name, rest = tool_title(call.name, call.arguments)
    head = f'<div class="tool-head"><span class="name">{_e(name)}</span> {_e(rest)}</div>'
    return f'<div class="tool {state}">{head}{_arguments(call, result)}{_result(call, result)}</div>'


def _assistant(m: AssistantMessage, results: Mapping[str, ToolResultMessage]) -> str:
    parts: list[str] = []
    for c in m.content:
        if isinstance(c, ThinkingContent):
            if c.thinking.strip():
                parts.append('<details class="thinking"><summary>Thinking</summary>'
                             f'<div class="md">{render_markdown(c.thinking)}</div></details>')
        elif isinstance(c, TextContent):
            if c.text.strip():
                parts.append(f'<div class="md">{render_markdown(c.text)}</div>')
        else:
            parts.append(tool_block(c, results.get(c.id)))
    if m.error_message:
        parts.append(f'<p class="err"><strong>Error:</strong> {_e(m.error_message)}</p>')
    cls = "msg assistant error" if m.stop_reason in ("error", "aborted") else "msg assistant"
    return f'<section class="{cls}"><div class="role">Assistant · {_e(m.model)}</div>{"".join(parts)}</section>'


def _message(m: AgentMessage, results: Mapping[str, ToolResultMessage]) -> str:
    if isinstance(m, UserMessage):
        return f'<section class="msg user"><div class="role">User</div>{_content_html(m.content, markdown=True)}</section>'
    if isinstance(m, AssistantMessage):
        return _assistant(m, results)
    if isinstance(m, ToolResultMessage):  # a result without its call on this path
        call = ToolCall(m.tool_call_id, m.tool_name, {})
        return f'<section class="msg tool-result">{tool_block(call, m)}</section>'
    if isinstance(m, BashExecutionMessage):
        status = "cancelled" if m.cancelled else f"exit {m.exit_code}"
        error = " error" if m.cancelled or m.exit_code else ""
        return (f'<section class="msg user"><div class="role">User ran a command ({_e(status)})</div>'
                f'<div class="tool{error}"><div class="tool-head"><span class="name">$</span> {_e(m.command)}</div>'
                f"{_output(m.output)}</div></section>")
    if isinstance(m, CustomMessage):
        return (f'<section class="msg custom"><div class="role">{_e(m.custom_type)}</div>'
                f"{_content_html(m.content, markdown=True)}</section>")
    if isinstance(m, BranchSummaryMessage):
        return (f'<section class="msg summary"><div class="role">Branch summary</div>'
                f'<div class="md">{render_markdown(m.summary)}</div></section>')
    assert isinstance(m, CompactionSummaryMessage)
    return (f'<section class="msg summary"><details><summary>Compaction summary ({m.tokens_before} tokens '
            f'before)</summary><div class="md">{render_markdown(m.summary)}</div></details></section>')


def export_html(header: SessionHeader, path: Sequence[Entry], *, title: str | None = None) -> str:
    """The whole current path (root first, compactions shown as folded summaries) as one page."""
    name = title or f"opi session {header.id}"
    body: list[str] = []
    for item in items_of(path):
        if isinstance(item, str):
            body.append(f'<div class="note">{_e(item)}</div>')
        else:
            message, results = item
            body.append(_message(message, results))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(name)}</title><style>{_CSS}{highlight_css()}</style></head><body>"
        f"<header><h1>{_e(name)}</h1><p>Folder: <code>{_e(header.cwd)}</code></p>"
        f"<p>Started: {_e(header.timestamp)}</p></header>\n" + "\n".join(body) + "\n</body></html>\n"
    )
