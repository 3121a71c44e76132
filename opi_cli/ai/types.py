"""Messages, content blocks and usage: the values every layer passes around.

All are frozen, slotted dataclasses, so an event that carries one is a true snapshot.
``to_json``/``from_json`` convert to and from the wire shape of PROTOCOL.md §3 (camelCase,
the same as pi), which is also the shape stored in session files.
"""

from __future__ import annotations

import sys
from dataclasses import field, replace
from typing import Literal, TypeAlias

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record

__all__ = [
    "AssistantContent",
    "AssistantMessage",
    "Cost",
    "ImageContent",
    "Message",
    "StopReason",
    "TextContent",
    "ThinkingContent",
    "ThinkingLevel",
    "ToolCall",
    "ToolResultMessage",
    "Usage",
    "UserContent",
    "UserMessage",
    "content_from_json",
    "content_to_json",
    "message_from_json",
    "message_to_json",
    "text_of",
]

StopReason = Literal["stop", "length", "toolUse", "error", "aborted"]
ThinkingLevel = Literal["off", "minimal", "low", "medium", "high", "xhigh"]
THINKING_LEVELS: tuple[ThinkingLevel, ...] = ("off", "minimal", "low", "medium", "high", "xhigh")


@record
class TextContent:
    """A run of text. ``text_signature`` carries a provider id needed for replay (Responses)."""

    text: str
    text_signature: str | None = None
    type: Literal["text"] = "text"


@record
class ThinkingContent:
    """Reasoning text. ``thinking_signature`` must be replayed byte for byte (Anthropic), or
    names the field it came in (``reasoning_content``), or holds a Responses reasoning item.
    ``redacted`` blocks keep the opaque data in the signature and show no text."""

    thinking: str
    thinking_signature: str | None = None
    redacted: bool = False
    type: Literal["thinking"] = "thinking"


@record
class ImageContent:
    """An image as base64 ``data`` with its MIME type."""

    data: str
    mime_type: str
    type: Literal["image"] = "image"


@record
class ToolCall:
    """A call the model asked for. ``arguments`` is the parsed JSON object; when the
    provider's text did not parse, it is ``{}`` and ``parse_error`` says why."""

    id: str
    name: str
    arguments: dict[str, JsonValue]
    parse_error: str | None = None
    type: Literal["toolCall"] = "toolCall"


UserContent: TypeAlias = TextContent | ImageContent
AssistantContent: TypeAlias = TextContent | ThinkingContent | ToolCall


@record
class Cost:
    """Dollars spent, per token category."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    total: float = 0.0


@record
class Usage:
    """Token counts of one response. ``input`` excludes cached tokens; ``cache_read`` and
    ``cache_write`` are counted apart; ``total_tokens`` is the sum of the four."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    total_tokens: int = 0
    cost: Cost = field(default_factory=Cost)

    def plus(self, other: Usage) -> Usage:
        c, o = self.cost, other.cost
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            self.total_tokens + other.total_tokens,
            Cost(
                c.input + o.input,
                c.output + o.output,
                c.cache_read + o.cache_read,
                c.cache_write + o.cache_write,
                c.total + o.total,
            ),
        )


@record
class UserMessage:
    content: tuple[UserContent, ...]
    timestamp: int
    role: Literal["user"] = "user"


@record
class AssistantMessage:
    content: tuple[AssistantContent, ...]
    api: str
    provider: str
    model: str
    usage: Usage
    stop_reason: StopReason
    timestamp: int
    error_message: str | None = None
    role: Literal["assistant"] = "assistant"

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(c for c in self.content if isinstance(c, ToolCall))

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.content if isinstance(c, TextContent))

    def with_(self, **changes: object) -> AssistantMessage:
        return replace(self, **changes)  # type: ignore[arg-type]


@record
class ToolResultMessage:
    tool_call_id: str
    tool_name: str
    content: tuple[UserContent, ...]
    is_error: bool
    timestamp: int
    details: JsonValue = None
    role: Literal["toolResult"] = "toolResult"


Message: TypeAlias = UserMessage | AssistantMessage | ToolResultMessage


def text_of(content: tuple[UserContent | AssistantContent, ...]) -> str:
    """The text blocks of some content joined together."""
    return "".join(c.text for c in content if isinstance(c, TextContent))


# ---------------------------------------------------------------------------------------------
# JSON (the wire/session shape)


def content_to_json(c: UserContent | AssistantContent) -> dict[str, JsonValue]:
    if isinstance(c, TextContent):
        d: dict[str, JsonValue] = {"type": "text", "text": c.text}
        if c.text_signature is not None:
            d["textSignature"] = c.text_signature
        return d
    if isinstance(c, ThinkingContent):
        d = {"type": "thinking", "thinking": c.thinking}
        if c.thinking_signature is not None:
            d["thinkingSignature"] = c.thinking_signature
        if c.redacted:
            d["redacted"] = True
        return d
    if isinstance(c, ImageContent):
        return {"type": "image", "data": c.data, "mimeType": c.mime_type}
    d = {"type": "toolCall", "id": c.id, "name": c.name, "arguments": c.arguments}
    if c.parse_error is not None:
        d["parseError"] = c.parse_error
    return d


