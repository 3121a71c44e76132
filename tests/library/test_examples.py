"""Every script in examples/ runs as a real process against the mock servers, and prints what it should."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_opi
from tests.library.realtime_server import (
    RealtimeServer,
    function_call_response,
    session_created,
    session_updated,
    text_response,
)
from tests.mock_llm import MockLLM

EXAMPLES = ROOT / "examples"


def run_example(name: str, env: dict[str, str] | None = None, cwd: Path | None = None, args: tuple[str, ...] = ()) -> str:
    full = dict(os.environ)
    full.update({"OPENAI_API_KEY": "sk-example", "PYTHONPATH": str(ROOT)})
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=full,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def text(t: str) -> dict[str, Any]:
    return {"steps": [{"text": t}]}


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": name, "arguments": args}}]}


def with_mock(name: str, responses: list[dict[str, Any]], **env: str) -> tuple[str, list[dict[str, Any]]]:
    with MockLLM({"responses": responses}) as srv:
        out = run_example(name, {"OPENAI_BASE_URL": srv.base_url + "/v1", **env})
        return out, list(srv.requests)


def test_every_example_is_tested() -> None:
    tested = {
        "basic",
        "registered_tool",
        "function_tool",
        "configuration",
        "multi_turn",
        "tokens",
        "error_handling",
        "persistence",
        "realtime",
        "rpc_client",
        "coding_agent",
        "hooks",
        "mcp_tools",
        "mcp_server",  # the server mcp_tools starts
    }
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_basic() -> None:
    out, reqs = with_mock("basic.py", [text("Rust is a memory-safe systems language.")])
    assert out == "Response: Rust is a memory-safe systems language.\n"
    body = reqs[0]["body"]
    assert body["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert body["messages"][1]["content"] == "Tell me about Rust programming."
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 1024
    assert reqs[0]["had_auth"]


def test_registered_tool() -> None:
    out, reqs = with_mock(
        "registered_tool.py", [call("get_weather", {"location": "Seattle"}), text("It is sunny in Seattle.")]
    )
    assert out.splitlines() == ["[tool] get_weather('Seattle')", "Response: It is sunny in Seattle."]
    assert reqs[0]["body"]["tools"][0]["function"]["name"] == "get_weather"
    assert reqs[1]["body"]["messages"][-1]["content"] == "The weather in Seattle is sunny and 72°F"


def test_function_tool() -> None:
    out, reqs = with_mock(
        "function_tool.py",
        [call("reverse_string", {"text": "Hello World"}), text("Reversed: dlroW olleH")],
    )
    assert out.splitlines() == [
        "[tool] reverse_string('Hello World') -> 'dlroW olleH'",
        "Response: Reversed: dlroW olleH",
    ]
    tools = {t["function"]["name"]: t["function"] for t in reqs[0]["body"]["tools"]}
    assert tools["reverse_string"]["parameters"]["properties"] == {
        "text": {"type": "string", "description": "The string to reverse"}
    }
    assert tools["word_count"]["description"] == "Count the words in a text."
    assert tools["word_count"]["parameters"]["required"] == ["text"]
    assert reqs[1]["body"]["messages"][-1]["content"] == "dlroW olleH"


def test_coding_agent_writes_and_runs_a_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("the answer is 42\n")
    script = [
        call("read", {"path": "notes.txt"}),
        call("write", {"path": "answer.py", "content": "print(6 * 7)\n"}),
        call("bash", {"command": "python3 answer.py"}),
        call("ls", {}),
        text("I wrote answer.py; it prints 42."),
    ]
    with MockLLM({"responses": script}) as srv:
        out = run_example(
            "coding_agent.py", {"OPENAI_BASE_URL": srv.base_url + "/v1"}, args=(str(project), "Write answer.py")
        )
        reqs = list(srv.requests)
    assert out == "I wrote answer.py; it prints 42.\n"
    assert (project / "answer.py").read_text() == "print(6 * 7)\n"
    names = {t["function"]["name"] for t in reqs[0]["body"]["tools"]}
    assert names == {"read", "write", "edit", "bash", "grep", "find", "ls"}
    results = [r["body"]["messages"][-1]["content"] for r in reqs[1:]]
    assert "the answer is 42" in results[0]
    assert "42" in results[2]
    assert "answer.py" in results[3] and "notes.txt" in results[3]
    assert reqs[0]["body"]["messages"][-1]["content"] == "Write answer.py"


def test_hooks() -> None:
    script = [
        {"steps": [{"tool_call": {"name": "delete_file", "arguments": {"path": "/tmp/old.log"}}},
                   {"tool_call": {"name": "delete_file", "arguments": {"path": "/etc/passwd"}}}]},
        text("Deleted /tmp/old.log; /etc/passwd is off limits."),
    ]
    out, reqs = with_mock("hooks.py", script)
    assert out.splitlines() == [
        "[tool] delete_file(/tmp/old.log) -> deleted /tmp/old.log",
        "[tool] delete_file(/etc/passwd) -> Files under /etc are off limits.",
        "Deleted /tmp/old.log; /etc/passwd is off limits.",
    ]
    results = [m["content"] for m in reqs[1]["body"]["messages"] if m["role"] == "tool"]
    assert results == ["deleted /tmp/old.log", "Files under /etc are off limits."]


def test_configuration() -> None:
    out, reqs = with_mock("configuration.py", [text("Hello!")])
    assert out.splitlines() == [
        "Config: model=gpt-4o temperature=0.7 max_tokens=1024 timeout=30.0s",
        "Response: Hello!",
    ]
    assert reqs[0]["body"]["temperature"] == 0.7
    assert reqs[0]["headers"]["openai-organization"] == "your-org-id"
    assert "response_format" not in reqs[0]["body"]


def test_multi_turn() -> None:
    out, reqs = with_mock("multi_turn.py", [text("I am an assistant."), text("You asked who I am.")])
    assert out.splitlines() == [
        "Response 1: I am an assistant.",
        "Response 2: You asked who I am.",
        "Messages in the conversation: 4",
    ]
    assert [m["content"] for m in reqs[1]["body"]["messages"][1:]] == [
        "Hello, who are you?",
        "I am an assistant.",
        "What did I just ask you?",
    ]


def test_tokens() -> None:
    out = run_example("tokens.py")
    lines = out.splitlines()
    assert lines[0] == "Token count: 5"
    assert lines[1].startswith("Truncated text: A very long text that might exceed token limits")
    assert lines[2] == "Truncated tokens: 10"


def test_error_handling() -> None:
    error = {"error": {"status": 429, "message": "Rate limit reached", "type": "rate_limit_error"}}
    out, _ = with_mock("error_handling.py", [error])
    assert out.splitlines() == [
        "Configuration error: temperature must be between 0.0 and 2.0, got 3.0",
        "Request error: 429 Rate limit reached",
        "  status=429 kind=rate_limit",
    ]


PERSISTENCE_SCRIPT = [text("Rust is fast and safe."), text("The borrow checker.")]


def check_persistence_output(out: str) -> None:
    lines = out.splitlines()
    assert lines[:3] == [
        "Response: Rust is fast and safe.",
        "Response 2: The borrow checker.",
        "Saved conversations: 1",
    ]
    assert lines[3] == "Conversation ID: user123_session456"
    assert lines[4] == "Name: None"
    assert lines[7] == "Message count: 4"
    assert lines[8].startswith("Token count: ") and int(lines[8].split(": ")[1]) > 0
    assert lines[9:] == ["After delete: 0 conversations", "A fresh id looks like: 36 characters"]


def test_persistence_in_memory() -> None:
    out, reqs = with_mock("persistence.py", PERSISTENCE_SCRIPT)
    check_persistence_output(out)
    assert len(reqs[1]["body"]["messages"]) == 4  # system + first exchange + the new question


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres")
def test_persistence_in_postgres(postgres_dsn: str) -> None:
    out, _ = with_mock("persistence.py", PERSISTENCE_SCRIPT, OPI_PG_DSN=postgres_dsn)
    check_persistence_output(out)


def test_persistence_in_session_files_lands_under_opi_home(opi_home: Path, tmp_path: Path) -> None:
    out, _ = with_mock("persistence.py", PERSISTENCE_SCRIPT, OPI_EXAMPLE_STORE="jsonl", OPI_EXAMPLE_KEEP="1")
    assert "Conversation ID: user123_session456" in out
    (path,) = (opi_home / "sessions").glob("*/*_user123_session456.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert (
        lines[0]["type"] == "session" and lines[0]["id"] == "user123_session456" and lines[0]["version"] == 3
    )
    roles = [e["message"]["role"] for e in lines[1:] if e["type"] == "message"]
    assert roles == ["user", "assistant", "user", "assistant"]


def test_a_library_conversation_resumes_in_the_cli(opi_home: Path, workdir: Path) -> None:
    with MockLLM({"responses": [*PERSISTENCE_SCRIPT, text("Continued in the CLI.")]}) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url + "/v1", "OPI_EXAMPLE_STORE": "jsonl", "OPI_EXAMPLE_KEEP": "1"}
        run_example("persistence.py", env, cwd=workdir)
        proc = run_opi(
            ["resume", "user123_session456", "-p", "--model", "gpt-4o", "And now?"],
            cwd=workdir,
            env={"OPENAI_API_KEY": "sk-example", "OPENAI_BASE_URL": srv.base_url + "/v1"},
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "Continued in the CLI."
        contents = [m.get("content") for m in srv.requests[2]["body"]["messages"]]
    assert "Tell me about Rust programming." in contents and "The borrow checker." in contents


def test_realtime() -> None:
    script = [
        session_created(),
        *session_updated(),
        {"expect": "response.create"},
        *function_call_response("r1", [("call_1", "get_weather", '{"location": "Paris"}')]),
        {"expect": "response.create"},
        *text_response("r2", "It is sunny in Paris."),
    ]
    with RealtimeServer([script]) as srv:
        out = run_example("realtime.py", {"OPI_REALTIME_URL": srv.url})
        received = srv.received(0)
        headers = srv.connections[0]["headers"]
    assert out.splitlines() == [
        "[tool] get_weather -> The weather in Paris is sunny and 72°F",
        "It is sunny in Paris.",
        "[done] completed",
    ]
    assert headers["authorization"] == "Bearer sk-example"
    assert [e["type"] for e in received] == [
        "session.update",
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    assert received[3]["item"] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": "The weather in Paris is sunny and 72°F",
    }


def test_a_cli_session_continues_in_the_library(opi_home: Path, workdir: Path) -> None:
    import asyncio

    from opi_cli import AgentBuilder, Config, JsonlStore

    with MockLLM({"responses": [text("Hi from the CLI."), text("Library continues.")]}) as srv:
        proc = run_opi(
            ["--json", "--model", "gpt-4o", "--no-tools", "Hello CLI"],
            cwd=workdir,
            env={"OPENAI_API_KEY": "sk-example", "OPENAI_BASE_URL": srv.base_url + "/v1"},
        )
        assert proc.returncode == 0, proc.stderr
        session_id = json.loads(proc.stdout.splitlines()[0])["id"]

        async def continue_it() -> str:
            config = (
                Config().with_api_key("sk-example").with_model("gpt-4o").with_base_url(srv.base_url + "/v1")
            )
            agent = (
                AgentBuilder(env={})
                .with_config(config)
                .with_persistence(JsonlStore(opi_home / "sessions"))
                .build()
            )
            return await agent.run_with_id(session_id, "And the library?")

        assert asyncio.run(continue_it()) == "Library continues."
        contents = [m.get("content") for m in srv.requests[1]["body"]["messages"]]
    assert contents[-3:] == ["Hello CLI", "Hi from the CLI.", "And the library?"]
    (path,) = (opi_home / "sessions").glob(f"*/*_{session_id}.jsonl")
    roles = [
        e["message"]["role"]
        for e in map(json.loads, path.read_text().splitlines()[1:])
        if e["type"] == "message"
    ]
    assert roles == ["user", "assistant", "user", "assistant"]


def test_rpc_client(workdir: Path) -> None:
    """The ~30-line client of docs/rpc.md drives the real `opi --mode rpc` through a tool call."""
    (workdir / "a.txt").write_text("hi\n")
    script = {"responses": [call("bash", {"command": "ls"}), text("One file: a.txt.")]}
    with MockLLM(script) as srv:
        out = run_example("rpc_client.py", cwd=workdir, args=(
            "--base-url", srv.base_url + "/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "x", "--model", "mock-model", "--no-session"))
        second = json.dumps(srv.requests[1]["body"]["messages"])
    assert "a.txt" in second  # the tool really ran
    head, stats = out.rstrip("\n").rsplit("\n", 1)
    assert head == "One file: a.txt."
    assert stats.startswith("2 replies, 1 tool calls, ") and stats.endswith(" tokens")


def test_mcp_tools() -> None:
    out, reqs = with_mock("mcp_tools.py", [
        call("mcp__notes__add_note", {"text": "the meeting moved to 3pm"}),
        text("Noted: the meeting is at 3pm."),
    ])
    assert out == "Noted: the meeting is at 3pm.\nMCP tools: mcp__notes__add_note, mcp__notes__list_notes\n"
    assert [t["function"]["name"] for t in reqs[0]["body"]["tools"]] == ["mcp__notes__add_note", "mcp__notes__list_notes"]
    assert reqs[1]["body"]["messages"][-1]["content"] == "Saved note #1: the meeting moved to 3pm"
