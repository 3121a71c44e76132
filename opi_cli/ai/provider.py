"""The provider contract and the message builder every wire adapter shares.

An adapter turns (model, context, options) into an async iterator of
:data:`~opi_cli.ai.events.AssistantStreamEvent`. It uses :class:`MessageBuilder` to
accumulate blocks. The builder is append-only and every event carries an immutable
:class:`Snapshot` of the message *as it was* at that event (materialised lazily, sharing
every piece that did not change), so a stream of N deltas costs O(N) unless a consumer
asks for every snapshot, and a kept event never shows text that arrived later.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import field
from typing import Protocol

from opi_cli._util.abort import AbortSignal
from opi_cli._util.ids import now_ms
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
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
from opi_cli.ai.timeouts import DEFAULT_TIMEOUTS, HttpTimeouts
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
    "guarded",
    "internal_failure",
    "parse_partial_json",
]


@record
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


@record
class LlmContext:
    """Everything sent to the model for one request."""

    system_prompt: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()


@record
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
        timeout_s: an upper bound on the first-byte and idle waits of ``timeouts``.
        timeouts: the connect, first-byte, idle and whole-request limits of each request.
        key_endpoint: the base URL ``api_key`` was given for; when set, a request to any
            other URL fails before sending instead of handing the key to another server.
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
    timeouts: HttpTimeouts = DEFAULT_TIMEOUTS
    key_endpoint: str | None = None


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
#
# Append-only: a block's text and signature pieces only ever grow (a replacement, such as an
# authoritative ``*.done`` value, is appended and the view's window moved past the old
# pieces), and every change makes a new immutable :class:`_View` of the block. A snapshot is
# the tuple of views at that moment, so it shares every piece and view that did not change
# and costs O(blocks) to take, while reading it later still shows the message as it was.


class _Block:
    """The growing pieces of one content block (never shortened or rewritten)."""

    __slots__ = ("chunks", "kind", "sigs")

    def __init__(self, kind: ContentKind) -> None:
        self.kind = kind
        self.chunks: list[str] = []
        self.sigs: list[str] = []


_new_view = object.__new__


class _View:
    """One block as it was at one moment: windows into its pieces plus its metadata.

    Never mutated after construction (a change makes a new view), so any snapshot holding
    it keeps seeing that moment.
    """

    __slots__ = ("block", "end", "final", "redacted", "sig_end", "sig_start", "start", "tool_id", "tool_name")

    def __init__(
        self,
        block: _Block,
        start: int = 0,
        end: int = 0,
        sig_start: int = 0,
        sig_end: int = 0,
        tool_id: str = "",
        tool_name: str = "",
        redacted: bool = False,
        final: AssistantContent | None = None,
    ) -> None:
        self.block = block
        self.start = start
        self.end = end
        self.sig_start = sig_start
        self.sig_end = sig_end
        self.tool_id = tool_id
        self.tool_name = tool_name
        self.redacted = redacted
        self.final = final

    @property
    def closed(self) -> bool:
        return self.final is not None

    def text(self) -> str:
        return "".join(self.block.chunks[self.start : self.end])

    def signature(self) -> str | None:
        return "".join(self.block.sigs[self.sig_start : self.sig_end]) or None

    def grown(self, end: int) -> _View:
        """This open view with its text up to chunk ``end`` (once per delta: no ``__init__`` call)."""
        view = _new_view(_View)
        view.block, view.start, view.end = self.block, self.start, end
        view.sig_start, view.sig_end, view.tool_id = self.sig_start, self.sig_end, self.tool_id
        view.tool_name, view.redacted, view.final = self.tool_name, self.redacted, None
        return view

    def changed(self, **changes: object) -> _View:
        fields = {name: getattr(self, name) for name in _View.__slots__}
        fields.update(changes)
        return _View(**fields)

    def materialise(self) -> AssistantContent:
        if self.final is not None:
            return self.final
        kind = self.block.kind
        if kind == "text":
            return TextContent(self.text(), self.signature())
        if kind == "thinking":
            return ThinkingContent(self.text(), self.signature(), self.redacted)
        return ToolCall(self.tool_id, self.tool_name, parse_partial_json(self.text()))


class _Meta:
    """What never changes during one message: its origin and start time."""

    __slots__ = ("api", "model_id", "provider", "timestamp")

    def __init__(self, model: Model) -> None:
        self.api = model.api
        self.provider = model.provider
        self.model_id = model.id
        self.timestamp = now_ms()


class Snapshot:
    """The message as it was when an event was made; materialised on first use, then cached."""

    __slots__ = ("_cache", "_error", "_meta", "_stop", "_usage", "_views")

    def __init__(self, builder: MessageBuilder) -> None:
        self._meta = builder.meta
        self._views = tuple(builder.views)
        self._usage = builder.usage
        self._stop = builder.stop_reason
        self._error = builder.error_message
        self._cache: AssistantMessage | None = None

    def message(self) -> AssistantMessage:
        if self._cache is None:
            m = self._meta
            content = tuple(v.materialise() for v in self._views)
            self._cache = AssistantMessage(
                content, m.api, m.provider, m.model_id, self._usage, self._stop, m.timestamp, self._error
            )
        return self._cache


class MessageBuilder:
    """Accumulates one assistant message and produces the stream events for it.

    Blocks are addressed by a caller-chosen ``key`` (Anthropic's block index, a Chat
    Completions tool-call index, a Responses item id, ...). Every method that changes the
    message returns the event to yield; every event carries an immutable snapshot.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.meta = _Meta(model)
        self.views: list[_View] = []
        self._keys: dict[object, int] = {}
        self.usage = Usage()
        self.stop_reason: StopReason = "stop"
        self.error_message: str | None = None

    # -- queries
    def has(self, key: object) -> bool:
        return key in self._keys

    def is_open(self, key: object) -> bool:
        i = self._keys.get(key)
        return i is not None and not self.views[i].closed

    def open_kind(self, key: object) -> ContentKind | None:
        """The kind of the open block under ``key``; None if there is none (or it closed)."""
        i = self._keys.get(key)
        if i is None:
            return None
        view = self.views[i]
        return None if view.final is not None else view.block.kind

    def kind_of(self, key: object) -> ContentKind | None:
        i = self._keys.get(key)
        return None if i is None else self.views[i].block.kind

    def text_of(self, key: object) -> str:
        return self.views[self._keys[key]].text()

    def open_keys(self) -> list[object]:
        return [k for k, i in self._keys.items() if not self.views[i].closed]

    @property
    def has_tool_calls(self) -> bool:
        return any(v.block.kind == "toolcall" for v in self.views)

    def snapshot(self) -> AssistantMessage:
        return Snapshot(self).message()

    # -- changes
    def _change(self, key: object, **changes: object) -> int:
        i = self._keys[key]
        self.views[i] = self.views[i].changed(**changes)
        return i

    def start(self) -> StreamStart:
        return StreamStart(Snapshot(self).message())

    def open(self, key: object, kind: ContentKind, *, tool_id: str = "", tool_name: str = "") -> ContentStart:
        """Start a block under ``key`` (a key may be reused after its block closed)."""
        self._keys[key] = len(self.views)
        self.views.append(_View(_Block(kind), tool_id=tool_id, tool_name=tool_name))
        return ContentStart(kind, len(self.views) - 1, Snapshot(self))

    def append(self, key: object, delta: str) -> ContentDelta:
        i = self._keys[key]
        view = self.views[i]
        chunks = view.block.chunks
        chunks.append(delta)
        self.views[i] = view.grown(len(chunks))
        return ContentDelta(view.block.kind, i, delta, Snapshot(self))

    def append_signature(self, key: object, sig: str) -> None:
        view = self.views[self._keys[key]]
        view.block.sigs.append(sig)
        self._change(key, sig_end=len(view.block.sigs))

    def set_signature(self, key: object, sig: str) -> None:
        sigs = self.views[self._keys[key]].block.sigs
        sigs.append(sig)
        self._change(key, sig_start=len(sigs) - 1, sig_end=len(sigs))

    def set_text(self, key: object, text: str) -> None:
        """Replace a block's whole text (an authoritative ``*.done`` value); earlier snapshots keep theirs."""
        chunks = self.views[self._keys[key]].block.chunks
        chunks.append(text)
        self._change(key, start=len(chunks) - 1, end=len(chunks))

    def set_redacted(self, key: object) -> None:
        self._change(key, redacted=True)

    def set_tool_meta(self, key: object, *, tool_id: str | None = None, name: str | None = None) -> None:
        view = self.views[self._keys[key]]
        self._change(
            key,
            tool_id=tool_id or view.tool_id,
            tool_name=view.tool_name if view.tool_name or not name else name,
        )

    def close(self, key: object) -> ContentEnd | None:
        """End the block under ``key``; ``None`` if it was already closed."""
        i = self._keys[key]
        view = self.views[i]
        if view.closed:
            return None
        kind = view.block.kind
        final: AssistantContent
        if kind == "toolcall":
            final = _final_tool_call(view.tool_id, view.tool_name, view.text())
        elif kind == "text":
            final = TextContent(view.text(), view.signature())
        else:
            final = ThinkingContent(view.text(), view.signature(), view.redacted)
        self.views[i] = view.changed(final=final)
        return ContentEnd(kind, i, final, Snapshot(self))

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
        """End with an error: open text and thinking blocks are kept as they are (a partial
        message); an unfinished tool call is dropped (its arguments may be cut anywhere)."""
        kept: list[_View] = []
        for view in self.views:
            if view.closed:
                kept.append(view)
            elif view.block.kind != "toolcall":
                kept.append(view.changed(final=view.materialise()))
        self.views = kept
        self._keys = {}
        self.stop_reason = "aborted" if aborted else "error"
        self.error_message = error.message
        return StreamError(Snapshot(self).message(), error)


async def guarded(
    builder: MessageBuilder, events: AsyncGenerator[AssistantStreamEvent, None]
) -> AsyncIterator[AssistantStreamEvent]:
    """``events`` with the promise of :mod:`opi_cli.ai.events` kept: never raises.

    An exception inside the adapter (building the request, an ``on_payload`` hook, a body
    that is not JSON, a parser bug) ends the stream with a ``StreamError`` whose message
    names it, unless the stream had already ended. Cancellation still propagates.
    """
    ended = False
    try:
        async with aclosing(events) as stream:
            async for ev in stream:
                ended = isinstance(ev, StreamDone | StreamError)
                yield ev
    except Exception as exc:
        if not ended:
            yield internal_failure(builder, exc)


def internal_failure(builder: MessageBuilder, exc: Exception) -> StreamError:
    """The error event for an exception inside an adapter (building the request, an
    ``on_payload`` hook, a body that is not JSON, a parser bug)."""
    return builder.fail(ProviderError("other", f"The request could not be made: {type(exc).__name__}: {exc}"))


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

