"""Tests for the scripted mock LLM server: wire shapes, error injection, logging, process mode."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import wait_until
from tests.mock_llm import MockLLM, load_script

TOOL_STEPS: list[dict[str, Any]] = [
    {"thinking": "Let me look."},
    {"text": "I'll list the files."},
    {"tool_call": {"name": "bash", "arguments": {"command": "ls -la /tmp"}, "id": "call_1"}},
]
TIMEOUT = httpx.Timeout(5.0)


def _parse_sse(raw: str) -> list[tuple[str | None, str]]:
    """(event name, data) per dispatched event; comments ignored, pending event kept at EOF."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in [*raw.split("\n"), ""]:
        if line == "":
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events


def _post(srv: MockLLM, path: str, body: dict[str, Any] | None = None, **headers: str) -> tuple[httpx.Response, str]:
    """Stream a POST and return (response, whole body text)."""
    with httpx.stream("POST", srv.base_url + path, json=body or {"model": "m", "stream": True},
                      headers=headers, timeout=TIMEOUT) as resp:
        text = "".join(resp.iter_text())
    return resp, text


def _json_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(d) for _, d in _parse_sse(text) if d != "[DONE]"]


@pytest.fixture
def srv() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as server:
        yield server


def test_chat_stream_shape_tool_fragments_and_usage(srv: MockLLM) -> None:
    srv.set_script({"model": "mock-model", "responses": [{"steps": TOOL_STEPS, "chunk_size": 5,
                                                          "usage": {"input": 100, "output": 30, "cache_read": 20}}]})
    body = {"model": "x", "stream": True, "stream_options": {"include_usage": True}}
    resp, text = _post(srv, "/v1/chat/completions", body)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    raw = _parse_sse(text)
    assert all(name is None for name, _ in raw)
    assert raw[-1][1] == "[DONE]"
    chunks = _json_events(text)
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and chunks[0]["model"] == "mock-model"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Let me look."
    assert "".join(d.get("content") or "" for d in deltas) == "I'll list the files."
    frags = [f for d in deltas for f in d.get("tool_calls", [])]
    assert frags[0] == {"index": 0, "id": "call_1", "type": "function", "function": {"name": "bash", "arguments": ""}}
    assert all(set(f) == {"index", "function"} for f in frags[1:]) and len(frags) > 2
    assert json.loads("".join(f["function"]["arguments"] for f in frags)) == {"command": "ls -la /tmp"}
    finish, usage = chunks[-2], chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "tool_calls" and finish["choices"][0]["delta"] == {}
    assert usage["choices"] == [] and usage["usage"]["prompt_tokens"] == 120
    assert usage["usage"]["prompt_tokens_details"]["cached_tokens"] == 20
    assert usage["usage"]["completion_tokens"] == 30
    assert all(c["usage"] is None for c in chunks[:-1])


def test_chat_without_include_usage_has_no_usage_chunk(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "hello"}]}]})
    _, text = _post(srv, "/chat/completions")
    chunks = _json_events(text)
    assert all(c["choices"] for c in chunks) and all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_anthropic_stream_shape(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"thinking": "hmm, yes", "signature": "SIG"}, *TOOL_STEPS[1:]],
                                   "chunk_size": 4, "usage": {"input": 7, "output": 9, "cache_write": 3}}]})
    _, text = _post(srv, "/v1/messages")
    raw = _parse_sse(text)
    events = [json.loads(d) for _, d in raw]
    assert all(name == ev["type"] for (name, _), ev in zip(raw, events, strict=True))
    types = [e["type"] for e in events]
    assert types[0] == "message_start" and "ping" in types and types[-2:] == ["message_delta", "message_stop"]
    start_usage = events[0]["message"]["usage"]
    assert (start_usage["input_tokens"], start_usage["cache_creation_input_tokens"]) == (7, 3)
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use"]
    assert blocks[2]["id"] == "call_1" and blocks[2]["name"] == "bash"
    by_index: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        if e["type"] == "content_block_delta":
            by_index.setdefault(e["index"], []).append(e["delta"])
    assert "".join(d.get("thinking", "") for d in by_index[0]) == "hmm, yes"
    assert by_index[0][-1] == {"type": "signature_delta", "signature": "SIG"}
    assert "".join(d["text"] for d in by_index[1]) == "I'll list the files."
    assert by_index[2][0] == {"type": "input_json_delta", "partial_json": ""}
    assert json.loads("".join(d["partial_json"] for d in by_index[2])) == {"command": "ls -la /tmp"}
    assert sum(e["type"] == "content_block_stop" for e in events) == 3
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-2]["usage"]["output_tokens"] == 9


def test_anthropic_length_stop_and_default_tool_id(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"tool_call": {"name": "read", "arguments": {}}}], "stop": "length"}]})
    events = _json_events(_post(srv, "/messages")[1])
    block = next(e["content_block"] for e in events if e["type"] == "content_block_start")
    assert block["id"].startswith("toolu_")
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"


