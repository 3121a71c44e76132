"""OpenAI Chat Completions adapter: builds the request for OpenAI-compatible servers and parses their stream.

One adapter serves OpenAI itself and every server that speaks its ``/chat/completions``
dialect (Azure, OpenRouter, Groq, DeepSeek, Mistral, Ollama, vLLM, llama.cpp, LM Studio,
...). Server quirks in the request are driven by :class:`ResolvedCompat` (pi's ``compat``
block, defaults detected from provider and base URL); quirks in the stream are all
tolerated by one parser that follows wire-formats.md §1.6 and §6.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import field, fields, replace
from functools import partial
from typing import Literal

from opi_cli._util.jsonio import JsonValue, dumps, loads
from opi_cli._util.records import record
from opi_cli.ai.errors import classify_stream_error
from opi_cli.ai.events import AssistantStreamEvent, ProviderError
from opi_cli.ai.history import repair_history
from opi_cli.ai.http import Request, stream_sse
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, MessageBuilder, StreamOptions, ToolSpec
from opi_cli.ai.sse import SSEEvent
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    StopReason,
    TextContent,
    ThinkingContent,
    ThinkingLevel,
    ToolResultMessage,
    Usage,
    UserMessage,
)

__all__ = ["OpenAIChatProvider", "ResolvedCompat", "build_body", "resolve_compat"]

Json = dict[str, JsonValue]
_REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_text")
_XHIGH_MODELS = re.compile(r"gpt-5\.(?:[2-9]|1-codex-max)")
_TOOL_RESULTS_DONE = "I have processed the tool results."


# ---------------------------------------------------------------------------------------------
# Compat: what this server accepts


@record
class ResolvedCompat:
    """:class:`~opi_cli.ai.model.OpenAICompat` with every field decided."""

    supports_store: bool = False
    supports_developer_role: bool = False
    supports_reasoning_effort: bool = True
    supports_usage_in_streaming: bool = True
    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_tokens"
    requires_tool_result_name: bool = False
    requires_assistant_after_tool_result: bool = False
    requires_thinking_as_text: bool = False
    thinking_format: Literal["openai", "zai", "qwen", "qwen-chat-template"] = "openai"
    supports_strict_mode: bool = True
    reasoning_effort_map: Mapping[str, str] = field(default_factory=dict)


_OPENAI = ResolvedCompat(
    supports_store=True, supports_developer_role=True, max_tokens_field="max_completion_tokens"
)
# (URL fragments, provider names, defaults); the first match wins
_FAMILIES: tuple[tuple[tuple[str, ...], tuple[str, ...], ResolvedCompat], ...] = (
    (("openai.azure.com", "cognitiveservices.azure.com"), ("azure", "azure-openai"),
     ResolvedCompat(supports_developer_role=True, max_tokens_field="max_completion_tokens")),
    (("openrouter.ai",), ("openrouter",), ResolvedCompat()),
    (("groq.com",), ("groq",), ResolvedCompat()),
    (("deepseek.com",), ("deepseek",), ResolvedCompat(supports_reasoning_effort=False)),
    (("mistral.ai",), ("mistral",),
     ResolvedCompat(supports_reasoning_effort=False, requires_tool_result_name=True, requires_thinking_as_text=True)),
    (("api.x.ai",), ("xai",), ResolvedCompat(supports_reasoning_effort=False)),
    (("api.z.ai",), ("zai",), ResolvedCompat(supports_reasoning_effort=False, thinking_format="zai")),
)
# Groq's qwen3-32b takes only "none" | "default"
_GROQ_QWEN_EFFORT = dict.fromkeys(("minimal", "low", "medium", "high", "xhigh"), "default")


def _detect(model: Model) -> ResolvedCompat:
    url, provider = model.base_url.lower(), model.provider.lower()
    if "api.openai.com" in url:
        return _OPENAI
    for hosts, names, compat in _FAMILIES:
        if provider in names or any(h in url for h in hosts):
            if "groq" in names and model.id == "qwen/qwen3-32b":
                return replace(compat, reasoning_effort_map=_GROQ_QWEN_EFFORT)
            return compat
    # unknown (often local) servers: nothing optional that a strict server could reject
    return ResolvedCompat()


def resolve_compat(model: Model) -> ResolvedCompat:
    """The compat flags for ``model``: its explicit ``compat`` over detected defaults.

    OpenAI's own API gets ``store``, the developer role and ``max_completion_tokens``;
    an unknown URL gets none of them (``max_tokens``, ``system``, no ``store``).
    """
    resolved = _detect(model)
    explicit = {f.name: getattr(model.compat, f.name) for f in fields(model.compat)}
    return replace(resolved, **{k: v for k, v in explicit.items() if v is not None})


# ---------------------------------------------------------------------------------------------
# Request body


def build_body(model: Model, context: LlmContext, options: StreamOptions) -> Json:
    """The JSON body of ``POST /chat/completions`` (before ``on_payload``)."""
    compat = resolve_compat(model)
    body: Json = {"model": model.id, "messages": _messages(model, compat, context), "stream": options.stream}
    if options.stream and compat.supports_usage_in_streaming:
        body["stream_options"] = {"include_usage": True}
    if compat.supports_store:
        body["store"] = False
    body[compat.max_tokens_field] = options.max_tokens or min(model.max_tokens, 32000)
    if options.temperature is not None:
        body["temperature"] = options.temperature
    if options.json_mode:
        body["response_format"] = {"type": "json_object"}
    if context.tools:
        body["tools"] = [_tool_spec(t, compat) for t in context.tools]
    body.update(_thinking_fields(model, compat, options.thinking_level))
    return body


def _tool_spec(tool: ToolSpec, compat: ResolvedCompat) -> Json:
    fn: Json = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    if compat.supports_strict_mode:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _thinking_fields(model: Model, compat: ResolvedCompat, level: ThinkingLevel) -> Json:
    if not model.reasoning:
        return {}
    on = level != "off"
    if compat.thinking_format == "zai":
        return {"thinking": {"type": "enabled" if on else "disabled"}}
    if compat.thinking_format == "qwen":
        return {"enable_thinking": on}
    if compat.thinking_format == "qwen-chat-template":
        return {"chat_template_kwargs": {"enable_thinking": on}}
    if not on or not compat.supports_reasoning_effort:
        return {}
    effort = compat.reasoning_effort_map.get(level)
    if effort is None:
        effort = "high" if level == "xhigh" and not _XHIGH_MODELS.search(model.id) else level
    return {"reasoning_effort": effort}


def _messages(model: Model, compat: ResolvedCompat, context: LlmContext) -> list[Json]:
    out: list[Json] = []
    if context.system_prompt:
        role = "developer" if model.reasoning and compat.supports_developer_role else "system"
        out.append({"role": role, "content": context.system_prompt})
    images: list[ImageContent] = []
    for m in repair_history(context.messages):
        if isinstance(m, ToolResultMessage):
            out.append(_tool_result(m, model, compat))
            images.extend(c for c in m.content if isinstance(c, ImageContent))
            continue
        if images and model.supports_images:
            _add_user(out, compat, [{"type": "text", "text": "Attached image(s) from tool result:"},
                                    *(_image_part(i) for i in images)])
        images = []
        if isinstance(m, UserMessage):
            _add_user(out, compat, _user_content(m, model))
        else:
            converted = _assistant(m, compat)
            if converted is not None:
                out.append(converted)
    if images and model.supports_images:
        _add_user(out, compat, [{"type": "text", "text": "Attached image(s) from tool result:"},
                                *(_image_part(i) for i in images)])
    return out


def _image_part(image: ImageContent) -> Json:
    return {"type": "image_url", "image_url": {"url": f"data:{image.mime_type};base64,{image.data}"}}


def _user_content(m: UserMessage, model: Model) -> str | list[Json]:
    if all(isinstance(c, TextContent) for c in m.content):
        return "\n".join(c.text for c in m.content if isinstance(c, TextContent))
    parts: list[Json] = []
    for c in m.content:
        if isinstance(c, TextContent):
            parts.append({"type": "text", "text": c.text})
        elif model.supports_images:
            parts.append(_image_part(c))
    if not parts:
        return "(image omitted: this model does not accept images)"
    return parts


def _add_user(out: list[Json], compat: ResolvedCompat, content: str | list[Json]) -> None:
    if compat.requires_assistant_after_tool_result and out and out[-1].get("role") == "tool":
        out.append({"role": "assistant", "content": _TOOL_RESULTS_DONE})
    out.append({"role": "user", "content": content})


def _wire_id(tool_id: str) -> str:
    """A Responses id ``call_x|fc_y`` (after a model switch) goes out as its ``call_x`` part."""
    return tool_id.partition("|")[0]


def _tool_result(m: ToolResultMessage, model: Model, compat: ResolvedCompat) -> Json:
    text = "".join(c.text for c in m.content if isinstance(c, TextContent))
    if not text:
        has_image = any(isinstance(c, ImageContent) for c in m.content)
        text = "(see attached image)" if has_image and model.supports_images else "(no output)"
    msg: Json = {"role": "tool", "tool_call_id": _wire_id(m.tool_call_id), "content": text}
    if compat.requires_tool_result_name:
        msg["name"] = m.tool_name
    return msg


def _assistant(m: AssistantMessage, compat: ResolvedCompat) -> Json | None:
    texts = [c.text for c in m.content if isinstance(c, TextContent) and c.text]
    thinking = [c for c in m.content if isinstance(c, ThinkingContent) and c.thinking and not c.redacted]
    msg: Json = {"role": "assistant"}
    if compat.requires_thinking_as_text:
        texts = [t.thinking for t in thinking] + texts
    elif thinking and thinking[0].thinking_signature in _REASONING_FIELDS:
        name = thinking[0].thinking_signature
        msg[str(name)] = "\n".join(t.thinking for t in thinking if t.thinking_signature == name)
    calls = [
        {"id": _wire_id(c.id), "type": "function", "function": {"name": c.name, "arguments": dumps(c.arguments)}}
        for c in m.tool_calls
    ]
    if not texts and not calls:
        return None
    msg["content"] = "".join(texts) or None
    if calls:
        msg["tool_calls"] = calls
    return msg


def _headers(model: Model, options: StreamOptions) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if options.api_key:
        headers["authorization"] = f"Bearer {options.api_key}"
    headers.update(model.headers)
    headers.update(options.headers)
    return headers


# ---------------------------------------------------------------------------------------------
# Stream parsing


def _nonempty(value: JsonValue) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: JsonValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage_of(raw: Json) -> Usage:
    """Normalise an OpenAI-style usage object (``prompt_tokens`` includes cached tokens)."""
    details = raw.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or _int(raw.get("prompt_cache_hit_tokens"))
    inp = max(0, _int(raw.get("prompt_tokens")) - cached)
    out = _int(raw.get("completion_tokens"))
    return Usage(inp, out, cached, 0, inp + out + cached)


def _usage_of_timings(raw: Json) -> Usage:
    """llama.cpp ``timings`` (``prompt_n`` already excludes ``cache_n``)."""
    inp, out, cached = _int(raw.get("prompt_n")), _int(raw.get("predicted_n")), _int(raw.get("cache_n"))
    return Usage(inp, out, cached, 0, inp + out + cached)


def _finish(reason: str | None, has_tool_calls: bool) -> tuple[StopReason, str | None]:
    """(stop reason, error message) for a raw ``finish_reason``."""
    if reason in (None, "stop", "end", "tool_calls", "function_call"):
        return ("toolUse" if has_tool_calls else "stop"), None
    if reason in ("length", "model_context_window_exceeded"):
        return "length", None
    if reason == "content_filter":
        return "error", "The provider's content filter stopped the response (finish_reason: content_filter)."
    if reason == "error":
        return "error", "The provider ended the response with an error (finish_reason: error)."
    return ("toolUse" if has_tool_calls else "stop"), None


def _stream_error(payload: JsonValue) -> ProviderError:
    status = None
    err = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), int) and 400 <= err["code"] < 600:
        status = int(err["code"])  # OpenRouter passes the upstream HTTP status here
    return classify_stream_error(payload, status=status)


@record(frozen=False)
class _Call:
    key: tuple[str, int]
    id: str = ""


def _whole_message(message: JsonValue) -> Json | None:
    """A non-streamed reply's ``message`` as a delta, its tool calls numbered as a stream numbers them."""
    if not isinstance(message, dict):
        return None
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        numbered = [{**c, "index": i} if isinstance(c, dict) else c for i, c in enumerate(calls)]
        return {**message, "tool_calls": numbered}
    return message


