"""Claude Code's ``-p --input-format stream-json --output-format stream-json`` shape, as opi accepts it.

The required fields of each output line are those the Claude Agent SDK's message parser
reads (``message.content``/``message.model`` of assistant lines, ``subtype``,
``duration_ms``, ``duration_api_ms``, ``is_error``, ``num_turns``, ``session_id`` of result
lines, ``uuid``/``session_id``/``event`` of stream events).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_opi
from tests.mock_llm import MockLLM
from tests.rpc.client import RpcProcess, mock_args

REQUIRED: dict[str, tuple[str, ...]] = {
    "system": ("subtype", "session_id", "cwd", "model", "tools"),
    "assistant": ("message", "session_id", "uuid"),
    "user": ("message", "session_id", "uuid"),
    "result": ("subtype", "duration_ms", "duration_api_ms", "is_error", "num_turns", "session_id", "usage"),
    "stream_event": ("uuid", "session_id", "event"),
    "control_response": ("response",),
}
TOOL_THEN_ANSWER = {"responses": [
    {"steps": [{"text": "Looking."}, {"tool_call": {"name": "bash", "arguments": {"command": "echo hi"}, "id": "call_1"}}]},
    {"steps": [{"text": "It said hi."}]},
    {"steps": [{"text": "Second answer."}]},
]}


def _user(content: Any) -> bytes:
    return json.dumps({"type": "user", "message": {"role": "user", "content": content}}).encode()


def _check(lines: list[dict[str, Any]]) -> None:
    for o in lines:
        missing = [k for k in REQUIRED[o["type"]] if k not in o]
        assert not missing, (o["type"], missing)
        if o["type"] == "assistant":
            assert isinstance(o["message"]["content"], list) and isinstance(o["message"]["model"], str)


def _claude(srv: MockLLM, *extra: str) -> list[str]:
    return ["-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose", *extra,
            *mock_args(srv)]


def test_user_lines_in_claude_lines_out(workdir: Path) -> None:
    with MockLLM(TOOL_THEN_ANSWER) as srv:
        p = RpcProcess(_claude(srv), workdir)
        try:
            p.write(_user("run echo") + b"\n"
                    + json.dumps({"type": "control_request", "request_id": "r1",
                                  "request": {"subtype": "initialize"}}).encode() + b"\n"
                    + b"this is not json\n"
                    + _user([{"type": "text", "text": "and again"}]) + b"\n")
            assert p.finish() == 0, p.stderr
        finally:
            p.kill()
        second_request = json.dumps(srv.requests[2]["body"]["messages"])
    lines = p.lines
    _check(lines)
    assert [o["type"] for o in lines] == [
        "system", "control_response", "assistant", "user", "assistant", "result", "assistant", "result"]
    init, control, call, result_line = lines[0], lines[1], lines[2], lines[3]
    assert init["subtype"] == "init" and "bash" in init["tools"] and init["cwd"] == str(workdir)
    assert control["response"] == {"subtype": "success", "request_id": "r1", "response": {}}
    assert call["message"]["content"][1] == {"type": "tool_use", "id": "call_1", "name": "bash",
                                             "input": {"command": "echo hi"}}
    assert call["message"]["stop_reason"] == "tool_use"
    assert result_line["message"]["content"][0]["type"] == "tool_result"
    assert result_line["message"]["content"][0]["content"] == [{"type": "text", "text": "hi\n"}]
    first, second = (o for o in lines if o["type"] == "result")
    assert first["subtype"] == "success" and first["result"] == "It said hi." and first["num_turns"] == 2
    assert second["result"] == "Second answer." and not second["is_error"]
    assert len({o["session_id"] for o in lines if "session_id" in o}) == 1
    assert "and again" in second_request  # the second message ran in the same session
    assert b"stream-json input line 3: not JSON" in p.stderr


def test_partial_messages_stream_anthropic_events(workdir: Path) -> None:
    script = {"responses": [{"steps": [{"thinking": "hmm"}, {"text": "Hello there, friend."}], "chunk_size": 3}]}
    with MockLLM(script) as srv:
        proc = run_opi(["-p", "--output-format", "stream-json", "--include-partial-messages", *mock_args(srv), "hi"],
                       cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    _check(lines)
    kinds = [o["event"]["type"] for o in lines if o["type"] == "stream_event"]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    text = "".join(o["event"]["delta"].get("text", "") for o in lines
                   if o["type"] == "stream_event" and o["event"]["type"] == "content_block_delta")
    assert text == "Hello there, friend."
    assert [o["type"] for o in lines if o["type"] != "stream_event"] == ["system", "assistant", "result"]


def test_output_format_json_prints_the_result_only(workdir: Path) -> None:
    with MockLLM({"responses": [{"steps": [{"text": "Just this."}]}]}) as srv:
        proc = run_opi(["-p", "--output-format", "json", *mock_args(srv), "hi"], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    (result,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert result["type"] == "result" and result["result"] == "Just this." and result["is_error"] is False


def test_interrupt_ends_the_run_not_the_process(workdir: Path) -> None:
    script = {"responses": [
        {"steps": [{"text": "slow"}], "chunk_size": 1, "delay_ms": 20, "hang": True},
        {"steps": [{"text": "next one"}]},
    ]}
    with MockLLM(script) as srv:
        p = RpcProcess(_claude(srv, "--include-partial-messages"), workdir)
        try:
            p.write(_user("first") + b"\n")
            p.wait_for(lambda o: o["type"] == "stream_event" and o["event"]["type"] == "content_block_delta")
            p.write(json.dumps({"type": "control_request", "request_id": "stop",
                                "request": {"subtype": "interrupt"}}).encode() + b"\n")
            aborted = p.wait_for(lambda o: o["type"] == "result")
            p.write(_user("second") + b"\n")
            assert p.finish() == 0
        finally:
            p.kill()
    assert aborted["is_error"] and aborted["subtype"] == "error_during_execution"
    results = [o for o in p.lines if o["type"] == "result"]
    assert results[-1]["result"] == "next one"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "bogus"], "Unknown --mode 'bogus'"),
        (["--mode", "rpc", "hello"], "reads its commands from stdin"),
        (["--mode", "rpc", "-p"], "drop -p/--print"),
        (["--input-format", "stream-json", "--output-format", "text"], "needs --output-format stream-json"),
        (["--output-format", "yaml"], "Unknown --output-format 'yaml'"),
        (["--json", "--output-format", "stream-json", "x"], "drop --json"),
        (["-p", "--json-snapshots", "x"], "--json-snapshots shapes"),
        (["--json", "--include-partial-messages", "x"], "--include-partial-messages goes with"),
        (["--mode", "json", "--output-format", "json", "x"], "not both"),
    ],
)
def test_bad_mode_flags_are_one_clear_line(workdir: Path, args: list[str], message: str) -> None:
    proc = run_opi(args, cwd=workdir)
    assert proc.returncode == 2
    assert proc.stderr.startswith("opi: ") and message in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_mode_text_and_json_are_pis_names(workdir: Path) -> None:
    with MockLLM({"repeat_last": True, "responses": [{"steps": [{"text": "fine"}]}]}) as srv:
        text = run_opi(["--mode", "text", *mock_args(srv), "hi"], cwd=workdir)
        stream = run_opi(["--mode", "json", *mock_args(srv), "hi"], cwd=workdir)
    assert text.returncode == 0 and text.stdout == "fine\n"
    assert json.loads(stream.stdout.splitlines()[-1])["type"] == "session_summary"
