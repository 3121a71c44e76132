"""The provider contract and the message builder every wire adapter shares.

An adapter turns (model, context, options) into an async iterator of
:data:`~opi_cli.ai.events.AssistantStreamEvent`. It uses :class:`MessageBuilder` to
accumulate blocks; the builder hands out :class:`Snapshot` handles that materialise the
message *as it was* at that event, lazily, so a stream of N deltas costs O(N) unless a
consumer asks for every snapshot (as ``--json`` does, whose output is itself that big).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from opi_cli._util.abort import AbortSignal
from opi_cli._util.ids import now_ms
from opi_cli._util.jsonio import JsonValue
from opi_cli.ai.events import (
    AssistantStreamEvent,
    ContentDelta,
    ContentEnd,
    ContentKind,
    ContentStart,
    ProviderError,
    StreamDone,
    StreamError,
    StreamStart,
)
from opi_cli.ai.model import Model, compute_cost
from opi_cli.ai.types import (
    AssistantContent,
    AssistantMessage,
    Message,
    StopReason,
    TextContent,
    ThinkingContent,
    ThinkingLevel,
    ToolCall,
    Usage,
)

__all__ = [
    "LlmContext",
    "MessageBuilder",
    "Provider",
    "StreamOptions",
    "ToolSpec",
    "parse_partial_json",
]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON Schema of its arguments.

    ``strict`` asks OpenAI-style APIs to constrain the model's arguments to the schema
    (their strict function calling: every property required, ``additionalProperties:
    false``). Sent where the API and server support it; opi validates every call anyway.
    """

    name: str
    description: str
    parameters: dict[str, JsonValue]
    strict: bool = False


@dataclass(frozen=True, slots=True)
class LlmContext:
    """Everything sent to the model for one request."""

    system_prompt: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """Per-request options.

    Attributes:
        api_key: the key for this request (never logged).
        signal: aborts the request; the stream then ends with ``stop_reason`` ``aborted``.
        thinking_level: sent only to reasoning models, in the form their API expects.
        max_tokens: output cap; defaults to ``min(model.max_tokens, 32000)``.
        temperature: sent only when set.
        json_mode: ask for a JSON object answer (Chat Completions ``response_format``).
        headers: extra request headers.
        session_id: for providers' prompt-cache keys.
        on_payload: sees (and may replace) the request body before it is sent.
        transport: an httpx transport for tests (``httpx.MockTransport``); typed loosely so
            that layers above this one need not import httpx.
        client: a shared ``httpx.AsyncClient`` (connection reuse across turns).
        timeout_s: read timeout per chunk.
        stream: ``False`` asks Chat Completions for one whole JSON reply instead of a stream
            (for servers that stream badly); the events are the same, all at once. Other
            APIs always stream.
    """

    api_key: str | None = None
    signal: AbortSignal | None = None
    thinking_level: ThinkingLevel = "off"
    max_tokens: int | None = None
    temperature: float | None = None
    json_mode: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    session_id: str | None = None
    on_payload: Callable[[dict[str, JsonValue]], dict[str, JsonValue] | None] | None = None
    transport: object | None = None
    client: object | None = None
    timeout_s: float = 600.0
    stream: bool = True


class Provider(Protocol):
    """Anything that can stream an assistant message (a wire adapter, the faux provider)."""

    def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]: ...


# ---------------------------------------------------------------------------------------------
# Partial JSON (UI previews of tool arguments while they stream)

_CLOSERS = ("", '"', "}", '"}', "]}", '"]}', "}}", '"}}', "null}", '":null}')


def parse_partial_json(text: str) -> dict[str, JsonValue]:
    """Best-effort parse of a JSON object that may be cut off; ``{}`` when hopeless."""
    s = text.strip()
    if not s:
        return {}
    for closer in _CLOSERS:
        try:
            v = json.loads(s + closer)
        except ValueError:
            continue
        return v if isinstance(v, dict) else {}
    return {}


# ---------------------------------------------------------------------------------------------
# The builder


class _Block:
    __slots__ = ("chunks", "closed", "final", "kind", "redacted", "sig_chunks", "tool_id", "tool_name")

    def __init__(self, kind: ContentKind, tool_id: str = "", tool_name: str = "") -> None:
        self.kind = kind
        self.chunks: list[str] = []
        self.sig_chunks: list[str] = []
        self.tool_id = tool_id
        self.tool_name = tool_name
        self.redacted = False
        self.closed = False
        self.final: AssistantContent | None = None

    def materialise(self, n_chunks: int, n_sig: int) -> AssistantContent:
        if self.final is not None and n_chunks == len(self.chunks) and n_sig == len(self.sig_chunks):
            return self.final
        text = "".join(self.chunks[:n_chunks])
        sig = "".join(self.sig_chunks[:n_sig]) or None
        if self.kind == "text":
            return TextContent(text, sig)
        if self.kind == "thinking":
            return ThinkingContent(text, sig, self.redacted)
        return ToolCall(self.tool_id, self.tool_name, parse_partial_json(text))


class Snapshot:
    """The message as it was when an event was made; materialised on first use."""

    __slots__ = ("_builder", "_cache", "_counts", "_error", "_stop", "_usage")

    def __init__(self, builder: MessageBuilder) -> None:
        self._builder = builder
        self._counts = tuple((len(b.chunks), len(b.sig_chunks)) for b in builder.blocks)
        self._usage = builder.usage
        self._stop = builder.stop_reason
        self._error = builder.error_message
        self._cache: AssistantMessage | None = None

    def message(self) -> AssistantMessage:
        if self._cache is None:
            b = self._builder
            content = tuple(
                block.materialise(n, s) for block, (n, s) in zip(b.blocks, self._counts, strict=False)
            )
            self._cache = AssistantMessage(
                content, b.api, b.provider, b.model_id, self._usage, self._stop, b.timestamp, self._error
            )
        return self._cache


