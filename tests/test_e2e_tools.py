"""Issue 3 end to end: a scripted session reads, edits, runs a test, writes a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_opi
from tests.mock_llm import MockLLM


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.strip()]


def _args(srv: MockLLM, *extra: str) -> list[str]:
    return ["--json", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "x", "--model", "m", *extra]


def test_read_edit_test_write_leaves_expected_repo(workdir: Path) -> None:
    (workdir / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (workdir / "test_calc.sh").write_text('python3 -c "import calc; assert calc.add(2, 3) == 5; print(\'PASS\')"\n')
    script = {"responses": [
        {"steps": [{"text": "Reading."}, {"tool_call": {"name": "read", "arguments": {"path": "calc.py"}, "id": "c1"}}]},
        {"steps": [{"tool_call": {"name": "edit", "id": "c2", "arguments": {
            "path": "calc.py", "oldText": "    return a - b", "newText": "    return a + b"}}}]},
        {"steps": [{"tool_call": {"name": "bash", "id": "c3", "arguments": {"command": "bash test_calc.sh"}}}]},
        {"steps": [{"tool_call": {"name": "write", "id": "c4", "arguments": {
            "path": "docs/NOTES.md", "content": "add() fixed\n"}}}]},
        {"steps": [{"text": "Fixed add() and wrote notes."}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(_args(srv, "fix add"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (workdir / "docs" / "NOTES.md").read_text() == "add() fixed\n"
    assert sorted(p.name for p in workdir.iterdir()) == ["calc.py", "docs", "test_calc.sh"] or \
        sorted(p.name for p in workdir.iterdir()) == ["__pycache__", "calc.py", "docs", "test_calc.sh"]
    events = _events(proc.stdout)
    ends = {e["toolCallId"]: e for e in events if e["type"] == "tool_execution_end"}
    assert not any(e["isError"] for e in ends.values()), [e["result"] for e in ends.values()]
    diff = ends["c2"]["result"]["details"]["diff"]
    assert "-2     return a - b" in diff and "+2     return a + b" in diff
    assert ends["c2"]["result"]["details"]["firstChangedLine"] == 2
    assert "PASS" in ends["c3"]["result"]["content"][0]["text"]
    updates = [e for e in events if e["type"] == "tool_execution_update" and e["toolCallId"] == "c3"]
    assert updates and "PASS" in json.dumps(updates[-1]["partialResult"])
    assert "Successfully wrote 12 bytes" in ends["c4"]["result"]["content"][0]["text"]
    # what the model got back for the read call
    tool_msg = requests[1]["body"]["messages"][-1]
    assert tool_msg["role"] == "tool" and "return a - b" in tool_msg["content"]


def test_invalid_arguments_get_a_validation_result_and_the_loop_continues(workdir: Path) -> None:
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "write", "id": "bad", "arguments": {"path": 42}}}]},
        {"steps": [{"text": "I will fix my call."}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(_args(srv, "write something"), cwd=workdir)
        second = srv.requests[1]["body"]["messages"][-1]
    assert proc.returncode == 0, proc.stderr
    text = second["content"]
    assert 'Validation failed for tool "write"' in text
    assert "content: must have required property 'content'" in text
    assert "path: must be string" in text
    assert '"path": 42' in text
    events = _events(proc.stdout)
    assert events[-1]["type"] == "session_summary" and events[-1]["stopReason"] == "stop"
