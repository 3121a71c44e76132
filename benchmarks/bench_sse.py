"""SSE parse throughput: recorded streams and a synthetic 1 MB stream through the real adapters.

Every recorded stream in ``tests/fixtures/recorded`` is served through
``httpx.MockTransport`` (one SSE event per network chunk, as a streaming server flushes
them) to the adapter that speaks its API, and the whole stream is consumed, as the agent
loop would. Three costs are kept apart:

- the pure :class:`~opi_cli.ai.sse.SSEDecoder` (bytes to events),
- the adapter per stream (client, request, headers: measured on a minimal stream),
- the adapter per event (decoder + JSON + message building + stream events), which is
  the full time minus that fixed cost, divided by the number of SSE events.

Then a synthetic Chat Completions stream of ~1 MB of small text deltas measures the
budgets of ARCHITECTURE.md: under 10 µs per chunk, 1 MB in well under 100 ms.

The adapter figures are the CPU time of the thread doing the parsing (``time.thread_time``),
the cost of parsing itself: on a shared machine wall time also counts the moments the
process waited for a CPU. The wall-clock figures are printed beside them; on a quiet
machine the two agree.

Run alone: ``python3 benchmarks/bench_sse.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import Figure, Report, Stats, quick, render_rows, repeat_for, stats

from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, Provider, StreamOptions
from opi_cli.ai.providers.anthropic import AnthropicProvider
from opi_cli.ai.providers.openai_chat import OpenAIChatProvider
from opi_cli.ai.providers.openai_responses import OpenAIResponsesProvider
from opi_cli.ai.sse import SSEDecoder
from opi_cli.ai.types import TextContent, UserMessage
from tests.replay import FIXTURES, load_fixture, sse_transport

CHUNK_BUDGET_US = 10.0
MB_BUDGET_MS = 100.0
CONTEXT = LlmContext("You are terse.", (UserMessage((TextContent("hi"),), 1),))
_EVENT_END = re.compile(rb"(?:\r\n\r\n|\n\n|\r\r)")


@dataclass(frozen=True, slots=True)
class Api:
    """One wire API: its adapter, a model for it and the smallest complete stream it accepts."""

    name: str
    provider: Callable[[], Provider]
    model: Model
    minimal: bytes


def _sse(event: str | None, payload: object) -> bytes:
    head = f"event: {event}\n" if event else ""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"{head}data: {data}\n\n".encode()


CHAT = Api(
    "openai-completions",
    OpenAIChatProvider,
    Model("gpt-bench", "openai", "openai-completions", "http://127.0.0.1:9/v1"),
    _sse(None, {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})
    + _sse(None, "[DONE]"),
)
ANTHROPIC = Api(
    "anthropic-messages",
    AnthropicProvider,
    Model("claude-bench", "anthropic", "anthropic-messages", "http://127.0.0.1:9/v1"),
    _sse("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-bench", "content": [],
        "stop_reason": None, "usage": {"input_tokens": 1, "output_tokens": 1}}})
    + _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                             "usage": {"output_tokens": 1}})
    + _sse("message_stop", {"type": "message_stop"}),
)
RESPONSES = Api(
    "openai-responses",
    OpenAIResponsesProvider,
    Model("gpt-bench", "openai", "openai-responses", "http://127.0.0.1:9/v1"),
    _sse("response.completed", {"type": "response.completed", "response": {
        "id": "resp_1", "status": "completed", "output": [],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}}),
)


def api_for(fixture: str) -> Api:
    if fixture.startswith("anthropic"):
        return ANTHROPIC
    if fixture.startswith("openai-responses"):
        return RESPONSES
    return CHAT


def split_events(data: bytes) -> list[bytes]:
    """The body cut after each blank line: one SSE event per network chunk."""
    chunks: list[bytes] = []
    start = 0
    for m in _EVENT_END.finditer(data):
        chunks.append(data[start : m.end()])
        start = m.end()
    if start < len(data):
        chunks.append(data[start:])
    return chunks


def decode_all(chunks: list[bytes]) -> int:
    """Run the pure decoder over ``chunks``; returns the number of events."""
    dec = SSEDecoder()
    n = 0
    for c in chunks:
        n += len(dec.feed(c))
    return n + len(dec.close())


async def _consume(api: Api, chunks: list[bytes]) -> str:
    options = StreamOptions(api_key="x", transport=sse_transport(chunks))
    last = ""
    stream: AsyncIterator[object] = api.provider().stream(api.model, CONTEXT, options)
    async for ev in stream:
        last = getattr(ev, "type", "")
    return last


@dataclass(frozen=True, slots=True)
class Timed:
    """Seconds per whole stream through an adapter: CPU time of the parsing thread and wall time."""

    cpu: Stats
    wall: Stats
    last: str  # the last event type seen


async def _time_adapter(api: Api, chunks: list[bytes], min_time_s: float) -> Timed:
    cpu: list[float] = []
    wall: list[float] = []
    last = ""
    deadline = time.perf_counter() + min_time_s
    while len(cpu) < 3 or time.perf_counter() < deadline:
        t0, c0 = time.perf_counter(), time.thread_time()
        last = await _consume(api, chunks)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return Timed(stats(cpu), stats(wall), last)


def synthetic_chat(target_bytes: int = 1_000_000) -> list[bytes]:
    """A Chat Completions stream of ~``target_bytes`` of 4-character text deltas, as chunks."""
    words = ["The ", "quic", "k br", "own ", "fox ", "jump", "s ov", "er t", "he l", "azy ", "dog.", "\n"]
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-bench"}
    chunks = [_sse(None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                               "logprobs": None, "finish_reason": None}]})]
    size, i = len(chunks[0]), 0
    while size < target_bytes:
        c = _sse(None, {**base, "choices": [{"index": 0, "delta": {"content": words[i % len(words)]},
                                             "logprobs": None, "finish_reason": None}]})
        chunks.append(c)
        size += len(c)
        i += 1
    chunks.append(_sse(None, {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}))
    chunks.append(_sse(None, {**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": i,
                                                               "total_tokens": 10 + i}}))
    chunks.append(_sse(None, "[DONE]"))
    return chunks


async def recorded(report: Report, min_time_s: float) -> None:
    report.section("recorded streams (tests/fixtures/recorded), one SSE event per network chunk")
    fixed: dict[str, float] = {}
    for api in (CHAT, ANTHROPIC, RESPONSES):
        fixed[api.name] = (await _time_adapter(api, split_events(api.minimal), min_time_s)).cpu.minimum
    head = ["fixture", "bytes", "events", "decoder µs/ev", "adapter µs/stream (best)", "adapter µs/ev*", "MB/s*", "end"]
    rows: list[list[str]] = []
    tot_bytes = tot_events = 0
    tot_dec = tot_net = 0.0
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".sse", ".jsonl"):
            continue
        api = api_for(path.name)
        data = load_fixture(path.name)
        chunks = split_events(data)
        n_events = decode_all(chunks)
        dec = repeat_for(partial(decode_all, chunks), min_time_s=min_time_s / 3, clock=time.thread_time).median
        timed = await _time_adapter(api, chunks, min_time_s)
        last = timed.last
        # minimum times on both sides of the subtraction: the least noisy estimate
        full = timed.cpu.minimum
        net = max(full - fixed[api.name], 0.0)
        rows.append([path.name, str(len(data)), str(n_events), f"{dec / n_events * 1e6:.2f}", f"{full * 1e6:.0f}",
                     f"{net / n_events * 1e6:.2f}" if net else "-", f"{len(data) / net / 1e6:.1f}" if net else "-", last])
        tot_bytes += len(data)
        tot_events += n_events
        tot_dec += dec
        tot_net += net
    report.line(render_rows(head, rows))
    report.line("* CPU time, best of the runs, net of the adapter's fixed per-stream cost (best run on a minimal stream): "
                + ", ".join(f"{k} {v * 1e6:.0f} µs" for k, v in fixed.items()))
    report.add(Figure("recorded: decoder per event (CPU)", tot_dec / tot_events * 1e6, "µs",
                      note=f"{tot_events} events, {tot_bytes:,} bytes"))
    report.add(Figure("recorded: adapter per event (net, CPU)", tot_net / tot_events * 1e6, "µs", CHUNK_BUDGET_US,
                      note=f"{tot_events / tot_net:,.0f} events/s"))
    report.add(Figure("recorded: adapter throughput (net)", tot_bytes / tot_net / 1e6, "MB/s"))
    report.add(Figure("adapter fixed cost per stream (chat)", fixed[CHAT.name] * 1e6, "µs",
                      note="client + request + response through MockTransport"))


async def synthetic(report: Report, min_time_s: float) -> None:
    chunks = synthetic_chat()
    size = sum(len(c) for c in chunks)
    n = len(chunks)
    report.section(f"synthetic Chat Completions stream: {size:,} bytes, {n:,} chunks of small text deltas")
    dec_ev = repeat_for(lambda: decode_all(chunks), min_time_s=min_time_s, clock=time.thread_time).median
    body = b"".join(chunks)
    reads = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    dec_64k = repeat_for(lambda: decode_all(reads), min_time_s=min_time_s, clock=time.thread_time).median
    timed = await _time_adapter(CHAT, chunks, min_time_s)
    full, wall = timed.cpu.median, timed.wall.median
    if timed.last != "done":
        report.note(f"synthetic stream ended with {timed.last!r}, not 'done'")
    per_mb = full / (size / 1e6)
    report.add(Figure("1 MB: decoder only, one event per chunk (CPU)", dec_ev / (size / 1e6) * 1000, "ms",
                      note=f"{dec_ev / n * 1e6:.2f} µs/chunk"))
    report.add(Figure("1 MB: decoder only, 64 KB reads (CPU)", dec_64k / (size / 1e6) * 1000, "ms"))
    report.add(Figure("1 MB: adapter, whole stream (CPU)", per_mb * 1000, "ms", MB_BUDGET_MS,
                      note=f"median; {size / full / 1e6:.1f} MB/s; wall {wall / (size / 1e6) * 1000:.1f} ms"))
    report.add(Figure("1 MB: adapter per chunk (CPU)", full / n * 1e6, "µs", CHUNK_BUDGET_US,
                      note=f"{n / full:,.0f} chunks/s; decoder share {dec_ev / full:.0%}; wall {wall / n * 1e6:.2f} µs"))


def main() -> None:
    report = Report("SSE parsing: decoder and adapters")
    min_time_s = 0.1 if quick() else 0.4
    asyncio.run(recorded(report, min_time_s))
    asyncio.run(synthetic(report, min_time_s))
    report.finish()


if __name__ == "__main__":
    main()
