"""The real ``opi`` process against the scripted mock LLM server (issue 2 acceptance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from opi_cli.cli.schema import event_stream_schema
from tests.conftest import fast_retry_settings, run_opi
from tests.mock_llm import MockLLM

BASH_THEN_ANSWER = {
    "responses": [
        {"steps": [{"thinking": "Let me look."}, {"text": "I'll list the files."},
                   {"tool_call": {"name": "bash", "arguments": {"command": "ls"}, "id": "call_1"}}]},
        {"steps": [{"text": "There is one file: a.txt"}]},
    ]
}

PI_ORDER = [
    "session", "agent_start", "turn_start",
    "message_start:user", "message_end:user",
    "message_start:assistant", "message_end:assistant",
    "tool_execution_start", "tool_execution_end",
    "message_start:toolResult", "message_end:toolResult",
    "turn_end", "turn_start",
    "message_start:assistant", "message_end:assistant",
    "turn_end", "agent_end", "session_summary",
]


def events_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def shape(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        t = e["type"]
        if t in ("message_update", "tool_execution_update"):
            continue
        if t in ("message_start", "message_end"):
            t = f"{t}:{e['message']['role']}"
        out.append(t)
    return out


def validate_all(events: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(event_stream_schema())
    for e in events:
        errors = list(validator.iter_errors(e))
        assert not errors, (e["type"], [err.message for err in errors[:3]])


def base_args(srv: MockLLM, *extra: str) -> list[str]:
    return ["--json", "--base-url", f"{srv.base_url}/v1", "--api-key", "sk-test-secret", "--model", "any-model", *extra]


@pytest.mark.parametrize(
    ("flags", "endpoint"),
    [
        (["--provider", "openai", "--api", "openai-completions"], "/v1/chat/completions"),
        (["--provider", "anthropic"], "/v1/messages"),
        (["--provider", "openai", "--api", "openai-responses"], "/v1/responses"),
    ],
)
def test_json_run_calls_bash_then_answers(workdir: Path, flags: list[str], endpoint: str) -> None:
    (workdir / "a.txt").write_text("hi\n")
    with MockLLM(BASH_THEN_ANSWER) as srv:
        proc = run_opi(base_args(srv, *flags, "list files"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc.stdout)
    assert shape(events) == PI_ORDER
    validate_all(events)
    assert events[-1]["exitCode"] == 0 and events[-1]["turns"] == 2
    assert [r["path"] for r in requests] == [endpoint, endpoint]
    # the tool result went back to the model with the real `ls` output
    body = json.dumps(requests[1]["body"])
    assert "call_1" in body and "a.txt" in body
    # tokens streamed as deltas, thinking included
    deltas = {e["assistantMessageEvent"]["type"] for e in events if e["type"] == "message_update"}
    assert {"text_delta", "thinking_delta", "toolcall_end"} <= deltas
    # the key never leaks into the stream
    assert "sk-test-secret" not in proc.stdout and "sk-test-secret" not in proc.stderr


def test_print_mode_prints_only_final_text(workdir: Path) -> None:
    with MockLLM(BASH_THEN_ANSWER) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--model", "m", "--provider", "openai",
                        "--api", "openai-completions", "--api-key", "x", "list files"], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "There is one file: a.txt\n"


def test_a_run_does_not_import_httpx_cli_or_trio(workdir: Path) -> None:
    """httpx's CLI (click, rich.syntax, pygments) and trio are ~130 ms of start-up opi never uses;
    httpcore and anyio (~45 ms) neither: opi's own transport speaks HTTP/1.1 (ai/transport.py)."""
    with MockLLM(BASH_THEN_ANSWER) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--model", "m", "--provider", "openai",
                        "--api", "openai-completions", "--api-key", "x", "list files"], cwd=workdir,
                       env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert {"httpx", "h11", "opi_cli.ai.transport"} <= imported  # the probe sees the imports
    # (a module marked absent is still listed, as a failed import: look for what the real ones load)
    assert not imported & {"pygments", "rich.syntax", "trio._core", "httpcore", "anyio"}


def test_stdin_becomes_the_prompt(workdir: Path) -> None:
    script = {"responses": [{"steps": [{"text": "ok"}]}]}
    with MockLLM(script) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--model", "m", "--api-key", "x",
                        "--provider", "openai", "--api", "openai-completions"], cwd=workdir, stdin="piped question\n")
        body = srv.requests[0]["body"]
    assert proc.returncode == 0, proc.stderr
    assert "piped question" in json.dumps(body["messages"][-1])