def test_responses_stream_shape(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": TOOL_STEPS, "chunk_size": 3, "usage": {"input": 50, "output": 5}}]})
    _, text = _post(srv, "/v1/responses")
    raw = _parse_sse(text)
    events = [json.loads(d) for _, d in raw]
    assert all(name == ev["type"] for (name, _), ev in zip(raw, events, strict=True))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert [i["type"] for i in added] == ["reasoning", "message", "function_call"]
    summary = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    assert summary == "Let me look." and "response.reasoning_summary_part.done" in types
    text_out = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text_out == "I'll list the files."
    fc = added[2]
    assert fc["id"].startswith("fc_") and fc["call_id"] == "call_1" and fc["arguments"] == ""
    args = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert all(e["item_id"] == fc["id"] for e in events if e["type"].startswith("response.function_call_arguments"))
    assert json.loads(args) == {"command": "ls -la /tmp"}
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"][2]["arguments"] == args
    assert final["usage"]["input_tokens"] == 50 and final["usage"]["output_tokens"] == 5


def test_responses_length_is_incomplete(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "cut"}], "stop": "length"}]})
    last = _json_events(_post(srv, "/responses")[1])[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize(
    ("path", "check"),
    [
        ("/v1/chat/completions", lambda b: b["error"]["type"] == "rate_limit_error" and "code" in b["error"]),
        ("/v1/messages", lambda b: b["type"] == "error" and b["error"]["type"] == "rate_limit_error"),
        ("/v1/responses", lambda b: b["error"]["message"] == "Rate limit reached"),
    ],
)
def test_http_error_status_headers_and_body(srv: MockLLM, path: str, check: Any) -> None:
    srv.set_script({"responses": [
        {"error": {"status": 429, "message": "Rate limit reached", "type": "rate_limit_error",
                   "headers": {"retry-after": "0"}}},
        {"steps": [{"text": "ok"}]},
    ]})
    resp, text = _post(srv, path)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "0"
    assert check(json.loads(text))
    assert _post(srv, path)[0].status_code == 200


def test_drop_after_events(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "a long answer here"}], "chunk_size": 2, "drop_after_events": 3}]})
    events = _parse_sse(_post(srv, "/v1/messages")[1])
    assert [n for n, _ in events] == ["message_start", "ping", "content_block_start"]


def test_malformed_after_events(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "hello world"}], "malformed_after_events": 2}]})
    events = _parse_sse(_post(srv, "/v1/chat/completions")[1])
    assert len(events) == 3 and events[-1] == (None, "{not json")
    json.loads(events[1][1])


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/responses"])
def test_stream_error_after_events(srv: MockLLM, path: str) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "hello world"}], "stream_error_after_events": 2,
                                   "stream_error": {"type": "overloaded_error", "message": "Overloaded"}}]})
    raw = _parse_sse(_post(srv, path)[1])
    if path.endswith("chat/completions"):
        assert len(raw) == 3 and json.loads(raw[2][1])["error"]["message"] == "Overloaded"
    elif path.endswith("messages"):
        assert raw[2] == ("error", json.dumps({"type": "error", "error": {"type": "overloaded_error",
                                                                          "message": "Overloaded"}}))
    else:
        assert [n for n, _ in raw[2:]] == ["error", "response.failed"]
        err = json.loads(raw[2][1])
        assert err["error"]["type"] == "overloaded_error" and err["sequence_number"] == 2


def test_hang_keeps_stream_open_until_client_leaves(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "slow"}], "delay_ms": 5, "hang": True},
                                  {"steps": [{"text": "next"}]}]})
    seen = ""
    with httpx.stream("POST", srv.base_url + "/v1/messages", json={}, timeout=TIMEOUT) as resp:
        for chunk in resp.iter_text():
            seen += chunk
            if ": keep-alive" in seen:
                break
    assert "slow" in seen and "message_stop" not in seen
    assert "next" in _post(srv, "/v1/messages")[1]  # the server is not blocked by the hung stream
    with srv._lock:
        assert srv._lock.wait_for(lambda: srv.open_streams == 0, timeout=60)


def test_exhausted_and_repeat_last(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "only"}]}]})
    assert _post(srv, "/v1/messages")[0].status_code == 200
    resp, text = _post(srv, "/v1/messages")
    assert resp.status_code == 500 and json.loads(text)["error"]["message"] == "mock script exhausted"
    srv.set_script({"responses": [{"steps": [{"text": "again"}]}], "repeat_last": True})
    assert all("again" in _post(srv, "/v1/responses")[1] for _ in range(3))


