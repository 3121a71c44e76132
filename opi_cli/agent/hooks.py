"""The six optional hooks of seed 001 and the values they receive and return.

Each hook is an optional callable on :class:`AgentHooks`; ``None`` means the default.
A hook that raises is reported as an error of the run (or, for ``before_tool_call``, as
a blocked tool call); it never crashes the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import Tool, ToolResult
from opi_cli.ai.model import Model
from opi_cli.ai.types import AssistantMessage, Message, ThinkingLevel, ToolCall, ToolResultMessage

__all__ = [
    "AfterToolCallResult",
    "AgentHooks",
    "BeforeToolCallResult",
    "PrepareNextTurnUpdate",
    "ToolCallContext",
    "TurnContext",
]


@dataclass(frozen=True, slots=True)
class ToolCallContext:
    tool_call: ToolCall
    args: dict[str, JsonValue]
    messages: tuple[AgentMessage, ...]


@dataclass(frozen=True, slots=True)
class BeforeToolCallResult:
    """Return ``block=True`` to refuse the call; ``reason`` becomes the error result text."""

    block: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AfterToolCallResult:
    """Fields left ``None`` keep the tool's own value."""

    content: tuple[object, ...] | None = None
    details: JsonValue = None
    is_error: bool | None = None


@dataclass(frozen=True, slots=True)
class TurnContext:
    message: AssistantMessage
    tool_results: tuple[ToolResultMessage, ...]
    messages: tuple[AgentMessage, ...]
    turn: int


@dataclass(frozen=True, slots=True)
class PrepareNextTurnUpdate:
    """Changes applied before the next model call (``None`` = unchanged)."""

    system_prompt: str | None = None
    model: Model | None = None
    thinking_level: ThinkingLevel | None = None
    tools: Sequence[Tool] | None = None


@dataclass(frozen=True, slots=True)
class AgentHooks:
    transform_context: Callable[[list[AgentMessage], AbortSignal], Awaitable[list[AgentMessage]]] | None = None
    convert_to_llm: Callable[[list[AgentMessage]], list[Message]] | None = None
    before_tool_call: Callable[[ToolCallContext], Awaitable[BeforeToolCallResult | None]] | None = None
    after_tool_call: Callable[[ToolCallContext, ToolResult], Awaitable[AfterToolCallResult | None]] | None = None
    should_stop_after_turn: Callable[[TurnContext], Awaitable[bool]] | None = None
    prepare_next_turn: Callable[[TurnContext], Awaitable[PrepareNextTurnUpdate | None]] | None = None
    extra: dict[str, object] = field(default_factory=dict)
