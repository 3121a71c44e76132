"""A scripted fake LLM provider: real HTTP and real SSE on 127.0.0.1, stdlib only.

The server speaks three wire formats, chosen by the request path, and answers from one
script, in order, whatever the endpoint. It never imports ``opi_cli``: it is an
independent fake of the providers, shaped after ``shared/reference/wire-formats.md``.

Endpoints (any path prefix is accepted, so ``/v1/messages`` and ``/api/messages`` both work):

- ``POST …/chat/completions``: OpenAI Chat Completions SSE. Chunks with
  ``id/object/created/model/choices[{index, delta, logprobs, finish_reason}]``; the first
  delta is ``{"role": "assistant", "content": ""}``; thinking streams as
  ``delta.reasoning_content``; a tool call's first fragment carries ``index/id/type/name``
  with ``arguments: ""``, later fragments only ``index`` and ``arguments``; then the finish
  chunk, a usage chunk with ``choices: []`` if ``stream_options.include_usage`` was set
  (``usage: null`` on all earlier chunks), and ``data: [DONE]``.
- ``POST …/messages``: Anthropic Messages SSE (``event:`` + ``data:``): ``message_start``
  with usage, a ``ping``, ``content_block_start/delta/stop`` for thinking
  (``thinking_delta`` then one ``signature_delta``), text (``text_delta``) and tool_use
  (``input_json_delta``, first fragment ``""``), ``message_delta`` with ``stop_reason`` and
  cumulative usage, ``message_stop``.
- ``POST …/responses``: OpenAI Responses SSE with ``sequence_number``:
  ``response.created``, ``response.in_progress``, per item ``output_item.added`` … ``done``
  (``reasoning`` with summary parts, ``message`` with ``output_text`` deltas,
  ``function_call`` with id ``fc_…``, a ``call_id`` and ``function_call_arguments``
  delta/done), then ``response.completed`` (or ``response.incomplete`` for ``length``).
- ``GET …/models``: a model list. ``GET /_log``: the request log as a JSON array.

Requests are answered as streams, except a Chat Completions request with ``"stream": false``,
which gets one ``chat.completion`` JSON object (``choices[0].message`` with ``content``,
``reasoning_content`` and ``tool_calls``, then ``finish_reason`` and ``usage``). By default each
stream is ``Connection: close`` with no Content-Length or chunking: events are written and
flushed, and the end of the body is the socket closing. With ``keep_alive=True`` (``--keep-alive``)
the server behaves as the real APIs do: streams are chunked (each event flushed as one chunk,
ended by the zero-length chunk), JSON answers carry a Content-Length, and the connection stays
open for the next request; ``srv.connections`` counts the TCP connections accepted. A stream
cut short (``drop_after_events``, ``malformed_after_events``, ``hang``) still ends with the
connection, without the closing chunk.

Script format (JSON)::

    {"model": "mock-model",   # optional; default: the request's "model", else "mock-model"
     "repeat_last": false,    # when exhausted: repeat the last response, else HTTP 500
                              #   {"error": {"message": "mock script exhausted"}}
     "responses": [
       {"steps": [{"thinking": "Let me look.", "signature": "sig"},    # signature optional
                  {"text": "I'll list the files."},
                  {"tool_call": {"name": "bash", "arguments": {"command": "ls"},
                                 "id": "call_1"}}],   # id optional; arguments may be a
                                                      # string, sent verbatim (bad JSON ok)
        "chunk_size": 8,         # characters per delta, tool arguments included (default 8)
        "delay_ms": 0,           # sleep between SSE events (default 0)
        "usage": {"input": 120, "output": 30, "cache_read": 0, "cache_write": 0},
        "stop": "auto",          # auto: tool_use if any tool_call else stop; or "stop",
                                 #   "tool_use", "length"
        "when_last_user_contains": "hello"},   # optional, see below
       {"error": {"status": 429, "message": "Rate limit reached", "type": "rate_limit_error",
                  "code": null, "headers": {"retry-after": "0"}}},
       {"steps": [...], "drop_after_events": 3},       # close after N events, no finish
       {"steps": [...], "malformed_after_events": 2},  # N events, `data: {not json`, close
       {"steps": [...], "stream_error_after_events": 2,
        "stream_error": {"type": "overloaded_error", "message": "Overloaded"}},
       {"steps": [{"text": "slow"}], "delay_ms": 200, "hang": true},
       {"silent": true},                                  # never answers (see below)
       {"raw": {"status": 502, "content_type": "text/html", "body": "<html>...</html>"}},
       {"steps": [...], "stall_after_headers": true},     # headers, then nothing at all
       {"steps": [...], "trickle_ms": 1000},              # one byte at a time, 1 s apart
       {"steps": [...], "gzip": true}]}                   # Content-Encoding: gzip

- ``error`` answers before streaming with that status, the headers given and a body in
  the endpoint's style: OpenAI ``{"error": {message, type, param, code}}``, Anthropic
  ``{"type": "error", "error": {type, message}, "request_id": …}``.
- ``*_after_events`` counts every SSE event sent (pings and ``[DONE]`` included).
  ``stream_error`` is ``data: {"error": {…}}`` for Chat, ``event: error`` for Anthropic,
  and ``event: error`` followed by ``response.failed`` for Responses.
- ``hang`` sends the content events, then only ``: keep-alive`` comments until the client
  disconnects (or the server stops); the finish events are never sent.
- ``silent`` reads the request and never answers (not even headers) until the client
  disconnects or the server stops; ``stall_after_headers`` sends the 200 headers and then
  nothing. Both count in ``open_streams`` while they hold the connection.
- ``raw`` answers with exactly that status, content type, extra ``headers`` and ``body``
  text (an HTML 502 page from a proxy, a plain-text 200, ...).
- ``trickle_ms`` writes the stream one byte at a time, this many ms apart.
- ``gzip`` compresses the stream (``Content-Encoding: gzip``), each event flushed as it
  is written, as a compressing proxy does.
- ``usage.input`` is uncached input. OpenAI reports ``prompt_tokens``/``input_tokens`` =
  input + cache_read + cache_write with ``cached_tokens`` = cache_read; Anthropic reports
  the three separately. The default derives from sizes (about 4 characters per token).
- ``when_last_user_contains``: a response is the first unused one whose condition, if it
  has one, is a substring of the text of the last user message carrying text in the
  request; unconditioned responses match any request. Without conditions this is order.

Use it in-process::

    with MockLLM(script) as srv:          # or MockLLM(load_script(path))
        client(base_url=srv.base_url)     # "http://127.0.0.1:PORT"
        srv.wait_for_requests(2, timeout=5)
        srv.requests[0]["body"]           # {method, path, headers, had_auth, body}

Each log entry also has ``received_at`` and ``answered_at``: ``time.monotonic()`` when the
request arrived and when its answer was completely written. Header keys in the log are lowercased; ``authorization``/``x-api-key``/``api-key`` values
read ``"<redacted>"``, ``had_auth`` says whether one was sent and ``auth_sha256`` is the
first 16 hex digits of the SHA-256 of the key sent (``Bearer `` removed), or ``None``. ``srv.set_script(s)``
replaces the script and resets its position; ``srv.open_streams`` counts live streams.

Or as a process, running until killed (first stdout line ``PORT <n>``, each request appended
to the log as one JSON line as it arrives)::

    python -m tests.mock_llm --script FILE.json [--port 0] [--log FILE.jsonl] [--port-file F] [--keep-alive]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

__all__ = ["MockLLM", "load_script", "main"]

Json = Any
Api = Literal["chat", "anthropic", "responses"]
_Event = dict[str, Json] | str  # a payload, or raw data text such as "[DONE]"
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})
_STOPS = {
    "chat": {"stop": "stop", "tool_use": "tool_calls", "length": "length"},
    "anthropic": {"stop": "end_turn", "tool_use": "tool_use", "length": "max_tokens"},
}


def load_script(path: str | os.PathLike[str]) -> dict[str, Json]:
    """Read and validate a script file (see the module docstring for the format)."""
    script = json.loads(Path(path).read_text(encoding="utf-8"))
    _validate(script)
    return script  # type: ignore[no-any-return]


def _validate(script: Json) -> None:
    if not isinstance(script, dict) or not isinstance(script.get("responses"), list):
        raise ValueError('a mock script is an object with a "responses" list')
    for i, resp in enumerate(script["responses"]):
        if not isinstance(resp, dict) or len(resp.keys() & {"steps", "error", "raw", "silent"}) != 1:
            raise ValueError(f'response {i} needs exactly one of "steps", "error", "raw" or "silent"')
        if resp.get("stop", "auto") not in ("auto", "stop", "tool_use", "length"):
            raise ValueError(f"response {i}: unknown stop {resp['stop']!r}")
        for step in resp.get("steps", []):
            if not isinstance(step, dict) or len(step.keys() & {"thinking", "text", "tool_call"}) != 1:
                raise ValueError(f"response {i}: a step has one of thinking/text/tool_call: {step!r}")


@dataclass(frozen=True, slots=True)
class _Step:
    kind: Literal["thinking", "text", "tool_call"]
    text: str  # thinking/text content, or the tool call's argument JSON text
    name: str = ""
    call_id: str = ""
    signature: str = ""


@dataclass(frozen=True, slots=True)
class _Turn:
    """One scripted response, resolved for one request."""

    steps: list[_Step]
    model: str
    seq: int
    chunk: int
    stop: str
    usage: dict[str, int]
    include_usage: bool


def _turn(api: Api, resp: dict[str, Json], model: str, seq: int, body: Json) -> _Turn:
    steps: list[_Step] = []
    for n, raw in enumerate(resp.get("steps", [])):
        if "tool_call" in raw:
            call = raw["tool_call"]
            args = call.get("arguments", {})
            text = args if isinstance(args, str) else json.dumps(args)
            cid = call.get("id") or f"{'toolu' if api == 'anthropic' else 'call'}_mock{seq}_{n}"
            steps.append(_Step("tool_call", text, call["name"], cid))
        elif "thinking" in raw:
            steps.append(_Step("thinking", raw["thinking"], signature=raw.get("signature", f"sig-mock{seq}-{n}")))
        else:
            steps.append(_Step("text", raw["text"]))
    stop = resp.get("stop", "auto")
    if stop == "auto":
        stop = "tool_use" if any(s.kind == "tool_call" for s in steps) else "stop"
    chars = sum(len(s.text) for s in steps)
    usage = {"input": max(1, len(json.dumps(body)) // 4), "output": max(1, chars // 4), "cache_read": 0, "cache_write": 0}
    usage.update(resp.get("usage") or {})
    opts = body.get("stream_options") if isinstance(body, dict) else None
    include = bool(isinstance(opts, dict) and opts.get("include_usage"))
    return _Turn(steps, model, seq, int(resp.get("chunk_size", 8)), stop, usage, include)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))] or [""]


def _openai_usage(u: dict[str, int], api: Api) -> dict[str, Json]:
    prompt = u["input"] + u["cache_read"] + u["cache_write"]
    if api == "chat":
        return {"prompt_tokens": prompt, "completion_tokens": u["output"], "total_tokens": prompt + u["output"],
                "prompt_tokens_details": {"cached_tokens": u["cache_read"], "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": u["cache_read"]},
            "output_tokens": u["output"], "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + u["output"]}


def _chat_events(t: _Turn) -> tuple[list[_Event], list[_Event]]:
    """(content events, finish events) for Chat Completions."""
    created = int(time.time())

    def chunk(delta: dict[str, Json], finish: str | None = None) -> dict[str, Json]:
        c: dict[str, Json] = {"id": f"chatcmpl-mock{t.seq}", "object": "chat.completion.chunk",
                              "created": created, "model": t.model,
                              "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if t.include_usage:
            c["usage"] = None
        return c

    body: list[_Event] = [chunk({"role": "assistant", "content": ""})]
    tool_index = 0
    for s in t.steps:
        if s.kind == "tool_call":
            first = {"index": tool_index, "id": s.call_id, "type": "function",
                     "function": {"name": s.name, "arguments": ""}}
            body.append(chunk({"tool_calls": [first]}))
            body += [chunk({"tool_calls": [{"index": tool_index, "function": {"arguments": p}}]})
                     for p in _pieces(s.text, t.chunk) if p]
            tool_index += 1
        else:
            key = "reasoning_content" if s.kind == "thinking" else "content"
            body += [chunk({key: p}) for p in _pieces(s.text, t.chunk)]
    tail: list[_Event] = [chunk({}, _STOPS["chat"][t.stop])]
    if t.include_usage:
        tail.append({**chunk({}), "choices": [], "usage": _openai_usage(t.usage, "chat")})
    tail.append("[DONE]")
    return body, tail


def _chat_whole(t: _Turn) -> dict[str, Json]:
    """The non-streamed ``chat.completion`` object for Chat Completions (``"stream": false``)."""
    message: dict[str, Json] = {"role": "assistant", "content": None, "refusal": None}
    texts = [s.text for s in t.steps if s.kind == "text"]
    thinking = [s.text for s in t.steps if s.kind == "thinking"]
    calls = [{"id": s.call_id, "type": "function", "function": {"name": s.name, "arguments": s.text}}
             for s in t.steps if s.kind == "tool_call"]
    if texts:
        message["content"] = "".join(texts)
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-mock{t.seq}", "object": "chat.completion", "created": int(time.time()),
            "model": t.model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                           "finish_reason": _STOPS["chat"][t.stop]}],
            "usage": _openai_usage(t.usage, "chat")}


def _anthropic_events(t: _Turn) -> tuple[list[_Event], list[_Event]]:
    """(content events, finish events) for Anthropic Messages."""
    u = t.usage
    start_usage = {"input_tokens": u["input"], "cache_creation_input_tokens": u["cache_write"],
                   "cache_read_input_tokens": u["cache_read"], "output_tokens": 1, "service_tier": "standard"}
    message: dict[str, Json] = {"id": f"msg_mock{t.seq}", "type": "message", "role": "assistant", "model": t.model,
               "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    body: list[_Event] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    for i, s in enumerate(t.steps):
        if s.kind == "thinking":
            block: dict[str, Json] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(s.text, t.chunk)]
            deltas.append({"type": "signature_delta", "signature": s.signature})
        elif s.kind == "text":
            block = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(s.text, t.chunk)]
        else:
            block = {"type": "tool_use", "id": s.call_id, "name": s.name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *_pieces(s.text, t.chunk)]]
        body.append({"type": "content_block_start", "index": i, "content_block": block})
        body += [{"type": "content_block_delta", "index": i, "delta": d} for d in deltas]
        body.append({"type": "content_block_stop", "index": i})
    end_usage = {**start_usage, "output_tokens": u["output"]}
    del end_usage["service_tier"]
    tail: list[_Event] = [
        {"type": "message_delta", "delta": {"stop_reason": _STOPS["anthropic"][t.stop], "stop_sequence": None},
         "usage": end_usage},
        {"type": "message_stop"},
    ]
    return body, tail


def _responses_item(t: _Turn, idx: int, s: _Step) -> tuple[list[dict[str, Json]], dict[str, Json]]:
    """The events of one Responses output item, and the item in its final state."""
    base = {"output_index": idx}
    if s.kind == "thinking":
        item_id = f"rs_mock{t.seq}_{idx}"
        ids = {**base, "item_id": item_id, "summary_index": 0}
        final: dict[str, Json] = {"type": "reasoning", "id": item_id,
                                  "summary": [{"type": "summary_text", "text": s.text}],
                                  "encrypted_content": s.signature}
        evs = [{"type": "response.reasoning_summary_part.added", **ids, "part": {"type": "summary_text", "text": ""}},
               *({"type": "response.reasoning_summary_text.delta", **ids, "delta": p} for p in _pieces(s.text, t.chunk)),
               {"type": "response.reasoning_summary_text.done", **ids, "text": s.text},
               {"type": "response.reasoning_summary_part.done", **ids, "part": {"type": "summary_text", "text": s.text}}]
        first = {**final, "summary": [], "encrypted_content": None}
    elif s.kind == "text":
        item_id = f"msg_mock{t.seq}_{idx}"
        ids = {**base, "item_id": item_id, "content_index": 0}
        part = {"type": "output_text", "text": s.text, "annotations": []}
        final = {"type": "message", "id": item_id, "status": "completed", "role": "assistant", "content": [part]}
        evs = [{"type": "response.content_part.added", **ids, "part": {**part, "text": ""}},
               *({"type": "response.output_text.delta", **ids, "delta": p, "logprobs": []}
                 for p in _pieces(s.text, t.chunk)),
               {"type": "response.output_text.done", **ids, "text": s.text, "logprobs": []},
               {"type": "response.content_part.done", **ids, "part": part}]
        first = {**final, "status": "in_progress", "content": []}
    else:
        item_id = f"fc_mock{t.seq}_{idx}"
        ids = {**base, "item_id": item_id}
        final = {"type": "function_call", "id": item_id, "call_id": s.call_id, "name": s.name,
                 "arguments": s.text, "status": "completed"}
        evs = [*({"type": "response.function_call_arguments.delta", **ids, "delta": p}
                 for p in _pieces(s.text, t.chunk) if p),
               {"type": "response.function_call_arguments.done", **ids, "arguments": s.text, "name": s.name}]
        first = {**final, "arguments": "", "status": "in_progress"}
    return [{"type": "response.output_item.added", **base, "item": first}, *evs,
            {"type": "response.output_item.done", **base, "item": final}], final


def _responses_events(t: _Turn) -> tuple[list[_Event], list[_Event]]:
    """(content events, finish events) for the Responses API, numbered by sequence_number."""
    resp: dict[str, Json] = {"id": f"resp_mock{t.seq}", "object": "response", "created_at": int(time.time()),
                             "status": "in_progress", "model": t.model, "output": [], "usage": None,
                             "incomplete_details": None, "error": None}
    body: list[dict[str, Json]] = [{"type": "response.created", "response": resp},
                                   {"type": "response.in_progress", "response": resp}]
    output: list[dict[str, Json]] = []
    for idx, s in enumerate(t.steps):
        evs, final = _responses_item(t, idx, s)
        body += evs
        output.append(final)
    done = {**resp, "status": "completed", "output": output, "usage": _openai_usage(t.usage, "responses")}
    kind = "response.completed"
    if t.stop == "length":
        kind, done["status"] = "response.incomplete", "incomplete"
        done["incomplete_details"] = {"reason": "max_output_tokens"}
    events: list[_Event] = [*body, {"type": kind, "response": done}]
    for n, ev in enumerate(events):
        assert isinstance(ev, dict)
        ev["sequence_number"] = n
    return events[:-1], events[-1:]


_BUILDERS = {"chat": _chat_events, "anthropic": _anthropic_events, "responses": _responses_events}


def _api_for(path: str) -> Api | None:
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return None


def _frame(api: Api, ev: _Event) -> bytes:
    if isinstance(ev, str):
        return f"data: {ev}\n\n".encode()
    data = json.dumps(ev, ensure_ascii=False)
    if api == "chat":
        return f"data: {data}\n\n".encode()
    return f"event: {ev['type']}\ndata: {data}\n\n".encode()


def _error_body(api: Api, err: dict[str, Json], seq: int) -> dict[str, Json]:
    etype = err.get("type", "api_error")
    if api == "anthropic":
        return {"type": "error", "error": {"type": etype, "message": err.get("message", "")},
                "request_id": f"req_mock{seq}"}
    return {"error": {"message": err.get("message", ""), "type": etype, "param": err.get("param"),
                      "code": err.get("code")}}


def _stream_error_events(api: Api, err: dict[str, Json], seq: int, number: int) -> list[_Event]:
    etype, msg = err.get("type", "api_error"), err.get("message", "mock stream error")
    if api == "chat":
        return [{"error": {"message": msg, "type": etype, "param": None, "code": err.get("code")}}]
    if api == "anthropic":
        return [{"type": "error", "error": {"type": etype, "message": msg}}]
    failed = {"id": f"resp_mock{seq}", "object": "response", "status": "failed",
              "error": {"code": err.get("code", etype), "message": msg}}
    return [{"type": "error", "sequence_number": number,
             "error": {"type": etype, "code": err.get("code", etype), "message": msg, "param": None}},
            {"type": "response.failed", "sequence_number": number + 1, "response": failed}]


def _last_user_text(body: Json) -> str:
    """Text of the last user message that has any (Chat, Anthropic and Responses shapes)."""
    if not isinstance(body, dict):
        return ""
    items = body.get("messages") or body.get("input") or []
    if isinstance(items, str):
        return items
    for msg in reversed(items if isinstance(items, list) else []):
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content
        texts = [p.get("text", "") for p in content or [] if isinstance(p, dict)
                 and p.get("type") in ("text", "input_text") and isinstance(p.get("text"), str)]
        if texts:
            return "\n".join(texts)
    return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mock: MockLLM

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.mock._lock:
            self.mock._connections += 1
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # Every write is flushed at once (TCP_NODELAY), as streaming API servers do: otherwise a
    # small write that follows another (the closing chunk) waits for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        mock = self.server.mock
        if path == "/_log":
            self._send_json(200, mock.requests)
            return
        mock._record(self, None)
        if path.endswith("/models"):
            model = mock._script.get("model", "mock-model")
            self._send_json(200, {"object": "list", "has_more": False, "data": [
                {"id": model, "object": "model", "type": "model", "created": 0, "owned_by": "mock",
                 "display_name": model}]})
        else:
            self._send_json(404, {"error": {"message": f"no route for GET {path}", "type": "not_found_error"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body: Json = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        mock = self.server.mock
        entry = mock._record(self, body)
        try:
            self._answer_post(mock, body)
        finally:
            entry["answered_at"] = time.monotonic()
            if mock.observe is not None:
                mock.observe("answered", entry)

    def _answer_post(self, mock: MockLLM, body: Json) -> None:
        api = _api_for(self.path.split("?", 1)[0])
        if api is None:
            self._send_json(404, {"error": {"message": f"no route for POST {self.path}", "type": "not_found_error"}})
            return
        seq, resp = mock._next_response(body)
        if resp is None:
            self._send_json(500, {"error": {"message": "mock script exhausted", "type": "server_error"}})
        elif resp.get("silent"):
            with mock._stream_slot():
                self._until_client_leaves()
            self.close_connection = True
        elif "raw" in resp:
            self._send_raw(resp["raw"])
        elif "error" in resp:
            err = resp["error"]
            self._send_json(int(err.get("status", 500)), _error_body(api, err, seq), err.get("headers", {}))
        else:
            model = mock._script.get("model") or (body.get("model") if isinstance(body, dict) else None)
            turn = _turn(api, resp, model or "mock-model", seq, body)
            if api == "chat" and isinstance(body, dict) and body.get("stream") is False:
                self._send_json(200, _chat_whole(turn))
                return
            try:
                with mock._stream_slot():
                    self._stream(api, resp, turn)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away: exactly what abort tests provoke

    @property
    def _keep_alive(self) -> bool:
        return self.server.mock.keep_alive

    def _send_json(self, status: int, payload: Json, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if not self._keep_alive:
            self.send_header("connection", "close")
            self.close_connection = True
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, raw: dict[str, Json]) -> None:
        data = str(raw.get("body", "")).encode()
        self.send_response(int(raw.get("status", 200)))
        self.send_header("content-type", str(raw.get("content_type", "text/plain")))
        self.send_header("content-length", str(len(data)))
        self.send_header("connection", "close")
        for key, value in (raw.get("headers") or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _until_client_leaves(self) -> None:
        """Hold the connection without writing until the client closes it (or the server stops)."""
        sock = self.connection
        closing = self.server.mock._closing
        while not closing.is_set():
            readable, _, _ = select.select([sock], [], [], 0.05)
            if not readable:
                continue
            try:
                if not sock.recv(65536):
                    return
            except OSError:
                return

    def _stream(self, api: Api, resp: dict[str, Json], turn: _Turn) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        if self._keep_alive:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("connection", "close")
        self.send_header("request-id" if api == "anthropic" else "x-request-id", f"req_mock{turn.seq}")
        if resp.get("gzip"):
            self.send_header("content-encoding", "gzip")
        self.end_headers()
        self.wfile.flush()
        # The body ends with the last chunk; a stream cut short ends with the connection
        # (so the client sees a body that never finished, as when a server dies).
        self.close_connection = True
        if resp.get("stall_after_headers"):
            self._until_client_leaves()
            return
        out = _Writer(self.wfile, self.server.mock._closing, bool(resp.get("gzip")),
                      float(resp.get("trickle_ms", 0)) / 1000, chunked=self._keep_alive)
        complete = False
        try:
            complete = self._write_events(api, resp, turn, out)
        finally:
            out.finish(complete)
        if complete and self._keep_alive:
            self.close_connection = False

    def _write_events(self, api: Api, resp: dict[str, Json], turn: _Turn, out: _Writer) -> bool:
        """Write the scripted events; False when the stream was cut (dropped, hung up, stopped)."""
        content, tail = _BUILDERS[api](turn)
        events = content + tail
        cuts = {k: resp[k] for k in ("drop_after_events", "malformed_after_events", "stream_error_after_events")
                if resp.get(k) is not None}
        cut_kind, cut_at = min(cuts.items(), key=lambda kv: kv[1]) if cuts else ("", len(events) + 1)
        delay = float(resp.get("delay_ms", 0)) / 1000
        closing = self.server.mock._closing
        for i, ev in enumerate(events[: min(cut_at, len(events))]):
            if resp.get("hang") and i == len(content):
                break
            if i and delay and closing.wait(delay):
                return False
            if not out.write(_frame(api, ev)):
                return False
        if cut_kind == "malformed_after_events" and cut_at <= len(events):
            out.write(b"data: {not json\n\n")
            return False
        if cut_kind == "stream_error_after_events" and cut_at <= len(events):
            err = resp.get("stream_error") or {"type": "api_error", "message": "mock stream error"}
            for ev in _stream_error_events(api, err, turn.seq, cut_at):
                out.write(_frame(api, ev))
            return True
        if resp.get("hang") and cut_at > len(content):
            # Writing is the only way to notice that the client has gone.
            while not closing.wait(max(delay, 0.02)):
                out.write(b": keep-alive\n\n")
            return False
        return cut_kind != "drop_after_events" or cut_at > len(events)


class _Writer:
    """Writes stream bytes: flushed per write, optionally gzip-compressed, one byte at a time
    (trickle) and/or as HTTP chunks (keep-alive mode)."""

    def __init__(self, wfile: Any, closing: threading.Event, gzip: bool, trickle_s: float, *, chunked: bool = False) -> None:
        self._wfile = wfile
        self._closing = closing
        self._zip = zlib.compressobj(wbits=31) if gzip else None
        self._trickle_s = trickle_s
        self._chunked = chunked

    def _put(self, data: bytes) -> None:
        if self._chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._wfile.write(data)
        self._wfile.flush()

    def write(self, data: bytes) -> bool:
        """Write and flush ``data``; False once the server is stopping."""
        if self._zip is not None:
            data = self._zip.compress(data) + self._zip.flush(zlib.Z_SYNC_FLUSH)
        if not self._trickle_s:
            self._put(data)
            return True
        for i in range(len(data)):
            if self._closing.wait(self._trickle_s):
                return False
            self._put(data[i : i + 1])
        return True

    def finish(self, complete: bool) -> None:
        """The end of the body: the gzip trailer, and the last chunk when the stream was complete."""
        with contextlib.suppress(OSError):
            if self._zip is not None:
                self._put(self._zip.flush())
            if complete and self._chunked:
                self._wfile.write(b"0\r\n\r\n")
            self._wfile.flush()


class MockLLM:
    """A scripted provider server on 127.0.0.1; a context manager that starts and stops it."""

    def __init__(self, script: dict[str, Json], *, port: int = 0, log_path: str | os.PathLike[str] | None = None,
                 tls: ssl.SSLContext | None = None, keep_alive: bool = False):
        """Prepare the server (it starts on ``start()`` or ``__enter__``).

        Args:
            script: the script, as described in the module docstring.
            port: the port to bind; 0 picks a free one.
            log_path: a JSONL file to append each request to as it arrives.
            tls: a server-side context: serve HTTPS (``base_url`` says ``https://``).
            keep_alive: keep connections open between requests (streams chunked, JSON with
                a length), as real API servers do; otherwise every answer ends with
                ``Connection: close``.
        """
        self._tls = tls
        self.keep_alive = keep_alive
        self._connections = 0
        self.observe: Callable[[str, dict[str, Json]], None] | None = None
        """Called (in the server's thread) with ``"received"`` as a request is logged and
        ``"answered"`` once its answer is written; it may add keys to the log entry (the
        benchmarks note the client's CPU time there)."""
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._log_path = Path(log_path) if log_path else None
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._open = 0
        self._seq = 0
        self.requests: list[dict[str, Json]] = []
        self.set_script(script)

    def set_script(self, script: dict[str, Json]) -> None:
        """Replace the script and start serving it from its first response."""
        _validate(script)
        with self._lock:
            self._script = script
            self._used: set[int] = set()

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        assert self._httpd is not None, "MockLLM is not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with ``tls``), without a path; clients add ``/v1/...``."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """How many TCP connections the server has accepted."""
        with self._lock:
            return self._connections

    @property
    def open_streams(self) -> int:
        """How many SSE responses are being written right now."""
        with self._lock:
            return self._open

    def start(self) -> MockLLM:
        """Bind and serve in a daemon thread."""
        self._httpd = _Server(("127.0.0.1", self._port), _Handler)
        self._httpd.mock = self
        if self._tls is not None:
            self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="mock-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging streams are released."""
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockLLM:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[dict[str, Json]]:
        """Block until at least ``n`` requests were logged; return the log. Raises TimeoutError."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests, got {len(self.requests)} in {timeout}s")
            return list(self.requests)

    def _record(self, handler: BaseHTTPRequestHandler, body: Json) -> dict[str, Json]:
        headers = {k.lower(): ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in handler.headers.items()}
        secrets = [v for k, v in handler.headers.items() if k.lower() in _SECRET_HEADERS and v.strip()]
        digest = None
        if secrets:
            key = secrets[0].removeprefix("Bearer ").encode("utf-8", "surrogateescape")
            digest = hashlib.sha256(key).hexdigest()[:16]
        entry = {"method": handler.command, "path": handler.path, "headers": headers, "had_auth": bool(secrets),
                 "auth_sha256": digest, "body": body, "received_at": time.monotonic()}
        if self.observe is not None:
            self.observe("received", entry)
        with self._lock:
            self.requests.append(entry)
            if self._log_path is not None:
                with self._log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
                    f.flush()
            self._lock.notify_all()
        return entry

    def _next_response(self, body: Json) -> tuple[int, dict[str, Json] | None]:
        """(sequence number, the response to serve) or (n, None) when exhausted."""
        text = _last_user_text(body)
        with self._lock:
            self._seq += 1
            responses: list[dict[str, Json]] = self._script["responses"]
            for i, resp in enumerate(responses):
                cond = resp.get("when_last_user_contains")
                if i not in self._used and (cond is None or cond in text):
                    self._used.add(i)
                    return self._seq, resp
            if self._script.get("repeat_last") and responses:
                return self._seq, responses[-1]
            return self._seq, None

    @contextlib.contextmanager
    def _stream_slot(self) -> Iterator[None]:
        """Count a live stream for ``open_streams``."""
        with self._lock:
            self._open += 1
        try:
            yield
        finally:
            with self._lock:
                self._open -= 1
                self._lock.notify_all()


def main(argv: list[str] | None = None) -> int:
    """Run the server as a process until killed; print ``PORT <n>`` first."""
    parser = argparse.ArgumentParser(prog="python -m tests.mock_llm", description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True, help="script JSON file")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 = any free port)")
    parser.add_argument("--log", help="append each request to this JSONL file")
    parser.add_argument("--port-file", help="write the bound port to this file")
    parser.add_argument("--keep-alive", action="store_true", help="chunked streams on kept-open connections")
    args = parser.parse_args(argv)
    srv = MockLLM(load_script(args.script), port=args.port, log_path=args.log, keep_alive=args.keep_alive).start()
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(srv.port), encoding="utf-8")
        tmp.replace(args.port_file)  # readers never see a half-written file
    print(f"PORT {srv.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
