"""OpenAI Responses adapter: recorded streams under every chunking, synthetic failures, request bodies."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from opi_cli.ai.events import AssistantStreamEvent, ContentDelta, StreamDone, StreamError, StreamStart
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, StreamOptions, ToolSpec
from opi_cli.ai.providers.openai_responses import OpenAIResponsesProvider
from opi_cli.ai.types import (
    AssistantMessage,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from tests.replay import FIXTURES, chunkings, load_fixture, sse_transport

API = "openai-responses"
MODEL = Model("gpt-test", "openai", API, "https://api.openai.test/v1", max_tokens=100000)
REASONER = replace(MODEL, reasoning=True)
CTX = LlmContext("Be brief.", (UserMessage((TextContent("hi"),), 1),))
BIG = "openai-responses_reasoning-summary-multipart-then-text.sse"


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
    options = StreamOptions(api_key="sk-test", transport=transport, **opts)
    return [ev async for ev in OpenAIResponsesProvider().stream(model, context, options)]


def _check_shape(events: list[AssistantStreamEvent]) -> StreamDone | StreamError:
    assert isinstance(events[0], StreamStart)
    terminals = [e for e in events if isinstance(e, StreamDone | StreamError)]
    assert len(terminals) == 1 and terminals[0] is events[-1]
    return terminals[0]


async def _final(name: str) -> StreamDone | StreamError:
    """Parse a fixture under every chunking; all must end the same way."""
    results = []
    for label, chunks in chunkings(load_fixture(name)):
        end = _check_shape(await _events(chunks))
        results.append((label, end, replace(end.message, timestamp=0)))
    first = results[0]
    for label, end, msg in results[1:]:
        assert msg == first[2], f"{name}: chunking {label} differs"
        assert type(end) is type(first[1])
    return first[1]


def _sse(*payloads: object) -> bytes:
    out = []
    for p in payloads:
        data = p if isinstance(p, str) else json.dumps(p)
        kind = f"event: {p['type']}\n" if isinstance(p, dict) else ""
        out.append(f"{kind}data: {data}\n\n")
    return "".join(out).encode()


MSG_ADDED = {"type": "response.output_item.added", "item": {"type": "message", "id": "msg_1", "content": []}}
DELTA = {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hello"}
USAGE = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 7}


# ---------------------------------------------------------------------------------------------
# Recorded streams


async def test_function_call_reported_by_call_id() -> None:
    end = await _final("openai-responses_function-call.sse")
    assert isinstance(end, StreamDone)
    msg = end.message
    (call,) = msg.content
    assert isinstance(call, ToolCall)
    # reported as call_id|item id (results answer the call_id; replay needs the fc_ item id)
    assert call.id.split("|")[0] == "call_kL0PCQV7M2WMoVX8V8OtYSAL" and call.id.split("|")[1].startswith("fc_")
    assert call.name == "get_capital"
    assert call.arguments == {"country": "France"} and call.parse_error is None
    assert msg.stop_reason == "toolUse"
    assert (msg.usage.input, msg.usage.output, msg.usage.cache_read, msg.usage.total_tokens) == (
        255,
        16,
        0,
        271,
    )


def _fixture_payloads(name: str) -> list[dict[str, Any]]:
    raw = (FIXTURES / name).read_text()
    return [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]


async def test_reasoning_summary_parts_then_text() -> None:
    end = await _final(BIG)  # includes the byte-at-a-time feed of all 194 KB (its speed: make bench)
    assert isinstance(end, StreamDone)
    msg = end.message
    thinking, text = msg.content
    assert isinstance(thinking, ThinkingContent) and isinstance(text, TextContent)
    payloads = _fixture_payloads(BIG)
    parts = [p["text"] for p in payloads if p["type"] == "response.reasoning_summary_text.done"]
    assert len(parts) == 4 and thinking.thinking == "\n\n".join(parts)
    item = json.loads(thinking.thinking_signature or "")
    assert item["type"] == "reasoning" and item["id"].startswith("rs_") and item["encrypted_content"]
    (answer,) = [p["text"] for p in payloads if p["type"] == "response.output_text.done"]
    assert text.text == answer and text.text_signature is not None and text.text_signature.startswith("msg_")
    assert msg.stop_reason == "stop"
    assert (msg.usage.input, msg.usage.output, msg.usage.cache_read) == (13, 1680, 0)


async def test_streamed_deltas_add_up_to_final_text() -> None:
    events = await _events([load_fixture(BIG)])
    final = _check_shape(events).message
    thinking = "".join(e.delta for e in events if isinstance(e, ContentDelta) and e.kind == "thinking")
    text = "".join(e.delta for e in events if isinstance(e, ContentDelta) and e.kind == "text")
    first = final.content[0]
    assert isinstance(first, ThinkingContent) and thinking == first.thinking and text == final.text


async def test_error_event_then_failed_is_quota_not_retryable() -> None:
    end = await _final("openai-responses_error-event-then-failed.jsonl")
    assert isinstance(end, StreamError)
    assert end.error.kind == "quota" and not end.error.retryable
    assert "exceeded your current quota" in end.error.message
    assert end.message.stop_reason == "error" and end.message.content == ()


# ---------------------------------------------------------------------------------------------
# Synthetic streams


async def test_flat_error_event() -> None:
    flat = {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None}
    end = _check_shape(await _events([_sse(MSG_ADDED, DELTA, flat)]))
    assert isinstance(end, StreamError) and end.error.kind == "rate_limit" and end.error.retryable
    assert end.message.text == "Hello"


async def test_failed_with_overflow() -> None:
    failed = {
        "type": "response.failed",
        "response": {
            "status": "failed",
            "error": {
                "code": "context_length_exceeded",
                "message": "Your input exceeds the context window of this model.",
            },
        },
    }
    end = _check_shape(await _events([_sse(failed)]))
    assert isinstance(end, StreamError) and end.error.kind == "overflow"
    assert "exceeds the context window" in (end.message.error_message or "")


async def test_incomplete_is_length_with_usage() -> None:
    incomplete = {
        "type": "response.incomplete",
        "response": {
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "usage": USAGE,
        },
    }
    end = _check_shape(await _events([_sse(MSG_ADDED, DELTA, incomplete)]))
    assert isinstance(end, StreamDone) and end.message.stop_reason == "length" and end.message.text == "Hello"
    u = end.message.usage
    assert (u.input, u.cache_read, u.output, u.cache_write, u.total_tokens) == (40, 60, 7, 0, 107)


async def test_eof_without_terminal_event_is_incomplete() -> None:
    for _label, chunks in chunkings(_sse(MSG_ADDED, DELTA)):
        end = _check_shape(await _events(chunks))
        assert isinstance(end, StreamError) and end.error.kind == "incomplete" and end.error.retryable
        assert end.message.text == "Hello"


async def test_malformed_json_keeps_partial_text() -> None:
    end = _check_shape(await _events([_sse(MSG_ADDED, DELTA, '{"type":"response.output_text.delta",')]))
    assert isinstance(end, StreamError) and end.error.kind == "malformed" and end.message.text == "Hello"


async def test_arguments_done_wins_over_deltas() -> None:
    added = {
        "type": "response.output_item.added",
        "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "bash", "arguments": ""},
    }
    body = _sse(
        added,
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"cmd": "l'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "s-garbled"},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": '{"cmd": "ls"}'},
        {"type": "response.completed", "response": {"status": "completed", "usage": USAGE}},
    )
    end = _check_shape(await _events([body]))
    assert isinstance(end, StreamDone) and end.message.stop_reason == "toolUse"
    assert end.message.tool_calls == (ToolCall("call_1|fc_1", "bash", {"cmd": "ls"}),)


async def test_http_429_insufficient_quota() -> None:
    body = b'{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}'
    end = _check_shape(await _events([body], status=429))
    assert isinstance(end, StreamError) and end.error.kind == "quota" and not end.error.retryable


async def test_item_done_without_added_still_reports_the_call() -> None:
    item = {
        "type": "function_call",
        "id": "fc_2",
        "call_id": "call_2",
        "name": "read",
        "arguments": '{"path": "x"}',
    }
    body = _sse(
        {"type": "response.output_item.done", "item": item},
        {"type": "response.completed", "response": {"status": "completed"}},
    )
    end = _check_shape(await _events([body]))
    assert isinstance(end, StreamDone) and end.message.stop_reason == "toolUse"
    assert end.message.tool_calls == (ToolCall("call_2|fc_2", "read", {"path": "x"}),)


# ---------------------------------------------------------------------------------------------
# Request bodies


async def _request(
    context: LlmContext, *, model: Model = MODEL, **opts: Any
) -> tuple[httpx.Request, dict[str, Any]]:
    log: list[httpx.Request] = []
    await _events(
        [load_fixture("openai-responses_function-call.sse")], model=model, context=context, log=log, **opts
    )
    (request,) = log
    return request, json.loads(request.content)


async def test_request_basics() -> None:
    tool = ToolSpec("bash", "Run a command", {"type": "object", "properties": {"cmd": {"type": "string"}}})
    request, body = await _request(replace(CTX, tools=(tool,)), thinking_level="high")
    assert str(request.url) == "https://api.openai.test/v1/responses"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-test" and body["instructions"] == "Be brief."
    assert body["stream"] is True and body["store"] is False and body["max_output_tokens"] == 32000
    assert body["input"] == [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
    assert body["tools"] == [
        {
            "type": "function",
            "name": "bash",
            "description": "Run a command",
            "parameters": tool.parameters,
            "strict": False,
        }
    ]
    assert "reasoning" not in body and "include" not in body  # not a reasoning model
    _request2, strict = await _request(replace(CTX, tools=(replace(tool, strict=True),)))
    assert strict["tools"][0]["strict"] is True


@pytest.mark.parametrize(
    ("level", "effort"), [("minimal", "minimal"), ("medium", "medium"), ("xhigh", "high")]
)
async def test_reasoning_params_only_for_reasoning_models(level: str, effort: str) -> None:
    _req, body = await _request(CTX, model=REASONER, thinking_level=level)
    assert body["reasoning"] == {"effort": effort, "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    _req, off = await _request(CTX, model=REASONER, thinking_level="off")
    assert "reasoning" not in off and "include" not in off


async def test_replay_reasoning_function_calls_and_outputs() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC"}
    assistant = AssistantMessage(
        (
            ThinkingContent("thought", json.dumps(item)),
            TextContent("Running it.", "msg_9"),
            ToolCall("call_7", "bash", {"cmd": "ls"}),
        ),
        API,
        "openai",
        "gpt-test",
        Usage(),
        "toolUse",
        2,
    )
    result = ToolResultMessage("call_7", "bash", (TextContent("a.txt"),), False, 3)
    ctx = replace(CTX, messages=(*CTX.messages, assistant, result))
    _req, body = await _request(ctx, model=REASONER, thinking_level="medium")
    assert body["input"][1:] == [
        item,
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Running it.", "annotations": []}],
            "status": "completed",
            "id": "msg_9",
        },
        {"type": "function_call", "call_id": "call_7", "name": "bash", "arguments": '{"cmd":"ls"}'},
        {"type": "function_call_output", "call_id": "call_7", "output": "a.txt"},
    ]


async def test_thinking_from_another_api_is_not_replayed() -> None:
    other = AssistantMessage(
        (ThinkingContent("hmm", "SIG"), TextContent("ok")),
        "anthropic-messages",
        "anthropic",
        "c",
        Usage(),
        "stop",
        2,
    )
    ctx = replace(CTX, messages=(*CTX.messages, other))
    _req, body = await _request(ctx)
    (replayed,) = body["input"][1:]
    assert replayed["type"] == "message" and "id" not in replayed


def test_replayed_call_keeps_its_item_id_and_results_answer_the_call_id() -> None:
    from opi_cli.ai.model import Model
    from opi_cli.ai.provider import LlmContext, StreamOptions
    from opi_cli.ai.providers.openai_responses import build_responses_request
    from opi_cli.ai.types import AssistantMessage, TextContent, ToolResultMessage, Usage, UserMessage

    model = Model("gpt-x", "openai", "openai-responses", "https://api.openai.com/v1", reasoning=True)
    call = ToolCall("call_9|fc_9", "read", {"path": "a"})
    msgs = (
        UserMessage((TextContent("go"),), 1),
        AssistantMessage((call,), "openai-responses", "openai", "gpt-x", Usage(), "toolUse", 2),
        ToolResultMessage("call_9|fc_9", "read", (TextContent("data"),), False, 3),
    )
    body = build_responses_request(model, LlmContext("", msgs), StreamOptions())
    items = body["input"]
    fc = next(i for i in items if i.get("type") == "function_call")
    out = next(i for i in items if i.get("type") == "function_call_output")
    assert fc["call_id"] == "call_9" and fc["id"] == "fc_9"
    assert out["call_id"] == "call_9"
