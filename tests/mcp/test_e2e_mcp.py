"""The real ``opi --json`` with MCP servers (FastMCP) against the mock LLM: tools, failures, list changes."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, run_opi, wait_until
from tests.mcp.conftest import (
    HttpServer,
    events,
    llm_args,
    result_text,
    stdio_entry,
    tool_ends,
    tool_names,
    write_settings,
)
from tests.mock_llm import MockLLM


def _call(tool: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": tool, "arguments": args, "id": cid}}]}


def _run(workdir: Path, script: dict[str, Any], *extra: str) -> tuple[Any, list[dict[str, Any]]]:
    with MockLLM(script) as srv:
        proc = run_opi(["--json", *llm_args(srv.base_url, *extra), "go"], cwd=workdir)
        requests = srv.requests
    return proc, requests


def _status_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("opi: MCP server")]


def test_stdio_tool_result_reaches_the_next_request(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry()})
    script = {"responses": [_call("mcp__fx__add", {"a": 2, "b": 40}, "c1"), {"steps": [{"text": "42"}]}]}
    proc, requests = _run(workdir, script)
    assert proc.returncode == 0, proc.stderr
    first_tools = {t["function"]["name"]: t["function"] for t in requests[0]["body"]["tools"]}
    assert "mcp__fx__add" in first_tools and "read" in first_tools  # MCP tools join the built-in ones
    schema = first_tools["mcp__fx__add"]["parameters"]
    assert schema["properties"]["a"]["type"] == "integer" and schema["required"] == ["a", "b"]  # passed through
    tool_msg = requests[1]["body"]["messages"][-1]
    assert tool_msg["role"] == "tool" and json.loads(tool_msg["content"]) == {"sum": 42}
    end = tool_ends(proc.stdout)["c1"]
    assert end["isError"] is False and end["result"]["details"]["structuredContent"] == {"sum": 42}
    # the server's stderr went to its log file, never to the screen
    assert "fixture server starting" not in proc.stderr + proc.stdout
    assert "fixture server starting" in (opi_home / "logs" / "mcp" / "fx.log").read_text()
    assert not _status_lines(proc.stderr)


def test_streamable_http_and_sse_servers(workdir: Path, opi_home: Path, http_server: Callable[..., HttpServer]) -> None:
    http, sse = http_server("http"), http_server("sse")
    write_settings(opi_home, {"web": {"type": "http", "url": http.url},
                              "old": {"type": "sse", "url": "${OLD_URL}"}})
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "mcp__web__echo", "arguments": {"text": "over http"}, "id": "h"}},
                   {"tool_call": {"name": "mcp__old__echo", "arguments": {"text": "over sse"}, "id": "s"}}]},
        {"steps": [{"text": "done"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(["--json", *llm_args(srv.base_url), "go"], cwd=workdir, env={"OLD_URL": sse.url})
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    sent = [m["content"] for m in requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert sent == ["echo: over http", "echo: over sse"]


def test_a_server_that_crashes_mid_call_is_reported_and_restarted(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry()})
    script = {"responses": [_call("mcp__fx__pid", {}, "p1"), _call("mcp__fx__crash", {}, "boom"),
                            _call("mcp__fx__pid", {}, "p2"), {"steps": [{"text": "ok"}]}]}
    proc, requests = _run(workdir, script)
    assert proc.returncode == 0, proc.stderr
    ends = tool_ends(proc.stdout)
    assert ends["boom"]["isError"] is True
    assert result_text(ends["boom"]) == ("The MCP server 'fx' failed during the call to crash (exited with code 3); "
                                         "it is restarted on the next call.")
    assert requests[2]["body"]["messages"][-1]["content"] == result_text(ends["boom"])  # the model read it
    assert ends["p2"]["isError"] is False and result_text(ends["p1"]) != result_text(ends["p2"])  # a new process
    lines = _status_lines(proc.stderr)
    assert len(lines) == 1 and "stopped (exited with code 3); it restarts on the next call" in lines[0]
    assert "about to crash" not in proc.stderr and "about to crash" in (opi_home / "logs/mcp/fx.log").read_text()


def test_a_call_that_never_answers_times_out_and_is_cancelled(workdir: Path, opi_home: Path, tmp_path: Path) -> None:
    cancel_log = tmp_path / "cancelled.jsonl"
    write_settings(opi_home, {"fx": stdio_entry("--cancel-log", str(cancel_log))}, mcp={"toolTimeoutMs": 1500})
    script = {"responses": [_call("mcp__fx__sleepy", {}, "z"), _call("mcp__fx__echo", {"text": "still here"}, "e"),
                            {"steps": [{"text": "ok"}]}]}
    proc, _ = _run(workdir, script)
    assert proc.returncode == 0, proc.stderr
    ends = tool_ends(proc.stdout)
    assert ends["z"]["isError"] is True
    assert "did not answer within 1.5 s; the call was cancelled" in result_text(ends["z"])
    assert result_text(ends["e"]) == "echo: still here"  # the server answered a ping: it was kept
    logged = [json.loads(x) for x in cancel_log.read_text().splitlines()]
    assert logged == [{"started": "sleepy"}, {"cancelled": "sleepy"}]  # our notifications/cancelled reached it
    assert not _status_lines(proc.stderr)


def test_a_frozen_server_is_stopped_and_restarted(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry()}, mcp={"toolTimeoutMs": 1000})
    script = {"responses": [_call("mcp__fx__pid", {}, "p1"), _call("mcp__fx__freeze", {}, "f"),
                            _call("mcp__fx__pid", {}, "p2"), {"steps": [{"text": "ok"}]}]}
    proc, _ = _run(workdir, script)
    assert proc.returncode == 0, proc.stderr
    ends = tool_ends(proc.stdout)
    assert "did not answer within 1 s" in result_text(ends["f"])
    lines = _status_lines(proc.stderr)
    assert len(lines) == 1 and "stopped answering (a call timed out and a ping got no answer)" in lines[0]
    assert ends["p2"]["isError"] is False and result_text(ends["p1"]) != result_text(ends["p2"])


def test_a_server_that_writes_garbage_gets_a_clear_error(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry()})
    script = {"responses": [_call("mcp__fx__garbage", {}, "g"), _call("mcp__fx__echo", {"text": "again"}, "e"),
                            {"steps": [{"text": "ok"}]}]}
    proc, _ = _run(workdir, script)
    assert proc.returncode == 0, proc.stderr
    ends = tool_ends(proc.stdout)
    assert result_text(ends["g"]) == ("The MCP server 'fx' failed during the call to garbage (wrote invalid JSON "
                                      "on stdout: 'this is not json'); it is restarted on the next call.")
    assert result_text(ends["e"]) == "echo: again"
    lines = _status_lines(proc.stderr)
    assert len(lines) == 1 and "wrote invalid JSON on stdout" in lines[0]


def test_a_changed_tool_list_reaches_the_next_request(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry()})
    script = {"responses": [_call("mcp__fx__grow", {}, "g"), _call("mcp__fx__extra", {"word": "hi"}, "x"),
                            {"steps": [{"text": "ok"}]}]}
    proc, requests = _run(workdir, script)
    assert proc.returncode == 0, proc.stderr
    assert "mcp__fx__extra" not in tool_names(requests[0])
    assert "mcp__fx__extra" in tool_names(requests[1])  # notifications/tools/list_changed, before the next request
    assert result_text(tool_ends(proc.stdout)["x"]) == "extra: hi"


def test_servers_start_in_the_background_and_the_first_request_waits_only_so_long(
    workdir: Path, opi_home: Path
) -> None:
    # tiny starts in milliseconds, slow never within the run: the first request waits 5 s at most
    write_settings(opi_home, {"tiny": stdio_entry(module="tests.mcp.tiny_server"),
                              "slow": stdio_entry("--delay-start", "600", module="tests.mcp.tiny_server"),
                              "missing": {"command": "no-such-mcp-server-binary"}},
                   mcp={"startupWaitMs": 5000})
    proc, requests = _run(workdir, {"responses": [{"steps": [{"text": "hello"}]}]})
    assert proc.returncode == 0, proc.stderr
    names = tool_names(requests[0])
    assert "mcp__tiny__hello" in names and not any(n.startswith("mcp__slow__") for n in names)
    lines = _status_lines(proc.stderr)
    assert len(lines) == 1 and "MCP server 'missing' failed to start (command not found: no-such-mcp-server-binary" \
        in lines[0]
    # the server still starting when opi ended was stopped with it (it runs in its own session)
    pid = int(re.search(r"--- pid (\d+)", (opi_home / "logs" / "mcp" / "slow.log").read_text())[1])
    wait_until(lambda: not _alive(pid), timeout=10, what=f"the slow server (pid {pid}) to be gone")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_env_expansion_and_results_mapping(workdir: Path, opi_home: Path) -> None:
    entry = stdio_entry()
    entry["env"].update({"GREETING": "${FX_GREETING:-hello}", "TOKEN": "${FX_TOKEN}"})
    write_settings(opi_home, {"fx": entry})
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "mcp__fx__getenv", "arguments": {"name": "GREETING"}, "id": "g"}},
                   {"tool_call": {"name": "mcp__fx__getenv", "arguments": {"name": "TOKEN"}, "id": "t"}},
                   {"tool_call": {"name": "mcp__fx__picture", "arguments": {}, "id": "img"}},
                   {"tool_call": {"name": "mcp__fx__note", "arguments": {}, "id": "n"}},
                   {"tool_call": {"name": "mcp__fx__fail", "arguments": {"reason": "because"}, "id": "f"}}]},
        {"steps": [{"text": "ok"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(["--json", *llm_args(srv.base_url), "go"], cwd=workdir, env={"FX_TOKEN": "s3cret"})
    assert proc.returncode == 0, proc.stderr
    ends = tool_ends(proc.stdout)
    assert result_text(ends["g"]) == "hello" and result_text(ends["t"]) == "s3cret"
    assert ends["img"]["result"]["content"][0]["type"] == "image"
    assert ends["img"]["result"]["content"][0]["mimeType"] == "image/png"
    assert result_text(ends["n"]) == '<resource uri="notes://today" mimeType="text/plain">\nbuy milk\n</resource>'
    assert ends["f"]["isError"] is True and "cannot do it: because" in result_text(ends["f"])


def test_resource_reference_in_a_prompt(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry()})
    with MockLLM({"responses": [{"steps": [{"text": "read it"}]}]}) as srv:
        proc = run_opi(["-p", *llm_args(srv.base_url), "@fx:notes://today", "what do they say? (as in @fx:notes://today.)"],
                       cwd=workdir)
        sent = srv.requests[0]["body"]["messages"][-1]["content"]
    assert proc.returncode == 0, proc.stderr
    assert sent.count('<resource server="fx" uri="notes://today">\n<resource uri="notes://today"') == 2
    assert "NOTES: water the plants" in sent and sent.rstrip().endswith("what do they say? (as in @fx:notes://today.)")


def test_a_reference_to_an_unknown_server_is_one_clear_line(workdir: Path, opi_home: Path) -> None:
    with MockLLM({"responses": [{"steps": [{"text": "never"}]}]}) as srv:
        proc = run_opi(["-p", *llm_args(srv.base_url), "@nope:notes://x"], cwd=workdir)
        assert srv.requests == []
    assert proc.returncode == 2
    assert proc.stderr.strip() == "opi: @nope:notes://x: no MCP server is configured (see `opi mcp add`)."


def test_project_servers_need_approval(workdir: Path, opi_home: Path) -> None:
    (workdir / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": stdio_entry()}}))
    (workdir / ".opi").mkdir()
    # a repository cannot approve its own servers
    (workdir / ".opi" / "settings.json").write_text(json.dumps({"enableAllProjectMcpServers": True}))
    script = {"responses": [{"steps": [{"text": "one"}]}, {"steps": [{"text": "two"}]}]}
    with MockLLM(script) as srv:
        before = run_opi(["--json", *llm_args(srv.base_url), "go"], cwd=workdir)
        approve = run_opi(["mcp", "approve", "proj"], cwd=workdir)
        after = run_opi(["--json", *llm_args(srv.base_url), "go"], cwd=workdir)
        requests = srv.requests
    assert before.returncode == 0 and approve.returncode == 0 and after.returncode == 0, after.stderr
    assert not any(n.startswith("mcp__proj__") for n in tool_names(requests[0]))
    assert _status_lines(before.stderr) == [
        f"opi: MCP server 'proj' from {workdir / '.mcp.json'} was not started: project servers need approval "
        "(`opi mcp approve proj`, or answer the question in `opi`)"
    ]
    assert "mcp__proj__echo" in tool_names(requests[1])
    # a changed entry is a new question
    (workdir / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": stdio_entry("--name", "changed")}}))
    again = run_opi(["mcp", "list", "--no-check"], cwd=workdir)
    assert "needs approval (opi mcp approve proj)" in again.stdout


def test_no_events_change_without_mcp(workdir: Path) -> None:
    with MockLLM({"responses": [{"steps": [{"text": "plain"}]}]}) as srv:
        proc = run_opi(["--json", *llm_args(srv.base_url), "go"], cwd=workdir)
        names = tool_names(srv.requests[0])
    assert proc.returncode == 0 and proc.stderr == ""
    assert not any(n.startswith("mcp__") for n in names)
    assert [e["type"] for e in events(proc.stdout)][-1] == "session_summary"


def test_the_readme_example_works(opi_home: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## External tools (MCP)")[1].split("```json\n")[1].split("```")[0]
    write_settings(opi_home, {"notes": json.loads(block)["mcpServers"]["notes"]})
    script = {"responses": [_call("mcp__notes__add_note", {"text": "meeting at 3pm"}, "n"),
                            {"steps": [{"text": "saved"}]}, {"steps": [{"text": "empty list"}]}]}
    with MockLLM(script) as srv:
        first = run_opi(["-p", *llm_args(srv.base_url), "remember that the meeting moved to 3pm"], cwd=ROOT)
        second = run_opi(["-p", *llm_args(srv.base_url), "@notes:notes://all", "what is on my list?"], cwd=ROOT)
        requests = srv.requests
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == "saved\n" and second.stdout == "empty list\n"
    assert requests[1]["body"]["messages"][-1]["content"] == "Saved note #1: meeting at 3pm"
    assert "(no notes yet)" in requests[2]["body"]["messages"][-1]["content"]


def test_no_tools_starts_no_server(workdir: Path, opi_home: Path) -> None:
    write_settings(opi_home, {"tiny": stdio_entry(module="tests.mcp.tiny_server")})
    proc, requests = _run(workdir, {"responses": [{"steps": [{"text": "bare"}]}]}, "--no-tools")
    assert proc.returncode == 0, proc.stderr
    assert "tools" not in requests[0]["body"] or not requests[0]["body"]["tools"]
    assert not (opi_home / "logs" / "mcp" / "tiny.log").exists()
