"""Issue 16 end to end, headless: approval modes and rules, the bash sandbox, the cost ceiling.

The real ``opi`` process against the scripted mock LLM server, with files on disk.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_opi
from tests.mock_llm import MockLLM
from tests.outside import outside_folder
from tests.test_e2e_cli import events_of, validate_all


def bash_script(*commands: str, final: str = "done") -> dict[str, Any]:
    calls = [{"steps": [{"tool_call": {"name": "bash", "arguments": {"command": c}, "id": f"c{i}"}}]}
             for i, c in enumerate(commands)]
    return {"responses": [*calls, {"steps": [{"text": final}]}]}


def run(srv: MockLLM, cwd: Path, *extra: str, message: str = "go") -> tuple[int, list[dict[str, Any]], str]:
    args = ["--json", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "x", "--model", "m", *extra, message]
    proc = run_opi(args, cwd=cwd)
    events = events_of(proc.stdout)
    validate_all(events)
    return proc.returncode, events, proc.stderr


def results(events: list[dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    return {e["toolCallId"]: (e["isError"], e["result"]["content"][0]["text"])
            for e in events if e["type"] == "tool_execution_end"}


def denials(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "permission_denied"]


def settings(folder: Path, **values: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(values))


# -- approval modes ----------------------------------------------------------------------------


def test_headless_default_stays_yolo(workdir: Path) -> None:
    with MockLLM(bash_script("touch made.txt")) as srv:
        code, events, _ = run(srv, workdir)
    assert code == 0 and (workdir / "made.txt").exists()
    assert not denials(events)


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_auto_headless_denies_bash_and_reports_it(workdir: Path, opi_home: Path, how: str) -> None:
    extra: tuple[str, ...] = ("--approval", "auto") if how == "flag" else ()
    if how == "setting":
        settings(opi_home, defaultApproval="auto")
    with MockLLM(bash_script("touch made.txt")) as srv:
        code, events, _ = run(srv, workdir, *extra)
        second = srv.requests[1]["body"]["messages"][-1]
    assert code == 0
    assert not (workdir / "made.txt").exists()
    (d,) = denials(events)
    assert d["toolName"] == "bash" and d["deniedBy"] == "non_interactive" and d["toolCallId"] == "c0"
    is_error, text = results(events)["c0"]
    assert is_error and text.startswith("Permission denied") and "touch made.txt" in text
    assert second["role"] == "tool" and "Permission denied" in second["content"]
    assert [e["type"] for e in events].index("permission_denied") < [e["type"] for e in events].index(
        "tool_execution_end")


def test_print_mode_says_on_stderr_which_calls_were_refused(workdir: Path) -> None:
    with MockLLM(bash_script("touch made.txt", final="I could not run it")) as srv:
        proc = run_opi(["-p", "--approval", "auto", "--base-url", f"{srv.base_url}/v1", "--provider", "openai",
                        "--api", "openai-completions", "--api-key", "x", "--model", "m", "go"], cwd=workdir)
    assert proc.returncode == 0 and proc.stdout == "I could not run it\n"
    assert proc.stderr == "opi: bash call refused: needs approval: no rule allows: touch made.txt\n"


def test_auto_headless_lets_edits_inside_the_folder_run_and_refuses_outside(workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "write", "id": "w1", "arguments": {"path": "in.txt", "content": "in\n"}}},
                   {"tool_call": {"name": "write", "id": "w2", "arguments": {"path": str(outside), "content": "x"}}}]},
        {"steps": [{"tool_call": {"name": "read", "id": "r1", "arguments": {"path": "in.txt"}}}]},
        {"steps": [{"text": "ok"}]},
    ]}
    with MockLLM(script) as srv:
        code, events, _ = run(srv, workdir, "--approval", "auto")
    assert code == 0
    assert (workdir / "in.txt").read_text() == "in\n" and not outside.exists()
    r = results(events)
    assert not r["w1"][0] and r["w2"][0] and not r["r1"][0]
    assert [d["toolCallId"] for d in denials(events)] == ["w2"]


def test_read_only_runs_reads_and_refuses_the_rest(workdir: Path) -> None:
    (workdir / "a.txt").write_text("hello\n")
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "read", "id": "r1", "arguments": {"path": "a.txt"}}},
                   {"tool_call": {"name": "edit", "id": "e1", "arguments": {
                       "path": "a.txt", "oldText": "hello", "newText": "bye"}}},
                   {"tool_call": {"name": "bash", "id": "b1", "arguments": {"command": "touch x"}}}]},
        {"steps": [{"text": "ok"}]},
    ]}
    with MockLLM(script) as srv:
        code, events, _ = run(srv, workdir, "--approval", "read-only", "--tools", "read,edit,bash")
    assert code == 0
    assert (workdir / "a.txt").read_text() == "hello\n" and not (workdir / "x").exists()
    r = results(events)
    assert not r["r1"][0] and "hello" in r["r1"][1]
    assert r["e1"][0] and "read-only" in r["e1"][1]
    assert {d["toolCallId"]: d["deniedBy"] for d in denials(events)} == {"e1": "mode", "b1": "mode"}


def test_bad_approval_values_exit_2(workdir: Path, opi_home: Path) -> None:
    proc = run_opi(["-p", "--approval", "sometimes", "hi"], cwd=workdir)
    assert proc.returncode == 2 and "Unknown --approval 'sometimes'" in proc.stderr and "Traceback" not in proc.stderr
    settings(opi_home, defaultApproval="never")
    proc = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "x", "hi"], cwd=workdir)
    assert proc.returncode == 2 and "settings.json:1: defaultApproval: must be one of yolo, auto, read-only" in proc.stderr


# -- rules -------------------------------------------------------------------------------------


def test_allow_rules_cover_every_command_of_a_chain(workdir: Path, opi_home: Path) -> None:
    settings(opi_home, permissions={"allow": ["Bash(touch:*)", "Bash(ls)"]})
    with MockLLM(bash_script("touch a.txt && ls", "touch b.txt && rm a.txt", "touch c.txt; $(rm a.txt)")) as srv:
        code, events, _ = run(srv, workdir, "--approval", "auto")
    assert code == 0
    assert (workdir / "a.txt").exists() and not (workdir / "b.txt").exists() and not (workdir / "c.txt").exists()
    r = results(events)
    assert not r["c0"][0]
    assert r["c1"][0] and "no rule allows: rm a.txt" in r["c1"][1]
    assert r["c2"][0] and "command substitution" in r["c2"][1]


def test_deny_wins_in_yolo_and_project_rules_add_to_the_users(workdir: Path, opi_home: Path) -> None:
    settings(opi_home, permissions={"deny": ["Bash(rm:*)", "Write(/etc/**)"]})
    settings(workdir / ".opi", permissions={"allow": ["Bash"], "deny": ["Edit(secrets/**)"]})
    (workdir / "keep.txt").write_text("keep")
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "bash", "id": "b1", "arguments": {"command": "ls && sudo rm keep.txt"}}},
                   {"tool_call": {"name": "write", "id": "w1", "arguments": {"path": "secrets/k", "content": "x"}}},
                   {"tool_call": {"name": "bash", "id": "b2", "arguments": {"command": "echo ok > ok.txt"}}}]},
        {"steps": [{"text": "ok"}]},
    ]}
    with MockLLM(script) as srv:
        code, events, _ = run(srv, workdir, "--approval", "yolo")
    assert code == 0
    assert (workdir / "keep.txt").exists() and not (workdir / "secrets").exists() and (workdir / "ok.txt").exists()
    by_id = {d["toolCallId"]: d for d in denials(events)}
    assert by_id["b1"]["deniedBy"] == "rule" and by_id["b1"]["rule"] == "Bash(rm:*)"
    assert by_id["w1"]["rule"] == "Edit(secrets/**)"
    assert "b2" not in by_id


def test_a_malformed_rule_is_a_clear_error_naming_the_file(workdir: Path, opi_home: Path) -> None:
    settings(opi_home, permissions={"allow": ["Bash(git status"]})
    proc = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "x", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "settings.json: permissions.allow: 'Bash(git status' is not a permission rule" in proc.stderr
    assert "Traceback" not in proc.stderr
    settings(opi_home, permissions={"allow": "Bash"})
    proc = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "x", "hi"], cwd=workdir)
    assert proc.returncode == 2 and "settings.json:1: permissions.allow: must be a list" in proc.stderr


# -- sandbox -----------------------------------------------------------------------------------


@pytest.fixture
def outside_dir() -> Iterator[Path]:
    """A folder outside the working folder and outside every temp folder (the sandbox may
    write to those), wherever the checkout lives; removed afterwards."""
    with outside_folder() as path:
        yield path


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback that accepts connections."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        server.close()


def escape_commands(outside: Path, port: int) -> tuple[str, ...]:
    connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=10); print('CONNECTED')"
    return (
        "echo inside > inside.txt && cat inside.txt",
        f"echo escaped > {outside}/escaped.txt",
        f"python3 -c \"{connect}\"",
    )


def test_workspace_write_sandbox_refuses_writes_outside_and_the_network(
    workdir: Path, outside_dir: Path, listener: int
) -> None:
    with MockLLM(bash_script(*escape_commands(outside_dir, listener))) as srv:
        code, events, stderr = run(srv, workdir, "--sandbox", "workspace-write")
    assert "cannot run here" not in stderr, (
        "The bubblewrap sandbox cannot run on this machine; install Debian's bubblewrap package "
        f"(and allow user namespaces). opi said: {stderr.strip()}")
    assert code == 0
    r = results(events)
    assert not r["c0"][0] and "inside" in r["c0"][1]
    assert (workdir / "inside.txt").read_text() == "inside\n"
    assert r["c1"][0] and "Read-only file system" in r["c1"][1]
    assert not (outside_dir / "escaped.txt").exists()
    assert r["c2"][0] and "CONNECTED" not in r["c2"][1]


def test_read_only_sandbox_refuses_every_write(workdir: Path) -> None:
    with MockLLM(bash_script("echo x > inside.txt", "cat /etc/hostname > /dev/null && echo READ")) as srv:
        code, events, stderr = run(srv, workdir, "--sandbox", "read-only")
    assert "cannot run here" not in stderr, stderr
    assert code == 0
    r = results(events)
    assert r["c0"][0] and "Read-only file system" in r["c0"][1] and not (workdir / "inside.txt").exists()
    assert not r["c1"][0] and "READ" in r["c1"][1]


def test_the_same_commands_succeed_without_the_sandbox(workdir: Path, outside_dir: Path, listener: int) -> None:
    with MockLLM(bash_script(*escape_commands(outside_dir, listener))) as srv:
        code, events, _ = run(srv, workdir, "--sandbox", "off")
    assert code == 0
    r = results(events)
    assert not any(err for err, _ in r.values()), r
    assert (outside_dir / "escaped.txt").read_text() == "escaped\n"
    assert "CONNECTED" in r["c2"][1]


def test_an_unavailable_sandbox_is_said_in_one_line_and_bash_is_refused(workdir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    import os

    env = {"PATH": f"{fake}:{os.environ['PATH']}"}
    with MockLLM(bash_script("touch made.txt")) as srv:
        args = ["--json", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
                "openai-completions", "--api-key", "x", "--model", "m", "--sandbox", "workspace-write", "go"]
        proc = run_opi(args, cwd=workdir, env=env)
    lines = [x for x in proc.stderr.splitlines() if "sandbox" in x]
    assert len(lines) == 1 and "cannot run here (bwrap failed: bwrap: No permissions" in lines[0]
    assert not (workdir / "made.txt").exists()
    r = results(events_of(proc.stdout))
    assert r["c0"][0] and "sandbox cannot run on this machine" in r["c0"][1]


def test_sandbox_setting_and_bad_values(workdir: Path, opi_home: Path, outside_dir: Path) -> None:
    settings(opi_home, sandbox="workspace-write")
    with MockLLM(bash_script(f"echo escaped > {outside_dir}/escaped.txt")) as srv:
        code, events, stderr = run(srv, workdir)
    assert "cannot run here" not in stderr, stderr
    assert code == 0 and results(events)["c0"][0] and not (outside_dir / "escaped.txt").exists()
    proc = run_opi(["-p", "--sandbox", "sometimes", "hi"], cwd=workdir)
    assert proc.returncode == 2 and "Unknown --sandbox 'sometimes'" in proc.stderr


# -- cost ceiling ------------------------------------------------------------------------------


def priced_models(opi_home: Path, srv: MockLLM) -> None:
    (opi_home / "models.json").write_text(json.dumps({"providers": {"mockp": {
        "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
        "models": [{"id": "priced", "cost": {"input": 1000, "output": 1000, "cacheRead": 0, "cacheWrite": 0}}],
    }}}))


def costly_script() -> dict[str, Any]:
    usage = {"input": 100, "output": 10, "cache_read": 0, "cache_write": 0}  # $0.11 a reply at $1000/M
    call = {"steps": [{"tool_call": {"name": "ls", "arguments": {}}}], "usage": usage}
    return {"responses": [call, call, call, {"steps": [{"text": "finished"}], "usage": usage}]}


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_the_cost_ceiling_stops_a_scripted_run(workdir: Path, opi_home: Path, how: str) -> None:
    with MockLLM(costly_script()) as srv:
        priced_models(opi_home, srv)
        extra = ["--max-cost", "0.2"] if how == "flag" else []
        if how == "setting":
            settings(opi_home, maxCostUsd=0.2)
        proc = run_opi(["--json", "--model", "mockp/priced", *extra, "list"], cwd=workdir)
        requests = len(srv.requests)
    events = events_of(proc.stdout)
    validate_all(events)
    assert requests == 2  # $0.11 after one reply, $0.22 after two: the third is never sent
    assert proc.returncode == 1
    summary = events[-1]
    assert summary["type"] == "session_summary" and summary["stopReason"] == "max_cost" and summary["exitCode"] == 1
    assert summary["errorMessage"].startswith("Cost ceiling reached: $0.2200 spent of the $0.2000 allowed")
    assert summary["cost"]["total"] == pytest.approx(0.22)
    assert "opi: Cost ceiling reached" in proc.stderr and "Traceback" not in proc.stderr


def test_a_run_under_the_ceiling_is_unaffected(workdir: Path, opi_home: Path) -> None:
    with MockLLM(costly_script()) as srv:
        priced_models(opi_home, srv)
        proc = run_opi(["-p", "--model", "mockp/priced", "--max-cost", "5", "list"], cwd=workdir)
    assert proc.returncode == 0 and proc.stdout.strip() == "finished"


def test_bad_ceilings_exit_2(workdir: Path, opi_home: Path) -> None:
    proc = run_opi(["-p", "--max-cost", "0", "hi"], cwd=workdir)
    assert proc.returncode == 2 and "--max-cost must be a positive number" in proc.stderr
    settings(opi_home, maxCostUsd="lots")
    proc = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "x", "hi"], cwd=workdir)
    assert proc.returncode == 2 and "settings.json:1: maxCostUsd: must be a number" in proc.stderr


# -- rewind snapshots --------------------------------------------------------------------------


def test_a_snapshot_that_cannot_be_stored_is_said_on_stderr(workdir: Path, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    (sessions / "file-snapshots").write_text("not a folder")  # where the blobs would go
    (workdir / "a.txt").write_text("before\n")
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "write", "id": "w1", "arguments": {"path": "a.txt", "content": "after\n"}}}]},
        {"steps": [{"text": "ok"}]},
    ]}
    with MockLLM(script) as srv:
        code, events, stderr = run(srv, workdir, "--session-dir", str(sessions))
    assert code == 0 and not results(events)["w1"][0]  # the edit still runs
    assert (workdir / "a.txt").read_text() == "after\n"
    lines = [x for x in stderr.splitlines() if "snapshot" in x]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"opi: Cannot keep a snapshot of {workdir / 'a.txt'} for /undo and /rewind:")