class _ChatStream:
    """One response in progress: SSE events in, builder events out (or one whole JSON reply)."""

    def __init__(self, builder: MessageBuilder) -> None:
        self.b = builder
        self.finish_reason: str | None = None
        self.ended = False  # [DONE] or a failure: stop reading
        self.failed = False
        self._saw_done = False
        self._usage: Usage | None = None
        self._block: tuple[str, int] | None = None  # the open text/thinking block
        self._seq = 0
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._by_id: dict[str, _Call] = {}
        self._last: _Call | None = None

    # -- events
    def feed(self, ev: SSEEvent) -> list[AssistantStreamEvent]:
        data = ev.data.strip()
        if ev.event == "error":  # `event: error` (Groq, LM Studio) or llama.cpp's `error:` field
            return [self.fail(_stream_error(self._error_payload(data)))]
        if not data:
            return []
        if data.startswith("[DONE]"):
            self._saw_done = self.ended = True
            return []
        try:
            chunk = loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            return [self.fail(ProviderError("malformed", f"Malformed stream event (not a JSON object): {data[:200]}"))]
        return self._chunk(chunk)

    @staticmethod
    def _error_payload(data: str) -> JsonValue:
        try:
            payload = loads(data) if data else None
        except ValueError:
            payload = None
        return payload if isinstance(payload, dict) else {"error": {"message": data or "stream error"}}

    def _chunk(self, chunk: Json) -> list[AssistantStreamEvent]:
        # the hot path of every streamed reply: each lookup once (bench_sse budgets it)
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        usage = chunk.get("usage")
        if not isinstance(usage, dict) and choice is not None:
            usage = choice.get("usage")
        if isinstance(usage, dict):
            self._usage = _usage_of(usage)
        elif self._usage is None:
            timings = chunk.get("timings")
            if isinstance(timings, dict):
                self._usage = _usage_of_timings(timings)
        out: list[AssistantStreamEvent] = []
        index = choice.get("index") if choice is not None else None
        if choice is not None and (index == 0 or type(index) is not int):  # as _int(index) == 0
            delta = choice.get("delta")
            if not isinstance(delta, dict):  # a whole reply (``"stream": false``) reads as one delta
                delta = _whole_message(choice.get("message"))
            if isinstance(delta, dict):
                out.extend(self._delta(delta))
            reason = choice.get("finish_reason")
            if self.finish_reason is None and isinstance(reason, str) and reason:
                self.finish_reason = reason
        if chunk.get("error"):
            out.append(self.fail(_stream_error(chunk)))
        return out

    def _delta(self, d: Json) -> list[AssistantStreamEvent]:
        content = d.get("content")
        if type(content) is str and (len(d) == 1 or (len(d) == 2 and "role" in d)):
            return self._emit("text", content) if content else []  # the common case: text only
        out: list[AssistantStreamEvent] = []
        for name in _REASONING_FIELDS:  # first non-empty only: some servers repeat it
            text = _nonempty(d.get(name))
            if text is not None:
                out.extend(self._emit("thinking", text, name))
                break
        if isinstance(content, str) and content:
            out.extend(self._emit("text", content))
        elif isinstance(content, list):  # Mistral (Magistral) parts
            for part in content:
                if isinstance(part, dict):
                    out.extend(self._part(part))
        refusal = _nonempty(d.get("refusal"))
        if refusal is not None:
            out.extend(self._emit("text", refusal))
        calls = d.get("tool_calls")
        for frag in calls if isinstance(calls, list) else []:
            if isinstance(frag, dict):
                out.extend(self._tool(frag))
        if isinstance(d.get("function_call"), dict):  # legacy single-function form
            out.extend(self._tool({"function": d["function_call"]}))
        return out

    def _part(self, part: Json) -> list[AssistantStreamEvent]:
        if part.get("type") == "text":
            text = _nonempty(part.get("text"))
            return self._emit("text", text) if text else []
        if part.get("type") == "thinking":
            inner = part.get("thinking")
            items = inner if isinstance(inner, list) else [{"text": inner}]
            text = "".join(str(i.get("text") or "") for i in items if isinstance(i, dict))
            return self._emit("thinking", text) if text else []
        return []

    # -- blocks
    def _close_block(self) -> list[AssistantStreamEvent]:
        if self._block is None:
            return []
        ev = self.b.close(self._block)
        self._block = None
        return [] if ev is None else [ev]

    def _emit(self, kind: Literal["text", "thinking"], text: str, sig: str | None = None) -> list[AssistantStreamEvent]:
        block = self._block
        if block is not None and block[0] == kind:  # the open block goes on: the usual delta
            return [self.b.append(block, text)]
        out = self._close_block()  # an open block of the other kind ends
        self._seq += 1
        block = self._block = (kind, self._seq)
        out.append(self.b.open(block, kind))
        if sig:
            self.b.set_signature(block, sig)
        out.append(self.b.append(block, text))
        return out

    def _find_call(self, index: int | None, call_id: str | None, name: str | None) -> _Call | None:
        """The call a fragment continues, or None when it starts a new one.

        ``index`` decides when present (wire-formats.md §1.6): a new index is a new call even
        if its id was used before (servers that repeat ids), and a new id at a known index
        is a new call too (sglang). Without an index, the id decides, except that a named
        fragment for an id whose call is already whole starts another call.
        """
        if index is not None:
            current = self._by_index.get(index)
            if current is not None and call_id and current.id and current.id != call_id:
                return None
            return current
        if call_id is not None and call_id in self._by_id:
            known = self._by_id[call_id]
            return None if name and self._whole(known) else known
        if call_id is None or (self._last is not None and not self._last.id):
            return self._last
        return None

    def _whole(self, call: _Call) -> bool:
        try:
            return isinstance(loads(self.b.text_of(call.key)), dict)
        except ValueError:
            return False

    def _tool(self, frag: Json) -> list[AssistantStreamEvent]:
        out = self._close_block()
        raw_index = frag.get("index")
        index = raw_index if isinstance(raw_index, int) and not isinstance(raw_index, bool) else None
        call_id = _nonempty(frag.get("id"))
        fn = frag.get("function")
        fn = fn if isinstance(fn, dict) else {}
        name = _nonempty(fn.get("name"))
        call = self._find_call(index, call_id, name)
        if call is None:
            self._seq += 1
            call = _Call(("tool", self._seq))
            self._calls.append(call)
            out.append(self.b.open(call.key, "toolcall", tool_id=call_id or "", tool_name=name or ""))
        else:
            self.b.set_tool_meta(call.key, tool_id=None if call.id else call_id, name=name)
        if call_id and not call.id:
            call.id = call_id
            self._by_id[call_id] = call  # a repeated id now continues its latest call
        if index is not None:
            self._by_index[index] = call
        self._last = call
        args = fn.get("arguments")
        if isinstance(args, dict | list):  # some servers send the object itself
            args = dumps(args)
        if isinstance(args, str) and args:
            out.append(self.b.append(call.key, args))
        return out

    # -- the end
    @property
    def done(self) -> bool:
        return self.ended

    def at_eof(self) -> list[AssistantStreamEvent]:
        return [] if self.failed else self.finish()

    def on_failure(self, error: ProviderError) -> list[AssistantStreamEvent]:
        # a connection lost after the finish chunk still delivered the whole answer
        if error.kind == "network" and self.finish_reason is not None:
            return self.at_eof()
        return [self.fail(error, aborted=error.kind == "aborted")]

    def fail(self, error: ProviderError, *, aborted: bool = False) -> AssistantStreamEvent:
        self.ended = self.failed = True
        if self._usage is not None:
            self.b.set_usage(self._usage)
        return self.b.fail(error, aborted=aborted)

    @property
    def complete(self) -> bool:
        return self._saw_done or self.finish_reason is not None

    def finish(self) -> list[AssistantStreamEvent]:
        """Events at EOF: success if [DONE] or a finish_reason came, else ``incomplete``."""
        if not self.complete:
            msg = "The stream ended before the response was complete (no finish_reason and no [DONE])."
            return [self.fail(ProviderError("incomplete", msg))]
        seen: set[str] = set()
        for n, call in enumerate(self._calls, 1):
            if not call.id or call.id in seen:  # missing, or a second call under one id
                base = call.id
                call.id = f"{base}_{n}" if base else f"call_{uuid.uuid4().hex[:24]}"
                while call.id in seen:
                    call.id += "_"
                self.b.set_tool_meta(call.key, tool_id=call.id)
            seen.add(call.id)
        out: list[AssistantStreamEvent] = list(self.b.close_all())
        stop, error = _finish(self.finish_reason, self.b.has_tool_calls)
        if error is not None:
            out.append(self.fail(ProviderError("other", error)))
            return out
        if self._usage is not None:
            self.b.set_usage(self._usage)
        out.append(self.b.done(stop))
        return out


# ---------------------------------------------------------------------------------------------
# The provider


class OpenAIChatProvider:
    """Streams an assistant message from ``POST {base_url}/chat/completions``.

    Never raises for a failed request: every stream starts with ``StreamStart`` and ends
    with exactly one ``StreamDone`` or ``StreamError``.
    """

    def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        builder = MessageBuilder(model)

        def request() -> Request:
            url = model.base_url.rstrip("/") + "/chat/completions"
            return url, _headers(model, options), partial(build_body, model, context, options)

        return stream_sse(builder, _ChatStream(builder), options, request)
