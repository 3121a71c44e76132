"""The Anthropic Messages adapter: builds the ``/messages`` request and parses its SSE stream.

Request defaults follow pi (reference/pi.md §8.3): prompt caching on the system prompt and
the last user message, thinking budgets per level, signatures replayed byte for byte.
Parsing follows wire-formats.md §3: blocks accumulate by index, unknown block types are
tolerated but never surfaced, ``message_delta`` usage overrides ``message_start``'s, and
success needs ``message_stop`` or a stop reason before EOF.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from functools import partial

from opi_cli._util.jsonio import JsonValue, dumps, loads
from opi_cli.ai.errors import classify_stream_error
from opi_cli.ai.events import AssistantStreamEvent, ProviderError
from opi_cli.ai.history import repair_history
from opi_cli.ai.http import Request, stream_sse
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, MessageBuilder, StreamOptions
from opi_cli.ai.sse import SSEEvent
from opi_cli.ai.types import (
    AssistantMessage,
    Message,
    StopReason,
    TextContent,
    ThinkingContent,
    ThinkingLevel,
    ToolResultMessage,
    Usage,
    UserContent,
    UserMessage,
)

__all__ = ["THINKING_BUDGETS", "AnthropicProvider", "build_anthropic_request"]

API = "anthropic-messages"
ANTHROPIC_VERSION = "2023-06-01"
THINKING_BUDGETS: dict[ThinkingLevel, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 16384,
}
_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "toolUse",
}
_EPHEMERAL: dict[str, JsonValue] = {"type": "ephemeral"}
_BAD_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")

Block = dict[str, JsonValue]
WireMessage = dict[str, JsonValue]


# ---------------------------------------------------------------------------------------------
# Request


def build_anthropic_request(
    model: Model, context: LlmContext, options: StreamOptions
) -> dict[str, JsonValue]:
    """The JSON body of a streaming ``POST /messages`` for this context."""
    max_tokens = options.max_tokens or min(model.max_tokens, 32000)
    body: dict[str, JsonValue] = {"model": model.id, "max_tokens": max_tokens, "stream": True}
    if context.system_prompt:
        body["system"] = [{"type": "text", "text": context.system_prompt, "cache_control": dict(_EPHEMERAL)}]
    body["messages"] = _convert_messages(model, repair_history(context.messages))
    if context.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in context.tools
        ]
    if model.reasoning and options.thinking_level != "off":
        budget = THINKING_BUDGETS[options.thinking_level]
        if max_tokens <= budget:
            budget = max(1024, max_tokens - 1024)
            if max_tokens <= budget:
                max_tokens = budget + 1024
        body["max_tokens"] = max_tokens
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif options.temperature is not None:
        body["temperature"] = options.temperature
    return body


def _tool_id(raw: str) -> str:
    """Anthropic accepts only ``[a-zA-Z0-9_-]{1,64}`` ids; ids from other APIs are mapped."""
    return _BAD_ID_CHARS.sub("_", raw)[:64] or "tool"


def _user_blocks(model: Model, content: tuple[UserContent, ...]) -> list[Block]:
    blocks: list[Block] = []
    for c in content:
        if isinstance(c, TextContent):
            if c.text:
                blocks.append({"type": "text", "text": c.text})
        elif model.supports_images:
            blocks.append(
                {"type": "image", "source": {"type": "base64", "media_type": c.mime_type, "data": c.data}}
            )
        else:
            blocks.append({"type": "text", "text": "(image omitted: this model does not accept images)"})
    return blocks


def _assistant_blocks(model: Model, msg: AssistantMessage) -> list[Block]:
    same = msg.api == API and msg.provider == model.provider
    blocks: list[Block] = []
    for c in msg.content:
        if isinstance(c, ThinkingContent):
            blocks.extend(_thinking_block(c, same))
        elif isinstance(c, TextContent):
            if c.text:
                blocks.append({"type": "text", "text": c.text})
        else:
            blocks.append({"type": "tool_use", "id": _tool_id(c.id), "name": c.name, "input": c.arguments})
    return blocks


def _thinking_block(c: ThinkingContent, same_provider: bool) -> list[Block]:
    """Signed thinking is replayed verbatim; thinking from elsewhere becomes plain text."""
    if c.redacted:
        return (
            [{"type": "redacted_thinking", "data": c.thinking_signature}]
            if same_provider and c.thinking_signature
            else []
        )
    if same_provider and c.thinking_signature:
        return [{"type": "thinking", "thinking": c.thinking, "signature": c.thinking_signature}]
    return [{"type": "text", "text": c.thinking}] if c.thinking.strip() else []


def _tool_result_block(model: Model, msg: ToolResultMessage) -> Block:
    content = _user_blocks(model, msg.content) or [{"type": "text", "text": "(no output)"}]
    return {
        "type": "tool_result",
        "tool_use_id": _tool_id(msg.tool_call_id),
        "content": list(content),
        "is_error": msg.is_error,
    }


def _convert_messages(model: Model, messages: list[Message]) -> list[JsonValue]:
    """Wire messages; consecutive tool results share one user message, as the API expects."""
    out: list[WireMessage] = []
    merging = False  # the last wire message holds tool results
    for msg in messages:
        if isinstance(msg, ToolResultMessage):
            block = _tool_result_block(model, msg)
            if merging:
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            merging = True
            continue
        if isinstance(msg, UserMessage):
            wire = {"role": "user", "content": _user_blocks(model, msg.content)}
        else:
            wire = {"role": "assistant", "content": _assistant_blocks(model, msg)}
        if wire["content"]:
            out.append(wire)
            merging = False
    _mark_cache_point(out)
    return list(out)


def _mark_cache_point(messages: list[WireMessage]) -> None:
    for m in reversed(messages):
        if m["role"] == "user":
            content = m["content"]
            if content:
                content[-1]["cache_control"] = dict(_EPHEMERAL)
            return


def _headers(model: Model, options: StreamOptions) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "anthropic-version": ANTHROPIC_VERSION,
    }
    if options.api_key:
        headers["x-api-key"] = options.api_key
    headers.update(model.headers)
    headers.update(options.headers)
    return headers


# ---------------------------------------------------------------------------------------------
# Stream parsing


class _Parser:
    """Turns decoded SSE events into builder events; knows when the message is complete."""

    def __init__(self, builder: MessageBuilder) -> None:
        self.b = builder
        self.finished = False
        self.raw_stop: str | None = None
        self.stop_details: JsonValue = None
        self.usage: dict[str, int] = {}
        self.prefilled: set[int] = set()

    def feed(self, sse: SSEEvent) -> list[AssistantStreamEvent]:
        data = sse.data.strip()
        if not data or data == "[DONE]":
            return []
        try:
            payload = loads(data)
        except ValueError:
            return self._fail(ProviderError("malformed", f"Malformed JSON in stream: {data[:200]}"))
        if not isinstance(payload, dict):
            return self._fail(ProviderError("malformed", f"Unexpected stream payload: {data[:200]}"))
        kind = payload.get("type")
        if kind == "error" or sse.event == "error":
            return self._fail(classify_stream_error(payload))
        return self._dispatch(str(kind), payload)

    def _dispatch(self, kind: str, p: dict[str, JsonValue]) -> list[AssistantStreamEvent]:
        if kind == "content_block_delta":  # the usual event first
            return self._block_delta(p.get("index"), p.get("delta"))
        if kind == "message_start":
            msg = p.get("message")
            if isinstance(msg, dict):
                self._merge_usage(msg.get("usage"))
        elif kind == "content_block_start":
            return self._block_start(p.get("index"), p.get("content_block"))
        elif kind == "content_block_delta":
            return self._block_delta(p.get("index"), p.get("delta"))
        elif kind == "content_block_stop":
            index = p.get("index")
            if self.b.has(index):
                ev = self.b.close(index)
                return [ev] if ev is not None else []
        elif kind == "message_delta":
            delta = p.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.raw_stop = str(delta["stop_reason"])
                self.stop_details = delta.get("stop_details")
            self._merge_usage(p.get("usage"))
        elif kind == "message_stop":
            return self.complete()
        return []

    def _block_start(self, index: JsonValue, block: JsonValue) -> list[AssistantStreamEvent]:
        if not isinstance(index, int) or not isinstance(block, dict):
            return []
        btype = block.get("type")
        b = self.b
        if btype == "text":
            out: list[AssistantStreamEvent] = [b.open(index, "text")]
            if block.get("text"):
                out.append(b.append(index, str(block["text"])))
            return out
        if btype == "thinking":
            out = [b.open(index, "thinking")]
            if block.get("thinking"):
                out.append(b.append(index, str(block["thinking"])))
            if block.get("signature"):
                b.append_signature(index, str(block["signature"]))
            return out
        if btype == "redacted_thinking":
            ev = b.open(index, "thinking")
            b.set_redacted(index)
            b.append_signature(index, str(block.get("data") or ""))
            return [ev]
        if btype == "tool_use":
            out = [
                b.open(
                    index,
                    "toolcall",
                    tool_id=str(block.get("id") or ""),
                    tool_name=str(block.get("name") or ""),
                )
            ]
            initial = block.get("input")
            if isinstance(initial, dict) and initial:
                self.prefilled.add(index)
                out.append(b.append(index, dumps(initial)))
            return out
        # server_tool_use, *_tool_result, compaction, ...: the server's business, not ours
        return []

    def _block_delta(self, index: JsonValue, delta: JsonValue) -> list[AssistantStreamEvent]:
        b = self.b
        kind = b.open_kind(index)
        if kind is None or not isinstance(delta, dict):
            return []
        dtype = delta.get("type")
        if dtype == "text_delta" and kind == "text":
            text = str(delta.get("text") or "")
            return [b.append(index, text)] if text else []
        if dtype == "thinking_delta" and kind == "thinking":
            text = str(delta.get("thinking") or "")
            return [b.append(index, text)] if text else []
        if dtype == "signature_delta" and kind == "thinking":
            b.append_signature(index, str(delta.get("signature") or ""))
        elif dtype == "input_json_delta" and kind == "toolcall":
            part = str(delta.get("partial_json") or "")
            if part:
                if index in self.prefilled:
                    self.prefilled.discard(index)
                    b.set_text(index, "")
                return [b.append(index, part)]
        return []

    def _merge_usage(self, raw: JsonValue) -> None:
        if not isinstance(raw, dict):
            return
        for field in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            value = raw.get(field)
            if isinstance(value, int) and not isinstance(value, bool):
                self.usage[field] = value
        u = self.usage
        inp, out = u.get("input_tokens", 0), u.get("output_tokens", 0)
        cr, cw = u.get("cache_read_input_tokens", 0), u.get("cache_creation_input_tokens", 0)
        self.b.set_usage(Usage(inp, out, cr, cw, inp + out + cr + cw))

    def complete(self) -> list[AssistantStreamEvent]:
        """End successfully (``message_stop``, or EOF after a stop reason)."""
        self.finished = True
        if self.raw_stop == "refusal":
            return self._fail(ProviderError("other", _refusal_message(self.stop_details)))
        out: list[AssistantStreamEvent] = list(self.b.close_all())
        out.append(self.b.done(_STOP_REASONS.get(self.raw_stop or "end_turn", "stop")))
        return out

    def at_eof(self) -> list[AssistantStreamEvent]:
        if self.finished:
            return []
        if self.raw_stop is not None:
            return self.complete()
        return self._fail(ProviderError("incomplete", "The stream ended before the response was complete."))

    @property
    def done(self) -> bool:
        return self.finished

    def on_failure(self, error: ProviderError) -> list[AssistantStreamEvent]:
        return [] if self.finished else self._fail(error)

    def _fail(self, error: ProviderError) -> list[AssistantStreamEvent]:
        self.finished = True
        return [self.b.fail(error, aborted=error.kind == "aborted")]


def _refusal_message(details: JsonValue) -> str:
    base = "The model declined to answer (stop_reason: refusal)."
    if isinstance(details, dict) and isinstance(details.get("explanation"), str):
        return f"{base} {details['explanation']}"
    return base


# ---------------------------------------------------------------------------------------------
# Provider


class AnthropicProvider:
    """Streams from an Anthropic-compatible ``/messages`` endpoint (api ``anthropic-messages``)."""

    def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        builder = MessageBuilder(model)

        def request() -> Request:
            url = model.base_url.rstrip("/") + "/messages"
            return url, _headers(model, options), partial(build_anthropic_request, model, context, options)

        return stream_sse(builder, _Parser(builder), options, request)
