"""The OpenAI Responses adapter: builds the ``/responses`` request and parses its SSE stream.

Parsing follows wire-formats.md §2: events are told apart by their JSON ``type``, function
calls are keyed by item id and reported by ``call_id``, ``*.done`` values win over
accumulated deltas, reasoning items are kept whole (with ``encrypted_content``) in the
thinking signature so they can be replayed, and the terminal response gives the stop
reason and the usage.
"""

from __future__ import annotations

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
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ThinkingLevel,
    ToolResultMessage,
    Usage,
    UserContent,
    UserMessage,
)

__all__ = ["OpenAIResponsesProvider", "build_responses_request"]

API = "openai-responses"
_EFFORT: dict[ThinkingLevel, str] = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}

Item = dict[str, JsonValue]


# ---------------------------------------------------------------------------------------------
# Request


def build_responses_request(
    model: Model, context: LlmContext, options: StreamOptions
) -> dict[str, JsonValue]:
    """The JSON body of a streaming ``POST /responses`` for this context."""
    body: dict[str, JsonValue] = {
        "model": model.id,
        "input": _convert_messages(model, repair_history(context.messages)),
    }
    if context.system_prompt:
        body["instructions"] = context.system_prompt
    body["stream"] = True
    body["store"] = False
    body["max_output_tokens"] = options.max_tokens or min(model.max_tokens, 32000)
    if context.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": t.strict,
            }
            for t in context.tools
        ]
    if model.reasoning and options.thinking_level != "off":
        body["reasoning"] = {"effort": _EFFORT[options.thinking_level], "summary": "auto"}
        body["include"] = ["reasoning.encrypted_content"]
    elif options.temperature is not None:
        body["temperature"] = options.temperature
    if options.session_id:
        body["prompt_cache_key"] = options.session_id
    return body


def _user_parts(model: Model, content: tuple[UserContent, ...]) -> list[Item]:
    parts: list[Item] = []
    for c in content:
        if isinstance(c, TextContent):
            if c.text:
                parts.append({"type": "input_text", "text": c.text})
        elif model.supports_images:
            parts.append(
                {"type": "input_image", "detail": "auto", "image_url": f"data:{c.mime_type};base64,{c.data}"}
            )
        else:
            parts.append({"type": "input_text", "text": "(image omitted: this model does not accept images)"})
    return parts


def _reasoning_item(c: ThinkingContent) -> Item | None:
    """The original reasoning item, when this block came from the Responses API."""
    if not c.thinking_signature:
        return None
    try:
        item = loads(c.thinking_signature)
    except ValueError:
        return None
    return item if isinstance(item, dict) and item.get("type") == "reasoning" else None


def _assistant_items(model: Model, msg: AssistantMessage) -> list[Item]:
    same = msg.api == API and msg.provider == model.provider
    items: list[Item] = []
    for c in msg.content:
        if isinstance(c, ThinkingContent):
            reasoning = _reasoning_item(c) if same else None
            if reasoning is not None:
                items.append(reasoning)
        elif isinstance(c, TextContent):
            if not c.text:
                continue
            item: Item = {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": c.text, "annotations": []}],
                "status": "completed",
            }
            if same and c.text_signature and c.text_signature.startswith("msg_"):
                item["id"] = c.text_signature
            items.append(item)
        else:
            call_id, _, item_id = c.id.partition("|")
            call: Item = {"type": "function_call", "call_id": call_id, "name": c.name, "arguments": dumps(c.arguments)}
            if same and item_id.startswith("fc_"):
                call["id"] = item_id  # a replayed reasoning item needs the item that followed it
            items.append(call)
    return items


def _tool_id(call_id: JsonValue, item_id: JsonValue) -> str:
    """``call_id|fc_item_id``, as pi stores it: results answer the ``call_id``; replaying the
    call with its item id keeps a replayed reasoning item valid (``store: false``)."""
    cid = str(call_id or item_id or "")
    return f"{cid}|{item_id}" if isinstance(item_id, str) and item_id and item_id != cid else cid


