"""The six optional hooks of seed 001 and the values they receive and return.

Each hook is an optional callable on :class:`AgentHooks`; ``None`` means the default.
A hook that raises never crashes the loop: ``before_tool_call`` blocks that call,
``after_tool_call`` turns the result into an error result, and the others end the run with
an error message naming the hook (``agent_end`` follows as always).

Several sources of hooks (a library user's, the settings' shell hooks, the permission
gate, extensions) are combined with :func:`compose_hooks` into one :class:`AgentHooks`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import field

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import Tool, ToolResult
from opi_cli.ai.model import Model
from opi_cli.ai.types import AssistantMessage, Message, ThinkingLevel, ToolCall, ToolResultMessage
from opi_cli.errors import AgentError

__all__ = [
    "AfterToolCallResult",
    "AgentHooks",
    "BeforeToolCallResult",
    "PrepareNextTurnUpdate",
    "StopRun",
    "ToolCallContext",
    "TurnContext",
    "compose_hooks",
]


class StopRun(AgentError):
    """Raised by ``transform_context`` to end the run before the request, on purpose (the
    cost ceiling): the run ends with an error message that is exactly this text."""


@record
class ToolCallContext:
    tool_call: ToolCall
    args: dict[str, JsonValue]
    messages: tuple[AgentMessage, ...]


@record
class BeforeToolCallResult:
    """Return ``block=True`` to refuse the call; ``reason`` becomes the error result text."""

    block: bool = False
    reason: str | None = None


@record
class AfterToolCallResult:
    """Fields left ``None`` keep the tool's own value."""

    content: tuple[object, ...] | None = None
    details: JsonValue = None
    is_error: bool | None = None


@record
class TurnContext:
    message: AssistantMessage
    tool_results: tuple[ToolResultMessage, ...]
    messages: tuple[AgentMessage, ...]
    turn: int


@record
class PrepareNextTurnUpdate:
    """Changes applied before the next model call (``None`` = unchanged)."""

    system_prompt: str | None = None
    model: Model | None = None
    thinking_level: ThinkingLevel | None = None
    tools: Sequence[Tool] | None = None


@record
class AgentHooks:
    transform_context: Callable[[list[AgentMessage], AbortSignal], Awaitable[list[AgentMessage]]] | None = None
    convert_to_llm: Callable[[list[AgentMessage]], list[Message]] | None = None
    before_tool_call: Callable[[ToolCallContext], Awaitable[BeforeToolCallResult | None]] | None = None
    after_tool_call: Callable[[ToolCallContext, ToolResult], Awaitable[AfterToolCallResult | None]] | None = None
    should_stop_after_turn: Callable[[TurnContext], Awaitable[bool]] | None = None
    prepare_next_turn: Callable[[TurnContext], Awaitable[PrepareNextTurnUpdate | None]] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def compose_hooks(*layers: AgentHooks | None) -> AgentHooks:
    """One :class:`AgentHooks` that runs ``layers`` in order (``None`` layers are skipped).

    - ``transform_context``: each transforms the previous one's output.
    - ``convert_to_llm``: the first layer that has one (it replaces the default conversion).
    - ``before_tool_call``: in order; the first verdict that blocks wins and later layers
      are not asked (a permission gate before a shell hook means a denied call runs no hook).
    - ``after_tool_call``: in order; each sees the result as the earlier layers changed it,
      and the changes are merged (later fields win).
    - ``should_stop_after_turn``: stop if any layer says so (all are asked).
    - ``prepare_next_turn``: all are asked; their updates are merged, later fields win.
    - ``extra``: merged, later keys win.
    """
    hs = [h for h in layers if h is not None]
    if len(hs) == 1:
        return hs[0]
    transforms = [h.transform_context for h in hs if h.transform_context is not None]
    befores = [h.before_tool_call for h in hs if h.before_tool_call is not None]
    afters = [h.after_tool_call for h in hs if h.after_tool_call is not None]
    stops = [h.should_stop_after_turn for h in hs if h.should_stop_after_turn is not None]
    prepares = [h.prepare_next_turn for h in hs if h.prepare_next_turn is not None]
    convert = next((h.convert_to_llm for h in hs if h.convert_to_llm is not None), None)
    extra: dict[str, object] = {}
    for h in hs:
        extra.update(h.extra)

    async def transform(messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
        for fn in transforms:
            messages = await fn(messages, signal)
        return messages

    async def before(ctx: ToolCallContext) -> BeforeToolCallResult | None:
        for fn in befores:
            verdict = await fn(ctx)
            if verdict is not None and verdict.block:
                return verdict
        return None

    async def after(ctx: ToolCallContext, result: ToolResult) -> AfterToolCallResult | None:
        merged: AfterToolCallResult | None = None
        for fn in afters:
            change = await fn(ctx, result)
            if change is None:
                continue
            result = ToolResult(
                tuple(change.content) if change.content is not None else result.content,  # type: ignore[arg-type]
                change.details if change.details is not None else result.details,
                change.is_error if change.is_error is not None else result.is_error,
                result.terminate,
            )
            merged = AfterToolCallResult(result.content, result.details, result.is_error)
        return merged

    async def stop(ctx: TurnContext) -> bool:
        answers = [await fn(ctx) for fn in stops]
        return any(answers)

    async def prepare(ctx: TurnContext) -> PrepareNextTurnUpdate | None:
        merged: PrepareNextTurnUpdate | None = None
        for fn in prepares:
            update = await fn(ctx)
            if update is None:
                continue
            base = merged or PrepareNextTurnUpdate()
            merged = PrepareNextTurnUpdate(
                update.system_prompt if update.system_prompt is not None else base.system_prompt,
                update.model if update.model is not None else base.model,
                update.thinking_level if update.thinking_level is not None else base.thinking_level,
                update.tools if update.tools is not None else base.tools,
            )
        return merged

    return AgentHooks(
        transform_context=transform if transforms else None,
        convert_to_llm=convert,
        before_tool_call=before if befores else None,
        after_tool_call=after if afters else None,
        should_stop_after_turn=stop if stops else None,
        prepare_next_turn=prepare if prepares else None,
        extra=extra,
    )
