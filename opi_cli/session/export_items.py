"""What an export shows of a session's path, shared by the HTML and Markdown exports.

:func:`items_of` turns the path's entries into notes (model and thinking-level changes)
and messages, each assistant message with the results of its own tool calls, so a tool
call and its result are shown together; a result whose call is not on the path is shown
on its own. :func:`tool_title` names a call the way a reader scans it (``$ ls``,
``edit app.py``), as the REPL does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TypeAlias

from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.messages import AgentMessage, CompactionSummaryMessage
from opi_cli.ai.types import AssistantMessage, ToolResultMessage
from opi_cli.session.context import entry_message
from opi_cli.session.entries import CompactionEntry, Entry, ModelChangeEntry, ThinkingLevelChangeEntry

__all__ = ["IMAGE_TYPES", "Item", "is_base64", "items_of", "tool_title"]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_B64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
_ARG_PREVIEW = 80

Item: TypeAlias = "str | tuple[AgentMessage, Mapping[str, ToolResultMessage]]"
"""A note line, or a message with the results of its tool calls (by call id)."""


def is_base64(data: str) -> bool:
    """Whether ``data`` is plain base64 (safe to place in a ``data:`` URI)."""
    return bool(_B64.match(data))


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


def items_of(path: Sequence[Entry]) -> Iterator[Item]:
    """Notes and messages of ``path`` in order; tool results ride with their call's message."""
    messages: list[AgentMessage | str] = []
    for entry in path:
        note = _note(entry)
        if note is not None:
            messages.append(note)
        message = _message_of(entry)
        if message is not None:
            messages.append(message)
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolResultMessage)}
    calls = {c.id for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls}
    for m in messages:
        if isinstance(m, str):
            yield m
        elif isinstance(m, ToolResultMessage) and m.tool_call_id in calls:
            continue  # shown with its call
        elif isinstance(m, AssistantMessage):
            yield m, {c.id: results[c.id] for c in m.tool_calls if c.id in results}
        else:
            yield m, {}


def _short(value: JsonValue) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    s = " ".join(s.split("\n"))
    return s if len(s) <= _ARG_PREVIEW else s[: _ARG_PREVIEW - 1] + "…"


def tool_title(name: str, args: Mapping[str, JsonValue]) -> tuple[str, str]:
    """(name part, rest) of a call's one-line title: ``$`` + command, ``edit`` + path, ..."""
    path = args.get("path")
    if name == "bash":
        command = str(args.get("command", ""))
        first = command.split("\n", 1)[0]
        return "$", first + (" …" if "\n" in command else "")
    if name in ("read", "write", "edit", "ls") and isinstance(path, str):
        suffix = f":{args['offset']}" if name == "read" and args.get("offset") is not None else ""
        return name, path + suffix
    if name in ("grep", "find") and "pattern" in args:
        where = f" in {path}" if isinstance(path, str) else ""
        return name, _short(args["pattern"]) + where
    return name, " ".join(f"{k}={_short(v)}" for k, v in args.items())