def _tool_result_items(model: Model, msg: ToolResultMessage) -> list[Item]:
    text = "".join(c.text for c in msg.content if isinstance(c, TextContent))
    images = [c for c in msg.content if isinstance(c, ImageContent)]
    items: list[Item] = [
        {"type": "function_call_output", "call_id": msg.tool_call_id.partition("|")[0], "output": text or "(no output)"}
    ]
    if images and model.supports_images:
        parts: list[Item] = [{"type": "input_text", "text": "Attached image(s) from tool result:"}]
        parts.extend(_user_parts(model, tuple(images)))
        items.append({"role": "user", "content": list(parts)})
    return items


def _convert_messages(model: Model, messages: list[Message]) -> list[JsonValue]:
    items: list[Item] = []
    for msg in messages:
        if isinstance(msg, UserMessage):
            parts = _user_parts(model, msg.content)
            if parts:
                items.append({"role": "user", "content": list(parts)})
        elif isinstance(msg, AssistantMessage):
            items.extend(_assistant_items(model, msg))
        else:
            items.extend(_tool_result_items(model, msg))
    return list(items)


def _headers(model: Model, options: StreamOptions) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if options.api_key:
        headers["authorization"] = f"Bearer {options.api_key}"
    headers.update(model.headers)
    headers.update(options.headers)
    return headers


# ---------------------------------------------------------------------------------------------
# Stream parsing


