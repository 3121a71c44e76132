"""The tool-calling loop: stream a reply, run its tool calls, repeat, then follow-ups.

``run_loop`` knows nothing of files, sessions or terminals. It appends to the message
list it is given, reports everything through ``emit`` (synchronously, in order), and owns
the one retry layer (PROTOCOL.md §5). Order of a turn: transform context, convert to LLM
messages, check capabilities, stream, validate and run tool calls (parallel unless a tool
is sequential; results reported in call order), hooks, then steering, then follow-ups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import field, replace

from opi_cli._util.abort import AbortSignal
from opi_cli._util.ids import now_ms
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.events import (
    AgentEnd,
    AgentEvent,
    AgentStart,
    AutoRetryEnd,
    AutoRetryStart,
    MessageEnd,
    MessageStart,
    MessageUpdate,
    ToolExecutionEnd,
    ToolExecutionStart,
    ToolExecutionUpdate,
    TurnEnd,
    TurnStart,
)
from opi_cli.agent.hooks import (
    AgentHooks,
    BeforeToolCallResult,
    StopRun,
    ToolCallContext,
    TurnContext,
)
from opi_cli.agent.messages import AgentMessage, convert_to_llm
from opi_cli.agent.tool import Tool, ToolResult, ToolUpdate, error_result, tool_spec
from opi_cli.agent.validation import validate_arguments
from opi_cli.ai.events import (
    ContentDelta,
    ContentEnd,
    ContentStart,
    ProviderError,
    StreamDone,
    StreamError,
    StreamStart,
)
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, Provider, StreamOptions
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    Message,
    TextContent,
    ThinkingLevel,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

__all__ = ["SKIPPED_TEXT", "LoopConfig", "RetrySettings", "run_loop"]

SKIPPED_TEXT = "Skipped due to queued user message."
Emit = Callable[[AgentEvent], None]


@record
class RetrySettings:
    """The ``retry`` settings: delays are ``base_delay_ms * 2**(attempt-1)``; a server's
    ``retry-after`` wins, but one above ``max_delay_ms`` (0 = no cap) is not waited for."""

    enabled: bool = True
    max_retries: int = 3
    base_delay_ms: int = 2000
    max_delay_ms: int = 60000


@record(frozen=False)
class LoopConfig:
    """What one run needs; the Agent builds it from its state for every run.

    ``get_steering``/``get_follow_up`` drain the queues (they return the messages to deliver
    now, honouring one-at-a-time or all).
    """

    provider: Provider
    model: Model
    system_prompt: str = ""
    tools: Sequence[Tool] = ()
    thinking_level: ThinkingLevel = "off"
    stream_options: StreamOptions = field(default_factory=StreamOptions)
    hooks: AgentHooks = field(default_factory=AgentHooks)
    retry: RetrySettings = field(default_factory=RetrySettings)
    max_turns: int | None = None
    get_steering: Callable[[], list[AgentMessage]] = lambda: []
    get_follow_up: Callable[[], list[AgentMessage]] = lambda: []
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class _RunState:
    __slots__ = ("added", "all_terminate", "emit", "messages", "turns")

    def __init__(self, messages: list[AgentMessage], emit: Emit) -> None:
        self.messages = messages
        self.emit = emit
        self.added: list[AgentMessage] = []
        self.turns = 0
        self.all_terminate = False  # every result of the last tool batch asked to stop

    def push(self, m: AgentMessage) -> None:
        self.messages.append(m)
        self.added.append(m)
        self.emit(MessageStart(m))
        self.emit(MessageEnd(m))


async def run_loop(
    prompts: Sequence[AgentMessage],
    messages: list[AgentMessage],
    config: LoopConfig,
    signal: AbortSignal,
    emit: Emit,
) -> list[AgentMessage]:
    """Run until the agent stops; returns the messages this run added (also in ``messages``).

    With no prompts this continues from the current context (retry/overflow recovery).
    """
    st = _RunState(messages, emit)
    emit(AgentStart())
    emit(TurnStart())
    for p in prompts:
        st.push(p)
    pending = config.get_steering()
    first = True
    while True:
        more_tools = True
        while more_tools or pending:
            if not first:
                emit(TurnStart())
            first = False
            for m in pending:
                st.push(m)
            pending = []
            assistant = await _turn_reply(st, config, signal)
            if assistant.stop_reason in ("error", "aborted"):
                emit(TurnEnd(assistant, ()))
                emit(AgentEnd(tuple(st.added)))
                return st.added
            calls = assistant.tool_calls
            results: list[ToolResultMessage] = []
            steering: list[AgentMessage] = []
            if calls:
                results, steering = await _run_tools(st, config, signal, calls)
            emit(TurnEnd(assistant, tuple(results)))
            more_tools = bool(calls) and not st.all_terminate
            ctx = TurnContext(assistant, tuple(results), tuple(st.messages), st.turns)
            if await _turn_hooks(st, config, ctx):
                emit(AgentEnd(tuple(st.added)))
                return st.added
            pending = steering or config.get_steering()
        follow = config.get_follow_up()
        if not follow:
            break
        pending = follow
    emit(AgentEnd(tuple(st.added)))
    return st.added


async def _turn_hooks(st: _RunState, config: LoopConfig, ctx: TurnContext) -> bool:
    """Run ``should_stop_after_turn`` and ``prepare_next_turn``; True when the run must end.

    A hook that raises ends the run like a failed request: an assistant message with
    ``stopReason: "error"`` naming the hook and the exception is added (the run's answer),
    and ``agent_end`` follows as always.
    """
    hooks = config.hooks
    name = "should_stop_after_turn"
    try:
        if hooks.should_stop_after_turn is not None and await hooks.should_stop_after_turn(ctx):
            return True
        name = "prepare_next_turn"
        if hooks.prepare_next_turn is not None:
            update = await hooks.prepare_next_turn(ctx)
            if update is not None:
                _apply_update(config, update)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a hook failed: the run ends with that error
        st.push(_synthetic_error(config, f"The {name} hook failed: {type(exc).__name__}: {exc}"))
        return True
    return False


def _apply_update(config: LoopConfig, update: object) -> None:
    for name in ("system_prompt", "model", "thinking_level", "tools"):
        value = getattr(update, name, None)
        if value is not None:
            setattr(config, name, value)


# ---------------------------------------------------------------------------------------------
# one model call, with the retry layer


def _synthetic_error(config: LoopConfig, text: str, *, aborted: bool = False) -> AssistantMessage:
    m = config.model
    return AssistantMessage((), m.api, m.provider, m.id, Usage(), "aborted" if aborted else "error", now_ms(), text)


async def _turn_reply(st: _RunState, config: LoopConfig, signal: AbortSignal) -> AssistantMessage:
    st.turns += 1
    if config.max_turns is not None and st.turns > config.max_turns:
        msg = _synthetic_error(
            config,
            f"Stopped after {config.max_turns} turns (--max-turns {config.max_turns}); "
            "the agent was still calling tools. Continue with a new prompt or raise the limit.",
        )
        st.push(msg)
        return msg
    attempt = 0
    retry = config.retry
    while True:
        msg, error = await _stream_once(st, config, signal)
        retryable = error is not None and error.retryable and retry.enabled and not signal.aborted
        if not retryable:
            if attempt > 0:
                ok = msg.stop_reason not in ("error", "aborted")
                st.emit(AutoRetryEnd(ok, attempt, None if ok else msg.error_message))
            return msg
        assert error is not None
        attempt += 1
        if attempt > retry.max_retries:
            st.emit(AutoRetryEnd(False, retry.max_retries, msg.error_message))
            return msg
        delay = retry.base_delay_ms * 2 ** (attempt - 1)
        if error.retry_after_ms is not None:
            if retry.max_delay_ms and error.retry_after_ms > retry.max_delay_ms:
                st.emit(
                    AutoRetryEnd(
                        False,
                        attempt - 1,
                        f"{msg.error_message} (server asked to wait {error.retry_after_ms} ms, "
                        f"more than retry.maxDelayMs {retry.max_delay_ms})",
                    )
                )
                return msg
            delay = error.retry_after_ms
        st.emit(AutoRetryStart(attempt, retry.max_retries, delay, msg.error_message or error.message))
        if await _sleep_or_abort(config, signal, delay / 1000):
            st.emit(AutoRetryEnd(False, attempt, "Retry cancelled"))
            return msg


async def _sleep_or_abort(config: LoopConfig, signal: AbortSignal, seconds: float) -> bool:
    """Sleep; True if the abort signal fired first."""
    sleeper = asyncio.ensure_future(config.sleep(seconds))
    waiter = asyncio.ensure_future(signal.wait())
    try:
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        left = [t for t in (sleeper, waiter) if not t.done()]
        for t in left:
            t.cancel()
        if left:
            await asyncio.wait(left)
    return signal.aborted


def _llm_messages(config: LoopConfig, agent_messages: list[AgentMessage]) -> tuple[list[Message], str | None]:
    """Convert for the model; images for a text-only model are an error only in the
    newest user message (older ones are replaced by a note)."""
    convert = config.hooks.convert_to_llm or convert_to_llm
    out = convert(agent_messages)
    if config.model.supports_images:
        return out, None
    last_user = max((i for i, m in enumerate(out) if isinstance(m, UserMessage)), default=-1)
    cleaned: list[Message] = []
    for i, m in enumerate(out):
        if isinstance(m, UserMessage | ToolResultMessage) and any(isinstance(c, ImageContent) for c in m.content):
            if i == last_user and isinstance(m, UserMessage):
                return out, (
                    f"Model {config.model.ref} does not accept images. "
                    "Switch to a model with image input (see `opi models`) or remove the image."
                )
            note = TextContent("(image omitted: the current model does not accept images)")
            content = tuple(note if isinstance(c, ImageContent) else c for c in m.content)
            m = replace(m, content=content)
        cleaned.append(m)
    return cleaned, None


async def _stream_once(
    st: _RunState, config: LoopConfig, signal: AbortSignal
) -> tuple[AssistantMessage, ProviderError | None]:
    try:
        context_msgs = list(st.messages)
        if config.hooks.transform_context is not None:
            context_msgs = await config.hooks.transform_context(context_msgs, signal)
        llm, problem = _llm_messages(config, context_msgs)
    except asyncio.CancelledError:
        raise
    except StopRun as exc:  # a hook ended the run on purpose: its message says why
        problem, llm = str(exc), []
    except Exception as exc:  # a hook failed: the run ends with that error
        problem = f"Preparing the request failed: {type(exc).__name__}: {exc}"
        llm = []
    if problem is not None:
        msg = _synthetic_error(config, problem)
        st.push(msg)
        return msg, ProviderError("bad_request", problem)
    options = replace(config.stream_options, signal=signal, thinking_level=config.thinking_level)
    ctx = LlmContext(config.system_prompt, tuple(llm), tuple(tool_spec(t) for t in config.tools))
    start: StreamStart | None = None
    started = False
    final: AssistantMessage | None = None
    error: ProviderError | None = None
    try:
        async for ev in config.provider.stream(config.model, ctx, options):
            if isinstance(ev, StreamStart):
                start = ev
            elif isinstance(ev, ContentStart | ContentDelta | ContentEnd):
                if not started:
                    started = True
                    st.emit(MessageStart(start.partial if start else ev.partial))
                st.emit(MessageUpdate(ev))
            elif isinstance(ev, StreamDone):
                final = ev.message
            elif isinstance(ev, StreamError):
                final, error = ev.message, ev.error
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a provider broke its promise not to raise (a user's own, say)
        final = _synthetic_error(config, f"The provider failed: {type(exc).__name__}: {exc}")
        error = ProviderError("other", final.error_message or "")
    if final is None:
        final = _synthetic_error(config, "The provider ended the stream without a result.")
        error = ProviderError("incomplete", final.error_message or "")
    if not started:
        st.emit(MessageStart(final))
    st.messages.append(final)
    st.added.append(final)
    st.emit(MessageEnd(final))
    return final, error


# ---------------------------------------------------------------------------------------------
# tools


@record(frozen=False)
class _Prepared:
    call: ToolCall
    tool: Tool | None
    args: dict[str, JsonValue]
    result: ToolResult | None  # set when preparation already failed


async def _prepare(config: LoopConfig, st: _RunState, call: ToolCall) -> _Prepared:
    tool = next((t for t in config.tools if t.name == call.name), None)
    if tool is None:
        return _Prepared(call, None, call.arguments, error_result(f"Tool {call.name} not found"))
    if call.parse_error is not None:
        text = f'Validation failed for tool "{call.name}":\n  - root: {call.parse_error}'
        return _Prepared(call, tool, call.arguments, error_result(text))
    args, problem = validate_arguments(call.name, tool.parameters, call.arguments)
    if problem is not None:
        return _Prepared(call, tool, args, error_result(problem))
    if config.hooks.before_tool_call is not None:
        try:
            verdict = await config.hooks.before_tool_call(ToolCallContext(call, args, tuple(st.messages)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            verdict = BeforeToolCallResult(True, f"before_tool_call hook failed: {exc}")
        if verdict is not None and verdict.block:
            return _Prepared(call, tool, args, error_result(verdict.reason or "Tool execution was blocked"))
    return _Prepared(call, tool, args, None)


async def _execute(st: _RunState, p: _Prepared, signal: AbortSignal) -> ToolResult:
    assert p.tool is not None
    call = p.call

    def on_update(update: ToolUpdate) -> None:
        st.emit(ToolExecutionUpdate(call.id, call.name, p.args, update.content, update.details))

    try:
        return await p.tool.execute(call.id, p.args, signal, on_update)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a tool failure is a result the model reads
        return error_result(str(exc) or type(exc).__name__)


async def _finish(st: _RunState, config: LoopConfig, p: _Prepared, result: ToolResult) -> ToolResultMessage:
    if config.hooks.after_tool_call is not None and p.tool is not None:
        try:
            override = await config.hooks.after_tool_call(ToolCallContext(p.call, p.args, tuple(st.messages)), result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            override = None
            result = error_result(f"after_tool_call hook failed: {exc}")
        if override is not None:
            result = ToolResult(
                tuple(override.content) if override.content is not None else result.content,  # type: ignore[arg-type]
                override.details if override.details is not None else result.details,
                override.is_error if override.is_error is not None else result.is_error,
                result.terminate,
            )
    st.emit(ToolExecutionEnd(p.call.id, p.call.name, result.content, result.details, result.is_error))
    st.all_terminate = st.all_terminate and result.terminate
    msg = ToolResultMessage(p.call.id, p.call.name, result.content, result.is_error, now_ms(), result.details)
    st.push(msg)
    return msg


async def _run_tools(
    st: _RunState, config: LoopConfig, signal: AbortSignal, calls: tuple[ToolCall, ...]
) -> tuple[list[ToolResultMessage], list[AgentMessage]]:
    st.all_terminate = True
    prepared: list[_Prepared] = []
    for call in calls:
        st.emit(ToolExecutionStart(call.id, call.name, call.arguments))
        prepared.append(await _prepare(config, st, call))
    sequential = any(p.tool is not None and p.tool.execution_mode == "sequential" for p in prepared)
    results: list[ToolResultMessage] = []
    steering = config.get_steering()
    if steering:  # arrived before execution started: nothing runs
        for p in prepared:
            results.append(await _finish(st, config, p, p.result or error_result(SKIPPED_TEXT)))
        return results, steering
    if sequential:
        for p in prepared:
            if steering:
                results.append(await _finish(st, config, p, p.result or error_result(SKIPPED_TEXT)))
                continue
            result = p.result or await _execute(st, p, signal)
            results.append(await _finish(st, config, p, result))
            steering = config.get_steering()
        return results, steering
    tasks: list[asyncio.Task[ToolResult] | None] = [
        None if p.result is not None else asyncio.ensure_future(_execute(st, p, signal)) for p in prepared
    ]
    try:
        for p, task in zip(prepared, tasks, strict=True):
            outcome = p.result if task is None else await task
            assert outcome is not None
            results.append(await _finish(st, config, p, outcome))
    finally:
        # on cancellation, the other tools' tasks are cancelled and waited for, so no tool
        # cleanup runs after the run (and ``prompt()``) has ended
        running = [t for t in tasks if t is not None and not t.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
    return results, []