def test_when_last_user_contains(srv: MockLLM) -> None:
    srv.set_script({"responses": [
        {"when_last_user_contains": "second", "steps": [{"text": "answer-two"}], "chunk_size": 99},
        {"steps": [{"text": "answer-plain"}], "chunk_size": 99},
    ]})
    chat = {"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "x"},
                         {"role": "user", "content": [{"type": "text", "text": "the second one"}]}]}
    assert "answer-two" in _post(srv, "/v1/chat/completions", chat)[1]
    srv.set_script({"responses": [
        {"when_last_user_contains": "second", "steps": [{"text": "answer-two"}], "chunk_size": 99},
        {"steps": [{"text": "answer-plain"}], "chunk_size": 99},
    ]})
    responses_body = {"input": [{"role": "user", "content": [{"type": "input_text", "text": "first"}]}]}
    assert "answer-plain" in _post(srv, "/v1/responses", responses_body)[1]
    anthropic = {"messages": [{"role": "user", "content": "a second try"},
                              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}
    assert "answer-two" in _post(srv, "/v1/messages", anthropic)[1]


def test_request_log_redacts_auth(srv: MockLLM) -> None:
    srv.set_script({"responses": [{"steps": [{"text": "a"}]}, {"steps": [{"text": "b"}]}]})
    _post(srv, "/v1/messages", {"model": "claude", "messages": []}, **{"x-api-key": "sk-secret-1"})
    _post(srv, "/v1/chat/completions", {"model": "gpt"})
    log = srv.wait_for_requests(2, timeout=60)
    first, second = log
    assert first["method"] == "POST" and first["path"] == "/v1/messages"
    assert first["body"] == {"model": "claude", "messages": []}
    assert first["headers"]["x-api-key"] == "<redacted>" and first["had_auth"] is True
    assert second["had_auth"] is False and "authorization" not in second["headers"]
    remote = httpx.get(srv.base_url + "/_log", timeout=TIMEOUT).json()
    assert remote == log and "sk-secret-1" not in json.dumps(remote)
    with pytest.raises(TimeoutError):
        srv.wait_for_requests(5, timeout=0.01)


def test_models_endpoint(srv: MockLLM) -> None:
    srv.set_script({"model": "mock-model", "responses": []})
    data = httpx.get(srv.base_url + "/v1/models", timeout=TIMEOUT).json()
    assert [m["id"] for m in data["data"]] == ["mock-model"]


def test_load_script_validates(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"responses": [{"steps": [{"text": "x"}]}]}))
    assert load_script(good)["responses"][0]["steps"] == [{"text": "x"}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"responses": [{"steps": [{"say": "x"}]}]}))
    with pytest.raises(ValueError, match="thinking/text/tool_call"):
        load_script(bad)


def test_process_mode_prints_port_and_logs(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"responses": [{"steps": [{"text": "from a process"}]}]}))
    log, port_file = tmp_path / "log.jsonl", tmp_path / "port"
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mock_llm", "--script", str(script), "--log", str(log),
         "--port-file", str(port_file)],
        cwd=root, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "PORT" and port_file.read_text() == first[1]
        url = f"http://127.0.0.1:{first[1]}/v1/chat/completions"
        with httpx.stream("POST", url, json={"model": "m", "stream": True},
                          headers={"authorization": "Bearer sk-x"}, timeout=TIMEOUT) as resp:
            text = "".join(resp.iter_text())
        assert "from a process" in "".join(json.loads(d)["choices"][0]["delta"].get("content", "")
                                           for _, d in _parse_sse(text) if d != "[DONE]")
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(entries) == 1 and entries[0]["body"]["model"] == "m"
        assert entries[0]["had_auth"] and entries[0]["headers"]["authorization"] == "<redacted>"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_keep_alive_mode_serves_every_answer_on_one_connection() -> None:
    """Chunked streams and sized JSON on one kept-open connection; a cut stream ends its connection."""
    script = {"responses": [
        {"steps": [{"text": "one"}]},
        {"error": {"status": 429, "message": "slow down", "type": "rate_limit_error"}},
        {"steps": [{"text": "two"}], "stream_error_after_events": 2},
        {"steps": [{"text": "three"}]},
        {"steps": [{"text": "cut short here"}], "chunk_size": 2, "drop_after_events": 3},
        {"steps": [{"text": "four"}]},
    ]}
    with MockLLM(script, keep_alive=True) as srv, httpx.Client(timeout=TIMEOUT) as client:
        bodies: list[tuple[int, str, str]] = []
        for _ in range(4):
            with client.stream("POST", srv.base_url + "/v1/chat/completions", json={"model": "m"}) as resp:
                bodies.append((resp.status_code, resp.headers.get("transfer-encoding", ""), resp.read().decode()))
        assert [b[0] for b in bodies] == [200, 429, 200, 200]
        assert bodies[0][1] == "chunked" and bodies[0][2].endswith("data: [DONE]\n\n")
        assert json.loads(bodies[1][2])["error"]["message"] == "slow down"
        assert "three" in bodies[3][2]
        assert srv.connections == 1
        with pytest.raises(httpx.RemoteProtocolError), \
                client.stream("POST", srv.base_url + "/v1/chat/completions", json={"model": "m"}) as resp:
            resp.read()  # the body never ends properly: the connection is closed mid-stream
        with client.stream("POST", srv.base_url + "/v1/chat/completions", json={"model": "m"}) as resp:
            assert "four" in resp.read().decode()
        assert srv.connections == 2
        # the server stamps an entry once its handler returns, which may be just after the client read it all
        wait_until(lambda: all("answered_at" in r for r in srv.requests), what="every request stamped answered")
        assert all(r["answered_at"] >= r["received_at"] for r in srv.requests)