def _int(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(response: JsonValue) -> Usage | None:
    raw = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    output = _int(raw.get("output_tokens"))
    inp = max(0, _int(raw.get("input_tokens")) - cached)
    return Usage(inp, output, cached, 0, inp + output + cached)


def _joined(parts: JsonValue, kinds: tuple[str, ...], sep: str) -> str:
    """The text of the parts of the given types (a refusal part keeps its text in ``refusal``)."""
    if not isinstance(parts, list):
        return ""
    texts = [
        str(p.get("text") or p.get("refusal") or "")
        for p in parts
        if isinstance(p, dict) and p.get("type") in kinds
    ]
    return sep.join(t for t in texts if t)


class _Parser:
    """Turns decoded SSE events into builder events; knows when the response is complete."""

    def __init__(self, builder: MessageBuilder) -> None:
        self.b = builder
        self.finished = False

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
        kind = str(payload.get("type") or "")
        if kind == "error" or (sse.event == "error" and not kind.startswith("response.")):
            return self._fail(_stream_error(payload))
        return self._dispatch(kind, payload)

    def _dispatch(self, kind: str, p: dict[str, JsonValue]) -> list[AssistantStreamEvent]:
        if kind == "response.output_text.delta":  # the usual events first
            return self._delta(p.get("item_id"), "text", p.get("delta"))
        if kind == "response.reasoning_summary_text.delta":
            return self._delta(p.get("item_id"), "thinking", p.get("delta"))
        if kind == "response.output_item.added":
            return self._item_added(p.get("item"))
        if kind == "response.output_item.done":
            return self._item_done(p.get("item"))
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return self._delta(p.get("item_id"), "text", p.get("delta"))
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self._delta(p.get("item_id"), "thinking", p.get("delta"))
        if kind == "response.reasoning_summary_part.added":
            key = p.get("item_id")
            if self.b.is_open(key) and self.b.text_of(key):
                return [self.b.append(key, "\n\n")]
            return []
        if kind == "response.function_call_arguments.delta":
            return self._delta(p.get("item_id"), "toolcall", p.get("delta"))
        if kind == "response.function_call_arguments.done":
            key = p.get("item_id")
            if self.b.is_open(key) and isinstance(p.get("arguments"), str):
                self.b.set_text(key, str(p["arguments"]))
            return []
        if kind in ("response.completed", "response.incomplete", "response.failed", "response.cancelled"):
            return self._terminal(kind, p.get("response"))
        return []

    def _item_added(self, item: JsonValue) -> list[AssistantStreamEvent]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return []
        key, itype, b = item["id"], item.get("type"), self.b
        if itype == "reasoning":
            return [b.open(key, "thinking")]
        if itype == "message":
            ev = b.open(key, "text")
            b.append_signature(key, key)
            return [ev]
        if itype == "function_call":
            out: list[AssistantStreamEvent] = [
                b.open(
                    key,
                    "toolcall",
                    tool_id=_tool_id(item.get("call_id"), key),
                    tool_name=str(item.get("name") or ""),
                )
            ]
            if item.get("arguments"):
                out.append(b.append(key, str(item["arguments"])))
            return out
        return []

    def _delta(self, key: JsonValue, kind: str, delta: JsonValue) -> list[AssistantStreamEvent]:
        if not isinstance(delta, str) or not delta or not isinstance(key, str):
            return []
        open_kind = self.b.open_kind(key)
        if open_kind == kind:
            return [self.b.append(key, delta)]
        if open_kind is not None:
            return []
        if kind == "toolcall":
            return []  # a call whose item was never announced has no call_id to report
        return [self.b.open(key, "thinking" if kind == "thinking" else "text"), self.b.append(key, delta)]

    def _item_done(self, item: JsonValue) -> list[AssistantStreamEvent]:
        if not isinstance(item, dict):
            return []
        # an item whose ``added`` event never came is taken from its final form
        out = [] if self.b.has(item.get("id")) else self._item_added(item)
        if not self.b.is_open(item.get("id")):
            return out
        key, itype, b = item["id"], item.get("type"), self.b
        if itype == "reasoning":
            text = _joined(item.get("summary"), ("summary_text",), "\n\n") or _joined(
                item.get("content"), ("reasoning_text",), "\n\n"
            )
            if text:
                b.set_text(key, text)
            b.set_signature(key, dumps(item))
        elif itype == "message":
            text = _joined(item.get("content"), ("output_text", "refusal"), "")
            if text:
                b.set_text(key, text)
        elif itype == "function_call":
            if isinstance(item.get("arguments"), str):
                b.set_text(key, str(item["arguments"]))
            b.set_tool_meta(key, tool_id=_tool_id(item.get("call_id"), key), name=str(item.get("name") or ""))
        ev = b.close(key)
        return [*out, ev] if ev is not None else out

    def _terminal(self, kind: str, response: JsonValue) -> list[AssistantStreamEvent]:
        self.finished = True
        usage = _usage(response)
        if usage is not None:
            self.b.set_usage(usage)
        if kind == "response.failed" or kind == "response.cancelled":
            err = response.get("error") if isinstance(response, dict) else None
            if isinstance(err, dict):
                return [self.b.fail(classify_stream_error({"error": err}))]
            status = "cancelled" if kind == "response.cancelled" else "failed"
            return [self.b.fail(ProviderError("other", f"The response {status}."))]
        out: list[AssistantStreamEvent] = list(self.b.close_all())
        if kind == "response.incomplete":
            out.append(self.b.done("length"))
        else:
            out.append(self.b.done("toolUse" if self.b.has_tool_calls else "stop"))
        return out

    def at_eof(self) -> list[AssistantStreamEvent]:
        if self.finished:
            return []
        return self._fail(ProviderError("incomplete", "The stream ended before the response was complete."))

    @property
    def done(self) -> bool:
        return self.finished

    def on_failure(self, error: ProviderError) -> list[AssistantStreamEvent]:
        return [] if self.finished else self._fail(error)

    def _fail(self, error: ProviderError) -> list[AssistantStreamEvent]:
        self.finished = True
        return [self.b.fail(error, aborted=error.kind == "aborted")]


def _stream_error(payload: dict[str, JsonValue]) -> ProviderError:
    """An ``error`` event, flat (the schema) or nested under ``error`` (captured traffic)."""
    inner = payload.get("error")
    if not isinstance(inner, dict):
        inner = {k: v for k, v in payload.items() if k not in ("type", "sequence_number")}
    return classify_stream_error({"error": inner})


# ---------------------------------------------------------------------------------------------
# Provider


class OpenAIResponsesProvider:
    """Streams from an OpenAI Responses ``/responses`` endpoint (api ``openai-responses``)."""

    def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        builder = MessageBuilder(model)

        def request() -> Request:
            url = model.base_url.rstrip("/") + "/responses"
            return url, _headers(model, options), partial(build_responses_request, model, context, options)

        return stream_sse(builder, _Parser(builder), options, request)
