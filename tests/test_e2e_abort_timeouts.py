"""Abort and time: Ctrl+C/SIGINT reach a request at once (also before headers and during
connect), and every way a server can go quiet ends in a clear error naming the URL and the
timeout (issue 11). No test asserts a wall-clock figure: they wait on exits and logs with
generous bounds, which a hung opi misses."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fast_retry_settings, run_opi, session_records, wait_until
from tests.mock_llm import MockLLM

SILENT = {"responses": [{"silent": True}], "repeat_last": True}


def _args(base_url: str, mode: str, *extra: str) -> list[str]:
    return [mode, "--base-url", f"{base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "sk-test-abort-key", "--model", "mock-model", *extra, "hello there"]


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def backlogged() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a socket whose accept queue is full: a connect there hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(server.getsockname())
        fillers.append(c)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    for c in fillers:
        c.close()
    server.close()


@pytest.mark.parametrize("mode", ["-p", "--json"])
def test_sigint_before_response_headers_exits_130_with_session_intact(
    workdir: Path, opi_home: Path, spawn_opi: Any, mode: str
) -> None:
    with MockLLM(SILENT) as srv:
        proc = spawn_opi(_args(srv.base_url, mode), cwd=workdir)
        wait_until(lambda: srv.open_streams == 1, what="the request to reach the silent server")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # before the fix: stuck until the 600 s read timeout
        wait_until(lambda: srv.open_streams == 0, what="opi to drop the connection")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    records = session_records(opi_home)
    assert records[0]["type"] == "session"
    users = [r for r in records if r["type"] == "message" and r["message"]["role"] == "user"]
    assert [u["message"]["content"][0]["text"] for u in users] == ["hello there"]
    if mode == "--json":
        events = _events(out)
        assert events[-1]["type"] == "session_summary"
        assert events[-1]["exitCode"] == 130
        assert events[-1]["stopReason"] == "aborted"


def test_sigint_during_connect_exits_130(workdir: Path, opi_home: Path, backlogged: str, spawn_opi: Any) -> None:
    proc = spawn_opi(_args(backlogged, "--json"), cwd=workdir)
    # the session header is written before the request is sent (PROTOCOL §4.2.1)
    wait_until(lambda: list(opi_home.glob("sessions/*/*.jsonl")), what="the session file")
    wait_until(lambda: any(r["type"] == "message" for r in session_records(opi_home)), what="the user message")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert _events(out)[-1]["exitCode"] == 130


def _settings(opi_home: Path, **http: int) -> None:
    fast_retry_settings(opi_home, http=http)
    s = json.loads((opi_home / "settings.json").read_text())
    s["retry"]["maxRetries"] = 1
    (opi_home / "settings.json").write_text(json.dumps(s))


def _assert_timeout_error(proc_out: str, err: str, url: str, setting: str) -> None:
    events = _events(proc_out)
    summary = events[-1]
    assert summary["type"] == "session_summary" and summary["exitCode"] == 1
    retries = [e for e in events if e["type"] == "auto_retry_start"]
    assert [r["attempt"] for r in retries] == [1]  # maxRetries 1: retried once, then gave up
    final = [e for e in events if e["type"] == "message_end" and e["message"]["role"] == "assistant"][-1]
    message = final["message"]["errorMessage"]
    assert url in message and setting in message, message
    assert url in err and setting in err, err
    assert "Traceback" not in err


def test_silent_server_ends_with_first_byte_timeout(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, firstByteTimeoutMs=400)
    with MockLLM(SILENT) as srv:
        r = run_opi(_args(srv.base_url, "--json"), cwd=workdir, timeout=60)
        assert len(srv.requests) == 2
    _assert_timeout_error(r.stdout, r.stderr, f"{srv.base_url}/v1/chat/completions", "http.firstByteTimeoutMs")


def test_stall_after_headers_ends_with_idle_timeout(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, idleTimeoutMs=400)
    script = {"responses": [{"steps": [{"text": "never sent"}], "stall_after_headers": True}], "repeat_last": True}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url, "--json"), cwd=workdir, timeout=60)
    _assert_timeout_error(r.stdout, r.stderr, f"{srv.base_url}/v1/chat/completions", "http.idleTimeoutMs")


def test_keep_alive_comments_without_data_end_with_idle_timeout(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, idleTimeoutMs=400)
    script = {"responses": [{"steps": [{"text": "partial"}], "hang": True, "delay_ms": 50}], "repeat_last": True}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url, "--json"), cwd=workdir, timeout=60)
    _assert_timeout_error(r.stdout, r.stderr, f"{srv.base_url}/v1/chat/completions", "http.idleTimeoutMs")


def test_one_byte_per_second_trickle_ends_with_idle_timeout(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, idleTimeoutMs=1500)
    script = {"responses": [{"steps": [{"text": "slow"}], "trickle_ms": 1000}], "repeat_last": True}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url, "--json"), cwd=workdir, timeout=60)
    _assert_timeout_error(r.stdout, r.stderr, f"{srv.base_url}/v1/chat/completions", "http.idleTimeoutMs")


def test_whole_request_timeout_flag_bounds_a_trickle(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home)  # default phase timeouts: only --timeout can end this
    script = {"responses": [{"steps": [{"text": "slow"}], "trickle_ms": 200}], "repeat_last": True}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url, "--json", "--timeout", "1.5"), cwd=workdir, timeout=60)
    _assert_timeout_error(r.stdout, r.stderr, f"{srv.base_url}/v1/chat/completions", "--timeout")


def test_connect_timeout_names_the_url(workdir: Path, opi_home: Path, backlogged: str) -> None:
    _settings(opi_home, connectTimeoutMs=300)
    r = run_opi(_args(backlogged, "--json"), cwd=workdir, timeout=60)
    _assert_timeout_error(r.stdout, r.stderr, f"{backlogged}/v1/chat/completions", "http.connectTimeoutMs")


@pytest.mark.parametrize("bad", ["-5", '"fast"', "true"])
def test_bad_timeout_setting_is_one_line_exit_2(workdir: Path, opi_home: Path, bad: str) -> None:
    (opi_home / "settings.json").write_text(f'{{"http": {{"idleTimeoutMs": {bad}}}}}')
    r = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "hi"], cwd=workdir)
    assert r.returncode == 2, r.stderr
    assert "http.idleTimeoutMs" in r.stderr and "settings.json" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_compaction_summary_request_honours_the_timeouts(workdir: Path, opi_home: Path) -> None:
    (opi_home / "models.json").write_text(json.dumps({"providers": {"mock": {
        "baseUrl": "http://127.0.0.1:1/v1", "api": "openai-completions", "apiKey": "x",
        "models": [{"id": "small", "contextWindow": 4000, "maxTokens": 500}]}}}))
    (opi_home / "settings.json").write_text(json.dumps({
        "http": {"firstByteTimeoutMs": 400},
        "compaction": {"enabled": True, "reserveTokens": 1000, "keepRecentTokens": 100}}))
    overflow = {"error": {"status": 400, "message": "prompt is too long: 5000 tokens > 4000 maximum",
                          "type": "invalid_request_error", "code": "context_length_exceeded"}}
    script = {"responses": [
        {"steps": [{"text": "A1"}], "usage": {"input": 100, "output": 2}},
        overflow,
        {"silent": True},  # the summary request: before the fix it waited the default 300 s
        {"steps": [{"text": "after retry"}]},
    ]}
    with MockLLM(script) as srv:
        r = run_opi(["--json", "--model", "mock/small", "--base-url", f"{srv.base_url}/v1", "--provider", "mock",
                     "--api", "openai-completions", "--api-key", "x", "first " + "y" * 400, "--then", "second " + "z" * 480],
                    cwd=workdir, timeout=60)
    assert r.returncode == 0, r.stderr
    events = _events(r.stdout)
    end = next(e for e in events if e["type"] == "compaction_end")
    assert end["result"]["details"]["fallback"]  # the model could not summarise in time
    assert events[-1]["exitCode"] == 0


def test_non_positive_timeout_flag_is_a_usage_error(workdir: Path) -> None:
    r = run_opi(["-p", "--timeout", "0", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "hi"], cwd=workdir)
    assert r.returncode == 2
    assert r.stderr.strip() == "opi: --timeout must be a positive number of seconds, not 0."