class MessageBuilder:
    """Accumulates one assistant message and produces the stream events for it.

    Blocks are addressed by a caller-chosen ``key`` (Anthropic's block index, a Chat
    Completions tool-call index, a Responses item id, ...). Every method that changes the
    message returns the event to yield.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.api = model.api
        self.provider = model.provider
        self.model_id = model.id
        self.timestamp = now_ms()
        self.blocks: list[_Block] = []
        self._keys: dict[object, int] = {}
        self.usage = Usage()
        self.stop_reason: StopReason = "stop"
        self.error_message: str | None = None

    # -- queries
    def has(self, key: object) -> bool:
        return key in self._keys

    def is_open(self, key: object) -> bool:
        i = self._keys.get(key)
        return i is not None and not self.blocks[i].closed

    def kind_of(self, key: object) -> ContentKind | None:
        i = self._keys.get(key)
        return None if i is None else self.blocks[i].kind

    def text_of(self, key: object) -> str:
        return "".join(self.blocks[self._keys[key]].chunks)

    def open_keys(self) -> list[object]:
        return [k for k, i in self._keys.items() if not self.blocks[i].closed]

    @property
    def has_tool_calls(self) -> bool:
        return any(b.kind == "toolcall" for b in self.blocks)

    def snapshot(self) -> AssistantMessage:
        return Snapshot(self).message()

    # -- changes
    def start(self) -> StreamStart:
        return StreamStart(Snapshot(self).message())

    def open(self, key: object, kind: ContentKind, *, tool_id: str = "", tool_name: str = "") -> ContentStart:
        """Start a block under ``key`` (a key may be reused after its block closed)."""
        self._keys[key] = len(self.blocks)
        self.blocks.append(_Block(kind, tool_id, tool_name))
        return ContentStart(kind, len(self.blocks) - 1, Snapshot(self))

    def append(self, key: object, delta: str) -> ContentDelta:
        i = self._keys[key]
        block = self.blocks[i]
        block.chunks.append(delta)
        return ContentDelta(block.kind, i, delta, Snapshot(self))

    def append_signature(self, key: object, sig: str) -> None:
        self.blocks[self._keys[key]].sig_chunks.append(sig)

    def set_signature(self, key: object, sig: str) -> None:
        self.blocks[self._keys[key]].sig_chunks[:] = [sig]

    def set_text(self, key: object, text: str) -> None:
        """Replace a block's whole text (an authoritative ``*.done`` value)."""
        self.blocks[self._keys[key]].chunks[:] = [text]

    def set_redacted(self, key: object) -> None:
        self.blocks[self._keys[key]].redacted = True

    def set_tool_meta(self, key: object, *, tool_id: str | None = None, name: str | None = None) -> None:
        block = self.blocks[self._keys[key]]
        if tool_id:
            block.tool_id = tool_id
        if name and not block.tool_name:
            block.tool_name = name

    def close(self, key: object) -> ContentEnd | None:
        """End the block under ``key``; ``None`` if it was already closed."""
        i = self._keys[key]
        block = self.blocks[i]
        if block.closed:
            return None
        block.closed = True
        raw = "".join(block.chunks)
        final: AssistantContent
        if block.kind == "toolcall":
            final = _final_tool_call(block.tool_id, block.tool_name, raw)
        elif block.kind == "text":
            final = TextContent(raw, "".join(block.sig_chunks) or None)
        else:
            final = ThinkingContent(raw, "".join(block.sig_chunks) or None, block.redacted)
        block.final = final
        return ContentEnd(block.kind, i, final, Snapshot(self))

    def close_all(self) -> list[ContentEnd]:
        out = []
        for key in self.open_keys():
            ev = self.close(key)
            if ev is not None:
                out.append(ev)
        return out

    def set_usage(self, usage: Usage) -> None:
        self.usage = compute_cost(self.model, usage)

    def done(self, stop_reason: StopReason) -> StreamDone:
        self.stop_reason = stop_reason
        return StreamDone(Snapshot(self).message())

    def fail(self, error: ProviderError, *, aborted: bool = False) -> StreamError:
        """End with an error; open blocks are kept as they are (a partial message)."""
        for block in self.blocks:
            if not block.closed and block.kind != "toolcall":
                block.closed = True
        self.blocks = [b for b in self.blocks if b.closed or b.kind != "toolcall"]
        self._keys = {}
        self.stop_reason = "aborted" if aborted else "error"
        self.error_message = error.message
        return StreamError(Snapshot(self).message(), error)


def _final_tool_call(tool_id: str, name: str, raw: str) -> ToolCall:
    if not raw.strip():
        return ToolCall(tool_id, name, {})
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return ToolCall(tool_id, name, {}, f"arguments are not valid JSON ({exc}): {raw[:2000]}")
    if not isinstance(value, dict):
        return ToolCall(tool_id, name, {}, f"arguments are not a JSON object: {raw[:2000]}")
    return ToolCall(tool_id, name, value)


def error_message(model: Model, error: ProviderError, *, aborted: bool = False) -> StreamError:
    """A whole failed stream for a request that failed before any content arrived."""
    return MessageBuilder(model).fail(error, aborted=aborted)