_STOP_REASONS: dict[str, StopReason] = {
    "stop": "stop",
    "length": "length",
    "toolUse": "toolUse",
    "error": "error",
    "aborted": "aborted",
}


def _intern(value: JsonValue) -> str:
    return sys.intern(value) if isinstance(value, str) else str(value or "")


def content_from_json(d: JsonValue) -> UserContent | AssistantContent:
    if isinstance(d, str):
        return TextContent(d)
    kind = d.get("type")
    if kind == "text":
        return TextContent(str(d.get("text", "")), d.get("textSignature"))
    if kind == "thinking":
        return ThinkingContent(
            str(d.get("thinking", "")), d.get("thinkingSignature"), bool(d.get("redacted", False))
        )
    if kind == "image":
        return ImageContent(str(d.get("data", "")), str(d.get("mimeType", "image/png")))
    if kind == "toolCall":
        args = d.get("arguments")
        return ToolCall(
            str(d.get("id", "")),
            _intern(d.get("name", "")),
            args if isinstance(args, dict) else {},
            d.get("parseError"),
        )
    return TextContent(str(d.get("text", "")))


def usage_to_json(u: Usage) -> dict[str, JsonValue]:
    c = u.cost
    return {
        "input": u.input,
        "output": u.output,
        "cacheRead": u.cache_read,
        "cacheWrite": u.cache_write,
        "totalTokens": u.total_tokens,
        "cost": {
            "input": c.input,
            "output": c.output,
            "cacheRead": c.cache_read,
            "cacheWrite": c.cache_write,
            "total": c.total,
        },
    }


def usage_from_json(d: JsonValue) -> Usage:
    if not isinstance(d, dict):
        return Usage()
    c = d.get("cost") or {}
    return Usage(
        int(d.get("input", 0) or 0),
        int(d.get("output", 0) or 0),
        int(d.get("cacheRead", 0) or 0),
        int(d.get("cacheWrite", 0) or 0),
        int(d.get("totalTokens", 0) or 0),
        Cost(
            float(c.get("input", 0) or 0),
            float(c.get("output", 0) or 0),
            float(c.get("cacheRead", 0) or 0),
            float(c.get("cacheWrite", 0) or 0),
            float(c.get("total", 0) or 0),
        ),
    )


def _user_content(raw: JsonValue) -> tuple[UserContent, ...]:
    if isinstance(raw, str):
        return (TextContent(raw),)
    out: list[UserContent] = []
    for item in raw or []:
        c = content_from_json(item)
        if isinstance(c, TextContent | ImageContent):
            out.append(c)
    return tuple(out)


def message_to_json(m: Message) -> dict[str, JsonValue]:
    """The wire shape of a user, assistant or toolResult message."""
    if isinstance(m, UserMessage):
        return {
            "role": "user",
            "content": [content_to_json(c) for c in m.content],
            "timestamp": m.timestamp,
        }
    if isinstance(m, AssistantMessage):
        d: dict[str, JsonValue] = {
            "role": "assistant",
            "content": [content_to_json(c) for c in m.content],
            "api": m.api,
            "provider": m.provider,
            "model": m.model,
            "usage": usage_to_json(m.usage),
            "stopReason": m.stop_reason,
        }
        if m.error_message is not None:
            d["errorMessage"] = m.error_message
        d["timestamp"] = m.timestamp
        return d
    d = {
        "role": "toolResult",
        "toolCallId": m.tool_call_id,
        "toolName": m.tool_name,
        "content": [content_to_json(c) for c in m.content],
    }
    if m.details is not None:
        d["details"] = m.details
    d["isError"] = m.is_error
    d["timestamp"] = m.timestamp
    return d


def message_from_json(d: dict[str, JsonValue]) -> Message:
    """Inverse of :func:`message_to_json`; tolerant of files written by others.

    Raises:
        ValueError: the role is not user, assistant or toolResult.
    """
    role = d.get("role")
    ts = int(d.get("timestamp", 0) or 0)
    if role == "user":
        return UserMessage(_user_content(d.get("content")), ts)
    if role == "assistant":
        raw = d.get("content") or []
        content: list[AssistantContent] = []
        for item in [raw] if isinstance(raw, str) else raw:
            c = content_from_json(item)
            if isinstance(c, TextContent | ThinkingContent | ToolCall):
                content.append(c)
        stop = d.get("stopReason", "stop")
        return AssistantMessage(
            tuple(content),
            _intern(d.get("api", "")),  # the same few names in every message of a session:
            _intern(d.get("provider", "")),  # one copy each, not one per message
            _intern(d.get("model", "")),
            usage_from_json(d.get("usage")),
            _STOP_REASONS.get(stop, "stop") if isinstance(stop, str) else "stop",
            ts,
            d.get("errorMessage"),
        )
    if role == "toolResult":
        return ToolResultMessage(
            str(d.get("toolCallId", "")),
            _intern(d.get("toolName", "")),
            _user_content(d.get("content")),
            bool(d.get("isError", False)),
            ts,
            d.get("details"),
        )
    raise ValueError(f"not an LLM message role: {role!r}")
