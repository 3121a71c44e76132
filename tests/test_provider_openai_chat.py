"""OpenAI Chat Completions adapter: recorded streams, synthetic edge cases, request bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import httpx
import pytest

from opi_cli._util.abort import AbortController
from opi_cli.ai.events import (
    AssistantStreamEvent,
    ContentDelta,
    ContentEnd,
    StreamDone,
    StreamError,
    StreamStart,
)
from opi_cli.ai.model import Model, ModelCost, OpenAICompat
from opi_cli.ai.provider import LlmContext, StreamOptions, ToolSpec
from opi_cli.ai.providers.openai_chat import OpenAIChatProvider, resolve_compat
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
from tests.replay import chunkings, load_fixture, sse_transport

OPENAI_URL = "https://api.openai.com/v1"
LOCAL_URL = "http://127.0.0.1:11434/v1"
HELLO = LlmContext("You are terse.", (UserMessage((TextContent("hi"),), 1),))


def make_model(**kw: object) -> Model:
    args: dict[str, object] = {
        "id": "gpt-4o",
        "provider": "openai",
        "api": "openai-completions",
        "base_url": OPENAI_URL,
    }
    args.update(kw)
    return Model(**args)  # type: ignore[arg-type]


async def run(
    chunks: list[bytes],
    *,
    model: Model | None = None,
    context: LlmContext = HELLO,
    status: int = 200,
    resp_headers: dict[str, str] | None = None,
    log: list[httpx.Request] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **opts: object,
) -> list[AssistantStreamEvent]:
    t = transport or sse_transport(chunks, status=status, headers=resp_headers, log=log)
    options = StreamOptions(api_key="sk-test-key", transport=t, **opts)  # type: ignore[arg-type]
    return [ev async for ev in OpenAIChatProvider().stream(model or make_model(), context, options)]


def terminal(events: list[AssistantStreamEvent]) -> StreamDone | StreamError:
    """Check the event contract and return the one terminal event."""
    assert isinstance(events[0], StreamStart)
    ends = [e for e in events if isinstance(e, StreamDone | StreamError)]
    assert len(ends) == 1 and events[-1] is ends[0]
    return ends[0]


def deltas_agree(events: list[AssistantStreamEvent], msg: AssistantMessage) -> None:
    """Text/thinking deltas add up to the final blocks (streamed and final views agree)."""
    joined: dict[int, str] = {}
    for e in events:
        if isinstance(e, ContentDelta) and e.kind != "toolcall":
            joined[e.content_index] = joined.get(e.content_index, "") + e.delta
    for i, text in joined.items():
        block = msg.content[i]
        assert text == (block.thinking if isinstance(block, ThinkingContent) else getattr(block, "text", None))


def sse(*payloads: object, done: bool = True) -> list[bytes]:
    body = "".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads)
    return [(body + ("data: [DONE]\n\n" if done else "")).encode()]


def chunk(delta: dict[str, object] | None = None, finish: str | None = None, **extra: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


# ---------------------------------------------------------------------------------------------
# Recorded streams


@dataclass
class Expect:
    text: str = ""
    thinking: str = ""
    thinking_sig: str | None = None
    calls: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    stop: str = "stop"
    usage: tuple[int, int, int, int] = (0, 0, 0, 0)  # input, output, cacheRead, totalTokens


RECORDED: dict[str, Expect] = {
    "openai-chat_parallel-tool-calls_usage.sse": Expect(
        calls=[
            ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs", {"city": "Edinburgh", "country": "GB", "units": "c"}),
            ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price", {"ticker": "AAPL", "exchange": "NASDAQ"}),
        ],
        stop="toolUse",
        usage=(149, 60, 0, 209),
    ),
    "openai-chat_refusal.sse": Expect(text="I'm sorry, I can't assist with that request.", usage=(79, 11, 0, 90)),
    "openai-chat_finish-length.sse": Expect(text='{"', stop="length", usage=(79, 1, 0, 80)),
    "azure-openai-chat_prompt-filter-first-chunk.jsonl": Expect(text="Capital of Denmark.", usage=(15, 78, 0, 93)),
    "deepseek_reasoning-content-then-tool-call.jsonl": Expect(
        thinking=(
            "The user is asking for the weather in San Francisco. I need to use the weather tool to get "
            'this information. Let me invoke the weather tool with the location parameter set to "San Francisco".'
        ),
        thinking_sig="reasoning_content",
        calls=[("call_00_ioIn7yN9p1ZOMNpDLwd4MgAF", "weather", {"location": "San Francisco"})],
        stop="toolUse",
        usage=(19, 83, 320, 422),
    ),
    "groq_whole-tool-call_x-groq-usage.jsonl": Expect(
        calls=[("tk85n1k4m", "weather", {})], stop="toolUse", usage=(210, 15, 0, 225)
    ),
    "mistral_whole-tool-call_no-index_finish-same-chunk.jsonl": Expect(
        calls=[("gSIMJiOkT", "weather", {"location": "San Francisco"})], stop="toolUse", usage=(124, 22, 0, 146)
    ),
    "openrouter_comments_reasoning-details_usage-chunk-with-choices.sse": Expect(
        text="2 + 2 = 4",
        thinking="This is a simple arithmetic question. 2+2 equals 4.",
        thinking_sig="reasoning",
        usage=(43, 36, 0, 79),
    ),
    "ollama_parallel-whole-tool-calls.sse": Expect(
        calls=[
            ("call_wteop8bt", "run_command", {"command": "ls"}),
            ("call_rk2xye1l", "run_command", {"command": "ls -l"}),
        ],
        stop="toolUse",
    ),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_stream_parses_the_same_however_chunked(name: str) -> None:
    exp = RECORDED[name]
    data = load_fixture(name)
    results: dict[str, AssistantMessage] = {}
    for label, chunks in chunkings(data):
        events = await run(chunks)
        end = terminal(events)
        assert isinstance(end, StreamDone), (label, end)
        msg = end.message
        deltas_agree(events, msg)
        assert msg.text == exp.text, label
        thinking = [c for c in msg.content if isinstance(c, ThinkingContent)]
        assert "".join(t.thinking for t in thinking) == exp.thinking, label
        if exp.thinking:
            assert len(thinking) == 1 and thinking[0].thinking_signature == exp.thinking_sig
        assert [(c.id, c.name, c.arguments) for c in msg.tool_calls] == exp.calls, label
        assert all(c.parse_error is None for c in msg.tool_calls)
        assert msg.stop_reason == exp.stop, label
        u = msg.usage
        assert (u.input, u.output, u.cache_read, u.total_tokens) == exp.usage, label
        results[label] = msg.with_(timestamp=0)
    assert all(m == results["whole"] for m in results.values())


async def test_groq_midstream_error_event_is_a_non_retryable_error_keeping_reasoning() -> None:
    data = load_fixture("groq_reasoning-then-midstream-error-event.sse")
    for label, chunks in chunkings(data, random_cuts=2):
        end = terminal(await run(chunks))
        assert isinstance(end, StreamError), label
        assert end.error.kind == "bad_request" and not end.error.retryable
        assert "Tool call validation failed" in end.error.message
        assert end.message.stop_reason == "error"
        assert end.message.error_message == end.error.message
        thinking = end.message.content[0]
        assert isinstance(thinking, ThinkingContent)
        assert thinking.thinking.startswith("We need to call the tool with invalid parameters first")
        assert thinking.thinking.endswith("Let's do that.")


async def test_openrouter_error_inside_a_chunk_after_finish_is_an_error() -> None:
    data = load_fixture("openrouter_error-inside-chunk_after-finish.sse")
    for label, chunks in chunkings(data, random_cuts=2):
        end = terminal(await run(chunks, model=make_model(provider="openrouter", base_url="https://openrouter.ai/api/v1")))
        assert isinstance(end, StreamError), label
        assert "Token limit reached" in end.error.message
        assert end.message.stop_reason == "error"
        assert end.message.content == (ThinkingContent("We need to respond to a greeting. The user", "reasoning"),)
        assert (end.message.usage.input, end.message.usage.output) == (43, 10)


# ---------------------------------------------------------------------------------------------
# Synthetic streams


async def test_malformed_data_line_keeps_partial_text() -> None:
    chunks = sse(chunk({"content": "Hel"}), chunk({"content": "lo"}), '{"choices": [ broken', chunk({"content": "!"}))
    end = terminal(await run(chunks))
    assert isinstance(end, StreamError)
    assert end.error.kind == "malformed" and not end.error.retryable
    assert end.message.text == "Hello"
    assert end.message.stop_reason == "error"


async def test_eof_without_finish_reason_or_done_is_incomplete_and_retryable() -> None:
    chunks = sse(chunk({"role": "assistant", "content": "partial "}), chunk({"content": "answer"}), done=False)
    end = terminal(await run(chunks))
    assert isinstance(end, StreamError)
    assert end.error.kind == "incomplete" and end.error.retryable
    assert end.message.text == "partial answer"


async def test_eof_with_open_tool_call_is_incomplete_and_drops_the_call() -> None:
    tc = {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a'}}]}
    end = terminal(await run(sse(chunk({"content": "Let me look."}), chunk(tc), done=False)))
    assert isinstance(end, StreamError) and end.error.kind == "incomplete"
    assert end.message.text == "Let me look." and end.message.tool_calls == ()


async def test_done_without_trailing_blank_line_completes() -> None:
    body = f"data: {json.dumps(chunk({'content': 'ok'}))}\n\ndata: [DONE]".encode()
    for label, chunks in chunkings(body):
        end = terminal(await run(chunks))
        assert isinstance(end, StreamDone), label
        assert end.message.text == "ok" and end.message.stop_reason == "stop"


async def test_finish_reason_without_done_completes() -> None:
    end = terminal(await run(sse(chunk({"content": "ok"}), chunk(finish="stop"), done=False)))
    assert isinstance(end, StreamDone) and end.message.text == "ok"


async def test_llama_cpp_error_field_is_an_overflow_error() -> None:
    body = (
        f"data: {json.dumps(chunk({'content': 'Hi'}))}\n\n"
        'error: {"code":400,"message":"the request exceeds the available context size, try increasing it",'
        '"type":"exceed_context_size_error"}\n\n'
        "data: [DONE]\n\n"
    ).encode()
    for label, chunks in chunkings(body, random_cuts=2):
        end = terminal(await run(chunks))
        assert isinstance(end, StreamError), label
        assert end.error.kind == "overflow"
        assert end.message.text == "Hi"


async def test_data_error_object_midstream_is_classified() -> None:
    err = {"error": {"message": "This model's maximum context length is 8192 tokens. However...", "type": "x"}}
    end = terminal(await run(sse(chunk({"content": "a"}), err)))
    assert isinstance(end, StreamError) and end.error.kind == "overflow"
    assert end.message.text == "a"


async def test_lm_studio_event_error_with_flat_message() -> None:
    body = b'event: error\ndata: {"message": "Model crashed"}\n\n'
    end = terminal(await run([body]))
    assert isinstance(end, StreamError) and "Model crashed" in end.error.message


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
async def test_crlf_and_cr_framing(eol: str) -> None:
    body = (
        ": keep-alive" + eol + eol
        + "data:" + json.dumps(chunk({"content": "caf\u00e9 "})) + eol + eol
        + "data: " + json.dumps(chunk({"content": "\u65e5\U0001f600"}, "stop")) + eol + eol
        + "data: [DONE]" + eol + eol
    ).encode()
    for label, chunks in chunkings(body):
        end = terminal(await run(chunks))
        assert isinstance(end, StreamDone), label
        assert end.message.text == "caf\u00e9 \u65e5\U0001f600"


async def test_interleaved_tool_fragments_and_several_per_list() -> None:
    def frag(i: int, args: str, **kw: object) -> dict[str, object]:
        return {"index": i, "function": {"arguments": args, **kw.pop("fn", {})}, **kw}  # type: ignore[dict-item]

    stream = sse(
        chunk({"content": "Checking."}),
        chunk({"tool_calls": [frag(0, "", id="call_a", type="function", fn={"name": "read"})]}),
        chunk({"tool_calls": [frag(1, '{"pa', id="call_b", type="function", fn={"name": "grep"}), frag(0, '{"path"')]}),
        chunk({"tool_calls": [frag(0, ': "a.py"}'), frag(1, 'ttern": "x\\ud83d')]}),
        chunk({"tool_calls": [frag(1, '\\ude00"}', id="", type=None, fn={"name": ""})]}),
        chunk(finish="tool_calls"),
    )
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone) and end.message.stop_reason == "toolUse"
    assert [(c.id, c.name, c.arguments) for c in end.message.tool_calls] == [
        ("call_a", "read", {"path": "a.py"}),
        ("call_b", "grep", {"pattern": "x\U0001f600"}),
    ]
    assert end.message.text == "Checking."
    assert [type(c) for c in end.message.content] == [TextContent, ToolCall, ToolCall]


async def test_sglang_same_index_different_id_starts_a_new_call() -> None:
    def call(cid: str, name: str, args: str) -> dict[str, object]:
        return chunk({"tool_calls": [{"index": 0, "id": cid, "type": "function", "function": {"name": name, "arguments": args}}]})

    stream = sse(
        call("id-1", "f", '{"x":'),
        call("id-1", "", "1}"),  # the same id repeated on a continuation
        call("id-2", "g", '{"y": 2}'),
        chunk(finish="tool_calls"),
    )
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone)
    assert [(c.id, c.name, c.arguments) for c in end.message.tool_calls] == [("id-1", "f", {"x": 1}), ("id-2", "g", {"y": 2})]


async def test_no_index_continues_last_call_unless_new_id() -> None:
    stream = sse(
        chunk({"tool_calls": [{"id": "abc123xyz", "function": {"name": "f", "arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"function": {"name": "", "arguments": ": 1}"}}]}),
        chunk({"tool_calls": [{"id": "zzz", "function": {"name": "g", "arguments": "{}"}}]}),
        chunk(finish="stop"),  # legacy Ollama: tool calls with "stop" are still a tool turn
    )
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone) and end.message.stop_reason == "toolUse"
    assert [(c.id, c.name, c.arguments) for c in end.message.tool_calls] == [("abc123xyz", "f", {"a": 1}), ("zzz", "g", {})]


async def test_same_id_at_two_indexes_stays_two_calls_with_distinct_ids() -> None:
    def frag(i: int, name: str, args: str) -> dict[str, object]:
        return chunk({"tool_calls": [{"index": i, "id": "dup", "type": "function", "function": {"name": name, "arguments": args}}]})

    stream = sse(frag(0, "f", '{"x": 1}'), frag(1, "g", '{"y": 2}'), chunk(finish="tool_calls"))
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone)
    calls = end.message.tool_calls
    assert [(c.name, c.arguments) for c in calls] == [("f", {"x": 1}), ("g", {"y": 2})]
    assert calls[0].id == "dup" and calls[1].id != "dup" and calls[1].id.startswith("dup")


async def test_same_id_twice_without_index_whole_calls_stay_apart() -> None:
    def whole(name: str, args: str) -> dict[str, object]:
        return chunk({"tool_calls": [{"id": "gSIMJiOkT", "function": {"name": name, "arguments": args}}]})

    stream = sse(whole("f", '{"x": 1}'), whole("f", '{"x": 2}'), chunk(finish="tool_calls"))
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone)
    assert [c.arguments for c in end.message.tool_calls] == [{"x": 1}, {"x": 2}]
    assert len({c.id for c in end.message.tool_calls}) == 2


async def test_tool_call_without_id_gets_one_and_bad_json_is_reported() -> None:
    stream = sse(chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{oops"}}]}, "tool_calls"))
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone)
    (call,) = end.message.tool_calls
    assert call.id.startswith("call_") and call.name == "f"
    assert call.arguments == {} and call.parse_error is not None and "{oops" in call.parse_error


async def test_first_finish_reason_wins_and_later_null_does_not_reset() -> None:
    stream = sse(chunk({"content": "x"}, "length"), chunk(finish="stop"), chunk({"content": ""}, None, usage={"prompt_tokens": 5, "completion_tokens": 1}))
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone) and end.message.stop_reason == "length"
    assert (end.message.usage.input, end.message.usage.output) == (5, 1)


async def test_content_filter_finish_is_an_error_with_message() -> None:
    end = terminal(await run(sse(chunk({"content": "The answer"}), chunk(finish="content_filter"))))
    assert isinstance(end, StreamError)
    assert "content_filter" in end.error.message and end.message.stop_reason == "error"
    assert end.message.text == "The answer"


async def test_mistral_content_parts_and_block_switching() -> None:
    stream = sse(
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Think "}]}]}),
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "more."}]}]}),
        chunk({"content": [{"type": "text", "text": "Answer"}]}),
        chunk({"content": " done"}),
        chunk({"reasoning_content": "again"}),
        chunk({"content": "!"}, "stop"),
    )
    events = await run(stream)
    end = terminal(events)
    assert isinstance(end, StreamDone)
    assert end.message.content == (
        ThinkingContent("Think more."),
        TextContent("Answer done"),
        ThinkingContent("again", "reasoning_content"),
        TextContent("!"),
    )
    ends = [e.content_index for e in events if isinstance(e, ContentEnd)]
    assert ends == [0, 1, 2, 3]


async def test_reasoning_field_taken_once_per_chunk_and_empty_is_absent() -> None:
    stream = sse(
        chunk({"reasoning_content": "", "reasoning": "same", "reasoning_text": "same", "content": None}),
        chunk({"content": "ok"}, "stop"),
    )
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone)
    assert end.message.content == (ThinkingContent("same", "reasoning"), TextContent("ok"))


async def test_empty_chunks_create_no_blocks() -> None:
    stream = sse({"choices": []}, chunk({"role": "assistant", "content": ""}), chunk({"content": None, "refusal": None}), chunk(finish="stop"))
    end = terminal(await run(stream))
    assert isinstance(end, StreamDone) and end.message.content == ()


async def test_usage_variants_and_cost() -> None:
    model = make_model(cost=ModelCost(input=1.0, output=2.0, cache_read=0.5))
    deepseek = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_cache_hit_tokens": 40}
    end = terminal(await run(sse(chunk({"content": "a"}, "stop", usage=deepseek)), model=model))
    assert isinstance(end, StreamDone)
    u = end.message.usage
    assert (u.input, u.output, u.cache_read, u.total_tokens) == (60, 10, 40, 110)
    assert u.cost.total == pytest.approx((60 * 1.0 + 10 * 2.0 + 40 * 0.5) / 1e6)
    in_choice = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}]}
    end = terminal(await run(sse(chunk({"content": "a"}), in_choice)))
    assert isinstance(end, StreamDone) and end.message.usage.total_tokens == 10
    llama = chunk({}, "stop", timings={"prompt_n": 4, "cache_n": 6, "predicted_n": 2})
    end = terminal(await run(sse(chunk({"content": "a"}), llama)))
    assert isinstance(end, StreamDone)
    assert (end.message.usage.input, end.message.usage.cache_read, end.message.usage.output) == (4, 6, 2)


# ---------------------------------------------------------------------------------------------
# HTTP errors, abort


async def test_http_429_with_retry_after_is_rate_limit() -> None:
    body = json.dumps({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
    events = await run([body.encode()], status=429, resp_headers={"retry-after": "2", "content-type": "application/json"})
    assert len(events) == 2
    end = terminal(events)
    assert isinstance(end, StreamError)
    assert end.error.kind == "rate_limit" and end.error.retry_after_ms == 2000 and end.error.status == 429
    assert end.message.stop_reason == "error" and end.message.content == ()


async def test_http_400_overflow_body_is_overflow() -> None:
    body = json.dumps({"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens.", "type": "invalid_request_error", "code": "context_length_exceeded"}})
    end = terminal(await run([body.encode()], status=400))
    assert isinstance(end, StreamError) and end.error.kind == "overflow" and not end.error.retryable


async def test_http_401_is_auth_and_key_is_not_leaked() -> None:
    body = json.dumps({"error": {"message": "Incorrect API key provided: sk-test-key.", "code": "invalid_api_key"}})
    end = terminal(await run([body.encode()], status=401))
    assert isinstance(end, StreamError) and end.error.kind == "auth"
    assert "sk-test-key" not in end.error.message


async def test_abort_mid_stream_keeps_partial_text_and_stops_as_aborted() -> None:
    controller = AbortController()

    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield sse(chunk({"content": "Hel"}), done=False)[0]
            await controller.signal.wait()
            yield sse(chunk({"content": "lo"}), done=False)[0]

    transport = httpx.MockTransport(lambda _req: httpx.Response(200, stream=Stream()))
    events: list[AssistantStreamEvent] = []
    options = StreamOptions(transport=transport, signal=controller.signal)
    async with asyncio.timeout(10):
        async for ev in OpenAIChatProvider().stream(make_model(), HELLO, options):
            events.append(ev)
            if isinstance(ev, ContentDelta):
                controller.abort()
    end = terminal(events)
    assert isinstance(end, StreamError)
    assert end.error.kind == "aborted" and end.message.stop_reason == "aborted"
    assert end.message.text == "Hel"


def dropping_transport(body: bytes) -> httpx.MockTransport:
    """A server that sends ``body`` and then loses the connection."""

    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield body
            raise httpx.ReadError("connection reset")

    return httpx.MockTransport(lambda _req: httpx.Response(200, stream=Stream()))


async def test_connection_lost_midway_is_a_retryable_network_error() -> None:
    end = terminal(await run([], transport=dropping_transport(sse(chunk({"content": "par"}), done=False)[0])))
    assert isinstance(end, StreamError) and end.error.kind == "network" and end.error.retryable
    assert end.message.text == "par"


async def test_connection_lost_after_finish_chunk_still_succeeds() -> None:
    body = sse(chunk({"content": "whole"}, "stop"), done=False)[0]
    end = terminal(await run([], transport=dropping_transport(body)))
    assert isinstance(end, StreamDone) and end.message.text == "whole"


async def test_already_aborted_still_starts_and_ends() -> None:
    controller = AbortController()
    controller.abort()
    end = terminal(await run(sse(chunk({"content": "x"}, "stop")), signal=controller.signal))
    assert isinstance(end, StreamError) and end.message.stop_reason == "aborted"


# ---------------------------------------------------------------------------------------------
# Request bodies


async def request_of(model: Model, context: LlmContext = HELLO, **opts: object) -> tuple[httpx.Request, dict[str, object]]:
    log: list[httpx.Request] = []
    end = terminal(await run(sse(chunk({"content": "ok"}, "stop")), model=model, context=context, log=log, **opts))
    assert isinstance(end, StreamDone)
    (req,) = log
    return req, json.loads(req.content)


TOOLS = (ToolSpec("read", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}}),)


async def test_openai_reasoning_model_request() -> None:
    model = make_model(id="gpt-5", reasoning=True, max_tokens=128000)
    ctx = LlmContext("sys", HELLO.messages, TOOLS)
    req, body = await request_of(model, ctx, thinking_level="high")
    assert str(req.url) == "https://api.openai.com/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test-key"
    assert req.headers["content-type"] == "application/json"
    assert body == {
        "model": "gpt-5",
        "messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "store": False,
        "max_completion_tokens": 32000,
        "tools": [{"type": "function", "function": {"name": "read", "description": "Read a file", "parameters": TOOLS[0].parameters, "strict": False}}],
        "reasoning_effort": "high",
    }


async def test_non_reasoning_model_gets_system_role_and_no_effort() -> None:
    _, body = await request_of(make_model(max_tokens=4096), thinking_level="high")
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}  # type: ignore[index]
    assert "reasoning_effort" not in body and "tools" not in body
    assert body["max_completion_tokens"] == 4096


@pytest.mark.parametrize(("model_id", "expected"), [("gpt-5", "high"), ("gpt-5.2", "xhigh")])
async def test_xhigh_clamped_unless_supported(model_id: str, expected: str) -> None:
    _, body = await request_of(make_model(id=model_id, reasoning=True), thinking_level="xhigh")
    assert body["reasoning_effort"] == expected


async def test_thinking_off_sends_no_effort() -> None:
    _, body = await request_of(make_model(id="gpt-5", reasoning=True), thinking_level="off")
    assert "reasoning_effort" not in body


async def test_local_server_is_conservative() -> None:
    local = make_model(id="qwen3:8b", provider="ollama", base_url=LOCAL_URL, reasoning=True)
    req, body = await request_of(local, thinking_level="medium", max_tokens=1000)
    assert str(req.url) == "http://127.0.0.1:11434/v1/chat/completions"
    assert body["messages"][0]["role"] == "system"  # type: ignore[index]
    assert "store" not in body and "max_completion_tokens" not in body
    assert body["max_tokens"] == 1000 and body["reasoning_effort"] == "medium"
    _, body = await request_of(make_model(id="llama3", provider="ollama", base_url=LOCAL_URL), thinking_level="medium")
    assert "reasoning_effort" not in body


async def test_explicit_compat_overrides_detection() -> None:
    compat = OpenAICompat(
        supports_developer_role=True, supports_usage_in_streaming=False, max_tokens_field="max_completion_tokens",
        supports_reasoning_effort=False, supports_store=True,
    )
    model = make_model(provider="vllm", base_url=LOCAL_URL, reasoning=True, compat=compat)
    _, body = await request_of(model, thinking_level="high")
    assert body["messages"][0]["role"] == "developer"  # type: ignore[index]
    assert "stream_options" not in body and "reasoning_effort" not in body
    assert body["store"] is False and "max_completion_tokens" in body


def test_resolve_compat_families() -> None:
    assert resolve_compat(make_model()).supports_store
    assert resolve_compat(make_model(provider="mistral", base_url="https://api.mistral.ai/v1")).requires_tool_result_name
    zai = resolve_compat(make_model(provider="zai", base_url="https://api.z.ai/api/paas/v4"))
    assert zai.thinking_format == "zai" and not zai.supports_developer_role
    assert resolve_compat(make_model(provider="openai", base_url=LOCAL_URL)).max_tokens_field == "max_tokens"


async def test_options_temperature_json_mode_headers_and_on_payload() -> None:
    seen: list[dict[str, object]] = []

    def on_payload(body: dict[str, object]) -> dict[str, object]:
        seen.append(dict(body))
        return {**body, "extra": 1}

    model = make_model(headers={"x-model": "m", "x-both": "model"})
    req, body = await request_of(
        model, temperature=0.2, json_mode=True, headers={"x-both": "options"}, on_payload=on_payload
    )
    assert body["temperature"] == 0.2 and body["response_format"] == {"type": "json_object"}
    assert body["extra"] == 1 and "extra" not in seen[0]
    assert req.headers["x-model"] == "m" and req.headers["x-both"] == "options"


def convo(*messages: Message) -> LlmContext:
    return LlmContext("", messages)


def assistant(*content: object, stop: str = "toolUse", provider: str = "openai") -> AssistantMessage:
    return AssistantMessage(tuple(content), "openai-completions", provider, "m", Usage(), stop, 1)  # type: ignore[arg-type]


async def test_replay_of_assistant_tool_calls_and_results() -> None:
    png = ImageContent("iVBORw0KGgo=", "image/png")
    ctx = convo(
        UserMessage((TextContent("look"), png), 1),
        assistant(
            ThinkingContent("hmm", "reasoning_content"),
            TextContent("Sure. "),
            TextContent("Reading."),
            ToolCall("call_1", "read", {"path": "a.png"}),
            ToolCall("call_2", "read", {"path": "b"}),
        ),
        ToolResultMessage("call_1", "read", (png,), False, 2),
        ToolResultMessage("call_2", "read", (TextContent("contents"),), False, 2),
        UserMessage((TextContent("thanks"),), 3),
    )
    _, body = await request_of(make_model(input=("text", "image")), ctx)
    data_url = "data:image/png;base64,iVBORw0KGgo="
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": data_url}}]},
        {
            "role": "assistant",
            "reasoning_content": "hmm",
            "content": "Sure. Reading.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": '{"path":"a.png"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "read", "arguments": '{"path":"b"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "(see attached image)"},
        {"role": "tool", "tool_call_id": "call_2", "content": "contents"},
        {"role": "user", "content": [{"type": "text", "text": "Attached image(s) from tool result:"}, {"type": "image_url", "image_url": {"url": data_url}}]},
        {"role": "user", "content": "thanks"},
    ]


async def test_text_only_model_gets_no_images_and_foreign_thinking_is_dropped() -> None:
    png = ImageContent("AAAA", "image/png")
    ctx = convo(
        UserMessage((TextContent("q"),), 1),
        assistant(ThinkingContent("secret", "EqQBCkgIAhABGAIiQ..."), ThinkingContent("plain"), ToolCall("c1", "shot", {})),
        ToolResultMessage("c1", "shot", (png,), False, 2),
    )
    _, body = await request_of(make_model(), ctx)
    msgs = body["messages"]
    assert msgs[1] == {  # type: ignore[index]
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}],
    }
    assert msgs[2] == {"role": "tool", "tool_call_id": "c1", "content": "(no output)"}  # type: ignore[index]
    assert len(msgs) == 3  # type: ignore[arg-type]


async def test_tool_result_name_and_assistant_after_tool_result_compat() -> None:
    compat = OpenAICompat(requires_tool_result_name=True, requires_assistant_after_tool_result=True)
    ctx = convo(
        UserMessage((TextContent("q"),), 1),
        assistant(ToolCall("c1", "ls", {})),
        ToolResultMessage("c1", "ls", (TextContent("a b"),), False, 2),
        UserMessage((TextContent("next"),), 3),
    )
    _, body = await request_of(make_model(base_url=LOCAL_URL, compat=compat), ctx)
    assert body["messages"][1:] == [  # type: ignore[index]
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a b", "name": "ls"},
        {"role": "assistant", "content": "I have processed the tool results."},
        {"role": "user", "content": "next"},
    ]


async def test_failed_turns_skipped_and_orphan_calls_answered() -> None:
    ctx = convo(
        UserMessage((TextContent("q"),), 1),
        assistant(TextContent("half"), stop="error"),
        assistant(ToolCall("c1", "ls", {}), ToolCall("c2", "pwd", {})),
        ToolResultMessage("c2", "pwd", (TextContent("/"),), False, 2),
        ToolResultMessage("zzz", "stray", (TextContent("?"),), False, 2),
        UserMessage((TextContent("go on"),), 3),
    )
    _, body = await request_of(make_model(), ctx)
    roles = [(m["role"], m.get("tool_call_id"), m.get("content")) for m in body["messages"]]  # type: ignore[attr-defined, union-attr]
    assert roles == [
        ("user", None, "q"),
        ("assistant", None, None),
        ("tool", "c2", "/"),
        ("tool", "c1", "No result provided"),
        ("user", None, "go on"),
    ]


def test_responses_style_ids_go_out_as_their_call_id_part() -> None:
    from opi_cli.ai.provider import LlmContext, StreamOptions
    from opi_cli.ai.types import (
        AssistantMessage,
        TextContent,
        ToolCall,
        ToolResultMessage,
        Usage,
        UserMessage,
    )

    call = ToolCall("call_9|fc_9", "read", {"path": "a"})
    msgs = (
        UserMessage((TextContent("go"),), 1),
        AssistantMessage((call,), "openai-responses", "openai", "gpt-x", Usage(), "toolUse", 2),
        ToolResultMessage("call_9|fc_9", "read", (TextContent("data"),), False, 3),
    )
    from opi_cli.ai.providers.openai_chat import build_body

    body = build_body(make_model(), LlmContext("", msgs), StreamOptions())
    assistant = next(m for m in body["messages"] if m["role"] == "assistant")
    tool = next(m for m in body["messages"] if m["role"] == "tool")
    assert assistant["tool_calls"][0]["id"] == "call_9" and tool["tool_call_id"] == "call_9"


async def test_strict_tools_are_sent_only_where_the_server_supports_strict_mode() -> None:
    strict_tools = (replace(TOOLS[0], strict=True),)
    _, body = await request_of(make_model(), LlmContext("sys", HELLO.messages, strict_tools))
    assert body["tools"][0]["function"]["strict"] is True  # type: ignore[index]
    no_strict = make_model(provider="vllm", base_url=LOCAL_URL, compat=OpenAICompat(supports_strict_mode=False))
    _, body = await request_of(no_strict, LlmContext("sys", HELLO.messages, strict_tools))
    assert "strict" not in body["tools"][0]["function"]  # type: ignore[index]


async def test_a_whole_json_reply_when_streaming_is_off() -> None:
    """``stream=False``: the body says so, and a ``chat.completion`` object gives the same message."""
    reply = {
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.", "refusal": None,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "read", "arguments": '{"path": "a.txt"}'}},
                {"id": "call_b", "type": "function", "function": {"name": "read", "arguments": '{"path": "b.txt"}'}},
            ]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59},
    }
    log: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        log.append(request)
        return httpx.Response(200, json=reply)

    events = await run([], context=LlmContext("sys", HELLO.messages, TOOLS), transport=httpx.MockTransport(answer),
                       stream=False)
    body = json.loads(log[0].content)
    assert body["stream"] is False and "stream_options" not in body
    end = terminal(events)
    assert isinstance(end, StreamDone)
    msg = end.message
    assert msg.stop_reason == "toolUse" and msg.usage.input == 50 and msg.usage.output == 9
    assert [type(c).__name__ for c in msg.content] == ["TextContent", "ToolCall", "ToolCall"]
    assert msg.content[0].text == "Checking."  # type: ignore[union-attr]
    assert [(c.id, c.arguments) for c in msg.content[1:]] == [  # type: ignore[union-attr]
        ("call_a", {"path": "a.txt"}), ("call_b", {"path": "b.txt"})]
