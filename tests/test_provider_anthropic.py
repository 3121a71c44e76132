"""Anthropic Messages adapter: recorded streams under every chunking, synthetic failures, request bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from opi_cli._util.abort import AbortController
from opi_cli.ai.events import AssistantStreamEvent, ContentDelta, StreamDone, StreamError, StreamStart
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, StreamOptions, ToolSpec
from opi_cli.ai.providers.anthropic import AnthropicProvider
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from tests.replay import FIXTURES, chunkings, load_fixture, sse_transport

API = "anthropic-messages"
MODEL = Model("claude-test", "anthropic", API, "https://api.anthropic.test/v1", max_tokens=64000)
REASONER = replace(MODEL, reasoning=True, input=("text", "image"))
CTX = LlmContext("You are terse.", (UserMessage((TextContent("hi"),), 1),))


async def _events(
    chunks: list[bytes],
    *,
    model: Model = MODEL,
    context: LlmContext = CTX,
    status: int = 200,
    log: list[httpx.Request] | None = None,
    **opts: Any,
) -> list[AssistantStreamEvent]:
    transport = sse_transport(chunks, status=status, log=log)
    options = StreamOptions(api_key="sk-ant-test", transport=transport, **opts)
    return [ev async for ev in AnthropicProvider().stream(model, context, options)]


def _check_shape(events: list[AssistantStreamEvent]) -> StreamDone | StreamError:
    assert isinstance(events[0], StreamStart)
    terminals = [e for e in events if isinstance(e, StreamDone | StreamError)]
    assert len(terminals) == 1 and terminals[0] is events[-1]
    return terminals[0]


async def _final(name: str) -> AssistantMessage:
    """Parse a fixture under every chunking; all must give the same final message."""
    results = []
    for label, chunks in chunkings(load_fixture(name)):
        end = _check_shape(await _events(chunks))
        results.append((label, replace(end.message, timestamp=0)))
    first = results[0][1]
    for label, msg in results[1:]:
        assert msg == first, f"{name}: chunking {label} differs"
    return first


def _sse(*payloads: object, event: str | None = None) -> bytes:
    out = []
    for p in payloads:
        data = p if isinstance(p, str) else json.dumps(p)
        head = f"event: {event}\n" if event else ""
        out.append(f"{head}data: {data}\n\n")
    return "".join(out).encode()


START = {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}}
TEXT_START = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
HELLO = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}


# ---------------------------------------------------------------------------------------------
# Recorded streams


async def test_text_then_tool_use() -> None:
    msg = await _final("anthropic_text-then-tool-use.sse")
    assert msg.text == "I'll check the current weather in Paris for you."
    (call,) = msg.tool_calls
    assert call.id.startswith("toolu_") and call.name == "get_weather"
    assert call.arguments == {"location": "Paris"} and call.parse_error is None
    assert msg.stop_reason == "toolUse"
    assert (msg.usage.input, msg.usage.output, msg.usage.cache_read, msg.usage.cache_write) == (377, 65, 0, 0)


async def test_max_tokens_mid_tool_use_is_length_with_parse_error() -> None:
    msg = await _final("anthropic_max-tokens-mid-tool-use.sse")
    assert msg.stop_reason == "length"
    assert msg.text.startswith("I'll create a comprehensive tax guide")
    (call,) = msg.tool_calls
    assert call.name == "make_file" and call.arguments == {}
    assert call.parse_error is not None and "taxes.txt" in call.parse_error
    assert (msg.usage.input, msg.usage.output) == (450, 124)


async def test_thinking_signature_then_text() -> None:
    msg = await _final("anthropic_thinking-signature-then-text.sse")
    thinking, text = msg.content
    assert isinstance(thinking, ThinkingContent) and isinstance(text, TextContent)
    assert thinking.thinking.startswith("The user wants two names for a pet pelican")
    assert not thinking.redacted
    raw = (FIXTURES / "anthropic_thinking-signature-then-text.sse").read_text()
    sig = next(
        json.loads(line[5:])["delta"]["signature"] for line in raw.splitlines() if "signature_delta" in line
    )
    assert len(sig) > 100 and thinking.thinking_signature == sig
    assert "Pouch" in text.text
    assert msg.stop_reason == "stop" and msg.usage.output == 133


async def test_thinking_then_tool_use_with_empty_input() -> None:
    msg = await _final("anthropic_thinking-then-tool-use-empty-input.sse")
    thinking, call = msg.content
    assert isinstance(thinking, ThinkingContent) and thinking.thinking_signature
    assert "fixed_version" in thinking.thinking
    assert isinstance(call, ToolCall) and call.name == "fixed_version" and call.arguments == {}
    assert call.parse_error is None
    assert msg.stop_reason == "toolUse" and msg.usage.output == 92


async def test_two_tool_use_blocks_without_args() -> None:
    msg = await _final("anthropic_two-tool-use-blocks-no-args.sse")
    calls = msg.tool_calls
    assert len(calls) == 2 and len(msg.content) == 2
    assert all(c.name == "pelican_name_generator" and c.arguments == {} for c in calls)
    assert calls[0].id != calls[1].id
    assert msg.stop_reason == "toolUse" and msg.usage.output == 62 and msg.usage.input == 542


async def test_redacted_thinking_kept_verbatim() -> None:
    msg = await _final("anthropic_redacted-thinking.sse")
    raw = (FIXTURES / "anthropic_redacted-thinking.sse").read_text()
    datas = [
        json.loads(line[5:])["content_block"]["data"]
        for line in raw.splitlines()
        if "redacted_thinking" in line
    ]
    assert len(datas) == 2
    r1, r2, text = msg.content
    for block, data in zip((r1, r2), datas, strict=True):
        assert isinstance(block, ThinkingContent)
        assert block.redacted and block.thinking == "" and block.thinking_signature == data
    assert isinstance(text, TextContent) and text.text.startswith("I notice that you've sent")
    assert msg.stop_reason == "stop" and msg.usage.output == 189


async def test_prompt_cache_usage_and_server_tool_blocks() -> None:
    msg = await _final("anthropic_prompt-cache-usage_server-tool-blocks.jsonl")
    assert msg.tool_calls == ()
    assert [type(c) for c in msg.content] == [TextContent]
    assert msg.text == "The sum of the squares of the numbers 1 through 12 is **650**."
    u = msg.usage
    assert (u.input, u.cache_write, u.cache_read, u.output) == (6, 3337, 6289, 198)
    assert u.total_tokens == 6 + 3337 + 6289 + 198
    assert msg.stop_reason == "stop"


async def test_streamed_deltas_add_up_to_final_text() -> None:
    events = await _events([load_fixture("anthropic_thinking-signature-then-text.sse")])
    final = _check_shape(events).message
    for index, block in enumerate(final.content):
        deltas = "".join(e.delta for e in events if isinstance(e, ContentDelta) and e.content_index == index)
        assert deltas == getattr(block, "text", None) or deltas == getattr(block, "thinking", None)


# ---------------------------------------------------------------------------------------------
# Failures


async def test_in_stream_overloaded_error_is_retryable_and_keeps_partial() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    body = _sse(START, TEXT_START, HELLO) + _sse(error, event="error")
    end = _check_shape(await _events([body]))
    assert isinstance(end, StreamError)
    assert end.error.kind == "overloaded" and end.error.retryable
    assert end.message.stop_reason == "error" and end.message.text == "Hello"
    assert end.message.error_message and "Overloaded" in end.message.error_message


async def test_eof_mid_stream_is_incomplete() -> None:
    for _label, chunks in chunkings(_sse(START, TEXT_START, HELLO)):
        end = _check_shape(await _events(chunks))
        assert isinstance(end, StreamError)
        assert end.error.kind == "incomplete" and end.error.retryable
        assert end.message.text == "Hello"


async def test_stop_reason_without_message_stop_is_success() -> None:
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}}
    end = _check_shape(await _events([_sse(START, TEXT_START, HELLO, delta)]))
    assert isinstance(end, StreamDone) and end.message.text == "Hello"
    assert end.message.usage.input == 10 and end.message.usage.output == 5


async def test_malformed_json_keeps_partial_content() -> None:
    body = _sse(START, TEXT_START, HELLO, '{"type":"content_block_delta", "ind')
    end = _check_shape(await _events([body]))
    assert isinstance(end, StreamError) and end.error.kind == "malformed"
    assert end.message.text == "Hello"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pause_turn", "stop"),
        ("stop_sequence", "stop"),
        ("model_context_window_exceeded", "length"),
        ("weird", "stop"),
    ],
)
async def test_stop_reason_mapping(raw: str, expected: str) -> None:
    delta = {"type": "message_delta", "delta": {"stop_reason": raw}, "usage": {"output_tokens": 5}}
    end = _check_shape(await _events([_sse(START, TEXT_START, HELLO, delta, {"type": "message_stop"})]))
    assert isinstance(end, StreamDone) and end.message.stop_reason == expected


async def test_refusal_is_an_error_with_a_message() -> None:
    delta = {"type": "message_delta", "delta": {"stop_reason": "refusal"}, "usage": {"output_tokens": 0}}
    end = _check_shape(await _events([_sse(START, delta, {"type": "message_stop"})]))
    assert isinstance(end, StreamError) and not end.error.retryable
    assert end.message.stop_reason == "error" and "refusal" in (end.message.error_message or "")


async def test_unknown_block_and_delta_types_are_tolerated() -> None:
    body = _sse(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "compaction", "content": "x"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "compaction_delta", "content": "y"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    )
    end = _check_shape(await _events([body]))
    assert isinstance(end, StreamDone) and end.message.content == (TextContent("ok"),)


async def test_http_400_prompt_too_long_is_overflow() -> None:
    body = json.dumps(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 213462 tokens > 200000 maximum",
            },
        }
    ).encode()
    events = await _events([body], status=400)
    assert len(events) == 2
    end = _check_shape(events)
    assert isinstance(end, StreamError) and end.error.kind == "overflow" and end.error.status == 400
    assert "prompt is too long" in end.error.message and end.message.stop_reason == "error"


async def test_http_529_is_overloaded() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    end = _check_shape(await _events([body], status=529))
    assert isinstance(end, StreamError) and end.error.kind == "overloaded" and end.error.retryable


async def test_connection_lost_mid_stream_is_network_error() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield _sse(START, TEXT_START, HELLO)
            raise httpx.RemoteProtocolError("peer closed connection")

    transport = httpx.MockTransport(lambda _req: httpx.Response(200, stream=Broken()))
    events = [e async for e in AnthropicProvider().stream(MODEL, CTX, StreamOptions(transport=transport))]
    end = _check_shape(events)
    assert isinstance(end, StreamError) and end.error.kind == "network" and end.message.text == "Hello"


async def test_aborted_before_start() -> None:
    controller = AbortController()
    controller.abort()
    end = _check_shape(await _events([_sse(START)], signal=controller.signal))
    assert isinstance(end, StreamError) and end.message.stop_reason == "aborted"


# ---------------------------------------------------------------------------------------------
# Request bodies


async def _request(
    context: LlmContext, *, model: Model = MODEL, **opts: Any
) -> tuple[httpx.Request, dict[str, Any]]:
    log: list[httpx.Request] = []
    await _events(
        [load_fixture("anthropic_text-then-tool-use.sse")], model=model, context=context, log=log, **opts
    )
    (request,) = log
    return request, json.loads(request.content)


def _history() -> tuple[Message, ...]:
    call1 = ToolCall("toolu_1", "read", {"path": "a"})
    call2 = ToolCall("call|weird.id", "read", {"path": "b"})
    assistant = AssistantMessage(
        (
            ThinkingContent("plan", "SIG+/=="),
            ThinkingContent("", "OPAQUE", redacted=True),
            TextContent("Reading."),
            call1,
            call2,
        ),
        API,
        "anthropic",
        "claude-test",
        Usage(),
        "toolUse",
        2,
    )
    return (
        UserMessage((TextContent("read a and b"),), 1),
        assistant,
        ToolResultMessage("toolu_1", "read", (TextContent("A"),), False, 3),
        ToolResultMessage(
            "call|weird.id", "read", (TextContent("no"), ImageContent("AAA", "image/png")), True, 4
        ),
    )


async def test_request_headers_url_and_defaults() -> None:
    tool = ToolSpec("read", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})
    request, body = await _request(replace(CTX, tools=(tool,)), temperature=0.2)
    assert str(request.url) == "https://api.anthropic.test/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert body["model"] == "claude-test" and body["stream"] is True
    assert body["max_tokens"] == 32000
    assert body["system"] == [
        {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"] == [{"name": "read", "description": "Read a file", "input_schema": tool.parameters}]
    assert body["temperature"] == 0.2 and "thinking" not in body


async def test_thinking_replay_tool_results_merged_and_cache_point() -> None:
    _req, body = await _request(replace(CTX, messages=_history()), model=REASONER)
    messages = body["messages"]
    assert isinstance(messages, list) and [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "thinking", "thinking": "plan", "signature": "SIG+/=="},
        {"type": "redacted_thinking", "data": "OPAQUE"},
        {"type": "text", "text": "Reading."},
        {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a"}},
        {"type": "tool_use", "id": "call_weird_id", "name": "read", "input": {"path": "b"}},
    ]
    r1, r2 = messages[2]["content"]
    assert r1 == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "text", "text": "A"}],
        "is_error": False,
    }
    assert r2["tool_use_id"] == "call_weird_id" and r2["is_error"] is True
    assert r2["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
    }
    # exactly two cache points: the system prompt and the last block of the last user message
    assert r2["cache_control"] == {"type": "ephemeral"}
    assert json.dumps(body).count("cache_control") == 2
    assert "cache_control" not in messages[0]["content"][-1]


async def test_thinking_from_another_provider_becomes_text() -> None:
    other = AssistantMessage(
        (ThinkingContent("hmm", "reasoning_content"), TextContent("done")),
        "openai-completions",
        "deepseek",
        "r1",
        Usage(),
        "stop",
        2,
    )
    ctx = replace(
        CTX, messages=(UserMessage((TextContent("q"),), 1), other, UserMessage((TextContent("next"),), 3))
    )
    _req, body = await _request(ctx)
    assistant = body["messages"][1]
    assert assistant["content"] == [{"type": "text", "text": "hmm"}, {"type": "text", "text": "done"}]


@pytest.mark.parametrize(
    ("level", "budget"), [("minimal", 1024), ("low", 2048), ("medium", 8192), ("high", 16384)]
)
async def test_thinking_budget_only_for_reasoning_models(level: str, budget: int) -> None:
    _req, body = await _request(CTX, model=REASONER, thinking_level=level, temperature=0.5)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] > budget
    assert "temperature" not in body
    _req, plain = await _request(CTX, model=MODEL, thinking_level=level)
    assert "thinking" not in plain
    _req, off = await _request(CTX, model=REASONER, thinking_level="off")
    assert "thinking" not in off


async def test_small_max_tokens_still_exceeds_budget() -> None:
    _req, body = await _request(CTX, model=REASONER, thinking_level="high", max_tokens=4000)
    thinking = body["thinking"]
    assert isinstance(thinking, dict) and body["max_tokens"] > thinking["budget_tokens"] >= 1024


async def test_on_payload_can_replace_the_body() -> None:
    seen: list[dict[str, object]] = []

    def hook(body: dict[str, object]) -> dict[str, object]:
        seen.append(body)
        return {**body, "metadata": {"user_id": "u1"}}

    on_payload: Callable[[dict[str, object]], dict[str, object]] = hook
    _req, body = await _request(CTX, on_payload=on_payload)
    assert seen and body["metadata"] == {"user_id": "u1"}