@pytest.mark.parametrize(
    "failure",
    [
        {"error": {"status": 429, "message": "Rate limit reached", "type": "rate_limit_error", "headers": {"retry-after": "0"}}},
        {"error": {"status": 500, "message": "internal", "type": "server_error"}},
        {"error": {"status": 529, "message": "Overloaded", "type": "overloaded_error"}},
        {"steps": [{"text": "partial answer that is cut"}], "drop_after_events": 3},
        {"steps": [{"text": "partial"}], "stream_error_after_events": 2,
         "stream_error": {"type": "overloaded_error", "message": "Overloaded"}},
    ],
    ids=["429", "500", "529", "drop", "stream-error"],
)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_transient_failures_are_retried(workdir: Path, opi_home: Path, failure: dict[str, Any], provider: str) -> None:
    fast_retry_settings(opi_home)
    script = {"responses": [failure, failure, {"steps": [{"text": "recovered"}]}]}
    api = ["--api", "openai-completions"] if provider == "openai" else []
    with MockLLM(script) as srv:
        proc = run_opi(base_args(srv, "--provider", provider, *api, "hi"), cwd=workdir)
        n = len(srv.requests)
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc.stdout)
    validate_all(events)
    starts = [e for e in events if e["type"] == "auto_retry_start"]
    assert [(s["attempt"], s["delayMs"]) for s in starts] == [(1, 10 if "retry-after" not in json.dumps(failure) else 0),
                                                              (2, 20 if "retry-after" not in json.dumps(failure) else 0)]
    assert [e for e in events if e["type"] == "auto_retry_end"] == [{"type": "auto_retry_end", "success": True, "attempt": 2}]
    assert n == 3
    assert events[-1]["type"] == "session_summary" and events[-1]["exitCode"] == 0


def test_unauthorized_fails_at_once(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home)
    script = {"responses": [{"error": {"status": 401, "message": "Incorrect API key provided", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}]}
    with MockLLM(script) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--model", "m", "--api-key", "bad",
                        "--provider", "openai", "--api", "openai-completions", "hi"], cwd=workdir)
        n = len(srv.requests)
    assert proc.returncode == 1
    assert n == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "401" in lines[0] and "Incorrect API key" in lines[0]


def test_context_overflow_is_reported_and_not_retried(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home, compaction={"enabled": False})
    script = {"responses": [{"error": {"status": 400, "message": "prompt is too long: 213462 tokens > 200000 maximum",
                                       "type": "invalid_request_error"}}]}
    with MockLLM(script) as srv:
        proc = run_opi(base_args(srv, "--provider", "anthropic", "hi"), cwd=workdir)
        n = len(srv.requests)
    assert proc.returncode == 1
    assert n == 1
    events = events_of(proc.stdout)
    assert not [e for e in events if e["type"] == "auto_retry_start"]
    end = [e for e in events if e["type"] == "message_end" and e["message"]["role"] == "assistant"][-1]
    assert end["message"]["stopReason"] == "error" and "prompt is too long" in end["message"]["errorMessage"]
    assert events[-1]["exitCode"] == 1


def test_missing_key_exits_2_with_what_to_set(workdir: Path) -> None:
    proc = run_opi(["-p", "--provider", "openai", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "OPENAI_API_KEY" in proc.stderr and proc.stderr.count("\n") == 1


def test_unknown_provider_exits_2(workdir: Path) -> None:
    proc = run_opi(["-p", "--provider", "nosuch", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "Unknown provider" in proc.stderr and "openai" in proc.stderr


def test_no_provider_at_all_says_how_to_configure(workdir: Path) -> None:
    proc = run_opi(["-p", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "OPENAI_API_KEY" in proc.stderr


def test_unknown_tool_name_lists_known_ones(workdir: Path) -> None:
    proc = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key", "x",
                    "--provider", "openai", "--tools", "read,frobnicate", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "frobnicate" in proc.stderr and "read, bash" in proc.stderr


def test_schema_command_prints_a_valid_schema(workdir: Path) -> None:
    proc = run_opi(["schema"], cwd=workdir)
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_version(workdir: Path) -> None:
    proc = run_opi(["--version"], cwd=workdir)
    assert proc.returncode == 0 and proc.stdout.startswith("opi ")


def test_models_lists_catalogue_and_models_json(workdir: Path, opi_home: Path) -> None:
    (opi_home / "models.json").write_text(json.dumps({"providers": {"ollama": {
        "baseUrl": "http://localhost:11434/v1", "api": "openai-completions", "apiKey": "ollama",
        "models": [{"id": "qwen2.5-coder:7b", "contextWindow": 32768}]}}}))
    proc = run_opi(["models"], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    rows = {tuple(line.split()[:3]) for line in proc.stdout.splitlines()}
    assert ("ollama", "qwen2.5-coder:7b", "33k") in rows
    assert any(r[0] == "anthropic" for r in rows) and any(r[0] == "openai" for r in rows)
    only = run_opi(["models", "qwen"], cwd=workdir)
    assert "qwen2.5-coder:7b" in only.stdout and "claude" not in only.stdout
    bad = opi_home / "models.json"
    bad.write_text('{"providers": {"x": }}')
    broken = run_opi(["models"], cwd=workdir)
    assert broken.returncode == 2 and "models.json:1:" in broken.stderr and "malformed JSON" in broken.stderr
    assert bad.read_text() == '{"providers": {"x": }}'  # never overwritten
