"""A client drives the real ``opi --mode rpc`` through a whole session against the mock LLM.

prompt → tool call → steer while the tool runs → follow_up → compact → fork →
switch_session → export, asserting every response, the order of the events, the
requests the model saw and the session files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.mock_llm import MockLLM
from tests.rpc.client import RpcProcess, assert_valid, events, mock_args, responses


def _shape(lines: list[dict[str, Any]]) -> list[str]:
    out = []
    for o in lines:
        t = o["type"]
        if t in ("message_update", "tool_execution_update"):
            continue
        if t in ("message_start", "message_end"):
            t = f"{t}:{o['message']['role']}"
        elif t == "response":
            t = f"response:{o['command']}"
        out.append(t)
    return out


def _entries(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def _texts(entries: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in entries:
        if e["type"] == "message" and e["message"]["role"] in ("user", "assistant"):
            out.append("".join(c.get("text", "") for c in e["message"]["content"] if c["type"] == "text"))
    return out


def test_a_whole_session_over_rpc(workdir: Path, opi_home: Path) -> None:
    (opi_home / "settings.json").write_text(json.dumps(
        {"compaction": {"enabled": True, "reserveTokens": 1000, "keepRecentTokens": 20}}))
    gate = workdir / "go"
    build = f"while [ ! -f {gate} ]; do sleep 0.02; done; echo built"
    script = {"responses": [
        {"when_last_user_contains": "build the project",
         "steps": [{"text": "Building. " + "b" * 300}, {"tool_call": {"name": "bash", "arguments": {"command": build},
                                                                       "id": "call_1"}}]},
        {"when_last_user_contains": "fast path", "steps": [{"text": "Using the fast path."}]},
        {"when_last_user_contains": "tests too", "steps": [{"text": "Tests pass."}]},
        {"when_last_user_contains": "<conversation>", "steps": [{"text": "## Goal\nSUMMARY-RPC"}]},
    ]}
    with MockLLM(script) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            state0 = p.call("get_state")["data"]
            original = state0["sessionFile"]
            assert state0["isStreaming"] is False and state0["messageCount"] == 0

            # prompt → the model calls bash, which waits for the gate file
            assert p.call("prompt", message="build the project " + "x" * 800) == {
                "type": "response", "id": 2, "command": "prompt", "success": True}
            start = p.event("tool_execution_start")
            assert start["args"] == {"command": build}
            assert p.call("get_state")["data"]["isStreaming"] is True
            busy = p.call("prompt", message="another")
            assert busy["success"] is False and "steer" in busy["error"]
            # steer and follow_up while the tool runs
            assert p.call("steer", message="take the fast path")["success"]
            assert p.call("follow_up", message="run the tests too")["success"]
            assert p.call("get_state")["data"]["pendingMessageCount"] == 2
            gate.write_text("")
            p.event("agent_end")
            assert p.call("get_last_assistant_text")["data"] == {"text": "Tests pass."}

            # compact: the summary request goes to the model, the result comes back
            mark = p.mark()
            compacted = p.call("compact", customInstructions="keep the build details")
            assert compacted["success"], compacted
            assert compacted["data"]["summary"] == "## Goal\nSUMMARY-RPC"
            assert [o["type"] for o in p.lines[mark:] if o["type"].startswith("compaction")] == [
                "compaction_start", "compaction_end"]
            context = p.call("get_messages")["data"]["messages"]
            assert context[0]["role"] == "compactionSummary" and "SUMMARY-RPC" in context[0]["summary"]

            # fork from the follow-up: a new session file with the history before it
            forks = p.call("get_fork_messages")["data"]["messages"]
            assert [m["text"][:17] for m in forks] == ["build the project", "take the fast pat", "run the tests too"]
            forked = p.call("fork", entryId=forks[2]["entryId"])
            assert forked["data"] == {"text": "run the tests too", "cancelled": False}
            fork_file = p.call("get_state")["data"]["sessionFile"]
            assert fork_file != original
            missing = p.call("fork", entryId="nope")
            assert missing["success"] is False and "get_fork_messages" in missing["error"]

            # back to the original session, then export it
            assert p.call("switch_session", sessionPath=original)["data"] == {"cancelled": False}
            back = p.call("get_state")["data"]
            assert back["sessionFile"] == original and back["messageCount"] == len(context)
            out = workdir / "session.html"
            exported = p.call("export_html", outputPath=str(out))
            assert exported["data"] == {"path": str(out)}
            stats = p.call("get_session_stats")["data"]
            assert stats["sessionFile"] == original
            assert p.finish() == 0
        finally:
            p.kill()
        requests = srv.requests

    lines = p.lines
    assert_valid(lines)
    # exactly one response per command, in the order they were sent
    answered = [r["id"] for r in responses(lines)]
    assert sorted(answered) == list(range(1, len(answered) + 1)) and len(set(answered)) == len(answered)
    # the run's events in pi's order: the steer goes in after the tool batch, the follow-up last
    run = _shape([o for o in lines if o["type"] != "response"])
    assert run[: run.index("agent_end") + 1] == [
        "agent_start", "turn_start", "message_start:user", "message_end:user",
        "message_start:assistant", "message_end:assistant",
        "tool_execution_start", "queue_update", "queue_update", "tool_execution_end",
        "message_start:toolResult", "message_end:toolResult", "turn_end",
        "queue_update", "turn_start", "message_start:user", "message_end:user",
        "message_start:assistant", "message_end:assistant", "turn_end",
        "queue_update", "turn_start", "message_start:user", "message_end:user",
        "message_start:assistant", "message_end:assistant", "turn_end", "agent_end",
    ]
    # the deltas rebuild each reply; no update carries the message so far
    updates = [o for o in events(lines) if o["type"] == "message_update"]
    assert updates and all("message" not in u for u in updates)
    streamed = "".join(u["assistantMessageEvent"].get("delta", "") for u in updates
                       if u["assistantMessageEvent"]["type"] == "text_delta")
    assert streamed == "Building. " + "b" * 300 + "Using the fast path." + "Tests pass."
    # what the model saw: the tool result and the steer in request 2, the follow-up in 3
    second, third = (json.dumps(r["body"]["messages"]) for r in requests[1:3])
    assert "built" in second and "take the fast path" in second and "run the tests too" not in second
    assert "run the tests too" in third
    assert "<conversation>" in json.dumps(requests[3]["body"])

    # the session files
    entries = _entries(original)
    assert [e["type"] for e in entries[:3]] == ["session", "model_change", "thinking_level_change"]
    assert _texts(entries) == [
        "build the project " + "x" * 800, "Building. " + "b" * 300, "take the fast path", "Using the fast path.",
        "run the tests too", "Tests pass.",
    ]
    assert [e["type"] for e in entries].count("compaction") == 1
    fork_entries = _entries(fork_file)
    assert fork_entries[0]["parentSession"] == original
    assert _texts(fork_entries) == _texts(entries)[:4]
    html = out.read_text()
    assert "Using the fast path." in html and "Tests pass." in html


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_prompt_and_steer_with_images(workdir: Path, opi_home: Path) -> None:
    script = {"responses": [{"steps": [{"text": "A red dot."}]}]}
    with MockLLM(script) as srv:
        (opi_home / "models.json").write_text(json.dumps({"providers": {"local": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "none",
            "models": [{"id": "vision", "input": ["text", "image"]}]}}}))
        p = RpcProcess(["--mode", "rpc", "--model", "local/vision"], workdir)
        try:
            image = {"type": "image", "data": PNG, "mimeType": "image/png"}
            assert p.call("prompt", message="what is this?", images=[image])["success"]
            p.event("agent_end")
            bad = p.call("steer", message="and this?", images=[{**image, "mimeType": "text/plain"}])
            assert bad["success"] is False and "images[0].mimeType" in bad["error"]
            assert p.finish() == 0
        finally:
            p.kill()
        body = json.dumps(srv.requests[0]["body"])
    assert f"data:image/png;base64,{PNG}" in body and "what is this?" in body
    user = next(o for o in p.lines if o["type"] == "message_end" and o["message"]["role"] == "user")
    assert user["message"]["content"][1] == image


def test_model_thinking_bash_and_session_commands(workdir: Path, opi_home: Path) -> None:
    script = {"repeat_last": True, "responses": [{"steps": [{"text": "ok"}]}]}
    with MockLLM(script) as srv:
        (opi_home / "models.json").write_text(json.dumps({"providers": {"local": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "none",
            "models": [{"id": "small"}, {"id": "thinker", "reasoning": True}]}}}))
        p = RpcProcess(["--mode", "rpc", "--model", "local/small"], workdir)
        try:
            models = [m["id"] for m in p.call("get_available_models")["data"]["models"] if m["provider"] == "local"]
            assert models == ["small", "thinker"]
            assert p.call("cycle_thinking_level")["data"] is None  # small has no reasoning
            assert p.call("set_model", provider="local", modelId="thinker")["data"]["reasoning"] is True
            assert p.call("set_thinking_level", level="high")["data"] == {"level": "high"}
            assert p.call("cycle_thinking_level")["data"] == {"level": "off"}  # xhigh is not for this model
            cycled = p.call("cycle_model")["data"]
            assert cycled["model"]["id"] != "thinker" and cycled["isScoped"] is False
            missing = p.call("set_model", provider="local", modelId="nope")
            assert missing["error"].startswith("Model not found: local/nope")

            ran = p.call("bash", command="echo from-bash")["data"]
            assert ran == {"output": "from-bash\n", "exitCode": 0, "cancelled": False, "truncated": False}
            messages = p.call("get_messages")["data"]["messages"]
            assert messages[-1]["role"] == "bashExecution" and messages[-1]["command"] == "echo from-bash"

            slow = p.send("bash", command="sleep 30")
            busy = p.call("bash", command="echo two")
            assert busy["success"] is False and "abort_bash" in busy["error"]
            assert p.call("abort_bash")["success"]
            assert p.response(slow)["data"]["cancelled"] is True

            assert p.call("set_session_name", name="  rpc test ")["success"]
            first = p.call("get_state")["data"]
            assert first["sessionName"] == "rpc test"
            assert p.call("new_session", parentSession=first["sessionFile"])["data"] == {"cancelled": False}
            second = p.call("get_state")["data"]
            assert second["sessionFile"] != first["sessionFile"] and second["messageCount"] == 0
            assert p.finish() == 0
        finally:
            p.kill()
    header = json.loads(Path(second["sessionFile"]).read_text().splitlines()[0])
    assert header["parentSession"] == first["sessionFile"]
    kinds = [json.loads(line)["type"] for line in Path(first["sessionFile"]).read_text().splitlines()]
    assert kinds.count("model_change") >= 3 and "session_info" in kinds
    changed = [o for o in p.lines if o["type"] in ("model_changed", "thinking_level_changed")]
    assert {"type": "model_changed", "provider": "local", "modelId": "thinker"} in changed


def test_abort_retry_and_set_auto_retry(workdir: Path, opi_home: Path) -> None:
    (opi_home / "settings.json").write_text(json.dumps(
        {"retry": {"enabled": True, "maxRetries": 3, "baseDelayMs": 600000, "maxDelayMs": 0}}))
    failure = {"error": {"status": 503, "message": "overloaded", "type": "overloaded_error"}}
    with MockLLM({"responses": [failure, failure]}) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            p.send("prompt", message="first")
            start = p.event("auto_retry_start")
            assert start["delayMs"] == 600000
            assert p.call("abort_retry")["success"]
            end = p.event("auto_retry_end")
            assert end == {"type": "auto_retry_end", "success": False, "attempt": 1, "finalError": "Retry cancelled"}
            p.event("agent_end")
            assert p.call("set_auto_retry", enabled=False)["success"]
            mark = p.mark()
            p.send("prompt", message="second")
            failed = p.event("agent_end", after=mark)
            assert failed["messages"][-1]["stopReason"] == "error"
            assert not any(o["type"] == "auto_retry_start" for o in p.lines[mark:])
            assert p.finish() == 0
        finally:
            p.kill()
        assert len(srv.requests) == 2
