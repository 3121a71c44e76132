"""Small message builders for the session tests."""

from __future__ import annotations

from opi_cli._util.ids import now_ms
from opi_cli.ai.types import (
    AssistantMessage,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

_clock = [0]


def _ts() -> int:
    """Now in ms, strictly increasing between calls."""
    _clock[0] = max(now_ms(), _clock[0] + 1)
    return _clock[0]


def user(text: str) -> UserMessage:
    return UserMessage((TextContent(text),), _ts())


def assistant(
    text: str = "", *, calls: tuple[ToolCall, ...] = (), thinking: str = "", stop: StopReason | None = None
) -> AssistantMessage:
    content: list[TextContent | ThinkingContent | ToolCall] = []
    if thinking:
        content.append(ThinkingContent(thinking, "reasoning_content"))
    if text:
        content.append(TextContent(text))
    content.extend(calls)
    reason: StopReason = stop or ("toolUse" if calls else "stop")
    return AssistantMessage(
        tuple(content), "openai-completions", "mock", "mock-model", Usage(10, 5, 0, 0, 15), reason, _ts()
    )


def tool_result(call: ToolCall, text: str, *, error: bool = False) -> ToolResultMessage:
    return ToolResultMessage(call.id, call.name, (TextContent(text),), error, _ts())
