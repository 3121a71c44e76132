"""Settings hooks in the real `opi` process against the mock model (request log, files on disk)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import run_opi
from tests.customize.helpers import call, events, opi_args, system_prompt, text, tool_results, user_texts
from tests.mock_llm import MockLLM


def _settings(where: Path, hooks: dict[str, Any], **extra: Any) -> None:
    where.mkdir(parents=True, exist_ok=True)
    (where / "settings.json").write_text(json.dumps({"hooks": hooks, **extra}))


def _hook(command: str, matcher: str | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
    h: dict[str, Any] = {"type": "command", "command": command}
    if timeout is not None:
        h["timeout"] = timeout
    entry: dict[str, Any] = {"hooks": [h]}
    if matcher is not None:
        entry["matcher"] = matcher
    return [entry]


def test_pre_tool_use_blocks_bash_and_its_stderr_reaches_the_model(workdir: Path, opi_home: Path) -> None:
    guard = workdir / "guard.sh"
    guard.write_text(
        "#!/bin/sh\ncat > \"$CLAUDE_PROJECT_DIR/pre.json\"\n"
        "echo 'Refusing: deleting files is not allowed in this repo' >&2\nexit 2\n"
    )
    guard.chmod(0o755)
    _settings(opi_home, {"PreToolUse": _hook(str(guard), "Bash")})
    script = {"responses": [call("bash", {"command": "touch deleted.txt"}), text("Understood, I will not.")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "clean up", mode="--json"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert not (workdir / "deleted.txt").exists()  # the tool did not run
    results = tool_results(requests[1])
    assert results == ["Blocked by a PreToolUse hook: Refusing: deleting files is not allowed in this repo"]
    end = next(e for e in events(proc.stdout) if e["type"] == "tool_execution_end")
    assert end["isError"] is True
    pre = json.loads((workdir / "pre.json").read_text())
    assert pre["tool_name"] == "bash" and pre["tool_input"] == {"command": "touch deleted.txt"}
    assert pre["hook_event_name"] == "PreToolUse" and pre["cwd"] == str(workdir)
    header = events(proc.stdout)[0]
    assert pre["session_id"] == header["id"] and pre["transcript_path"].endswith(".jsonl")


def test_a_hook_that_fails_otherwise_is_reported_and_ignored(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, {"PreToolUse": _hook("echo 'linter crashed' >&2; exit 3")})
    script = {"responses": [call("bash", {"command": "touch ran.txt"}), text("done")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "go"), cwd=workdir)
    assert proc.returncode == 0 and proc.stdout == "done\n"
    assert (workdir / "ran.txt").exists()
    assert proc.stderr == "opi: PreToolUse hook `echo 'linter crashed' >&2; exit 3` exited with 3: linter crashed (ignored)\n"


def test_user_prompt_submit_blocks_the_prompt(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, {"UserPromptSubmit": _hook("grep -q password && { echo 'Prompt mentions a password' >&2; exit 2; }; exit 0")})
    with MockLLM({"responses": [text("never")]}) as srv:
        proc = run_opi(opi_args(srv, "my password is hunter2", mode="--json"), cwd=workdir)
        requests = srv.requests
    assert requests == []
    assert proc.returncode == 1
    assert "Prompt not sent: a UserPromptSubmit hook blocked it: Prompt mentions a password" in proc.stderr
    summary = events(proc.stdout)[-1]
    assert summary["type"] == "session_summary" and summary["exitCode"] == 1
    assert "hunter2" not in json.dumps(events(proc.stdout)[1:])


def test_prompt_and_session_start_context_reach_the_model(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, {
        "UserPromptSubmit": _hook("echo 'Current branch: feature/x'"),
        "SessionStart": _hook("echo 'This project uses uv, not pip.'", "startup"),
    })
    with MockLLM({"responses": [text("ok")]}) as srv:
        proc = run_opi(opi_args(srv, "install requests"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert user_texts(requests[0]) == ["install requests\nCurrent branch: feature/x"]  # two text parts
    prompt = system_prompt(requests[0])
    assert prompt.endswith(f"Current working directory: {workdir}\n\n# Session start context\n\n"
                           "This project uses uv, not pip.")


def test_stop_hook_keeps_the_agent_going_once(workdir: Path, opi_home: Path) -> None:
    check = (f"{sys.executable} -c \"import json,sys; d=json.load(sys.stdin); "
             "sys.stderr.write('Run the tests before you stop.'); sys.exit(0 if d['stop_hook_active'] else 2)\"")
    _settings(opi_home, {"Stop": _hook(check)})
    with MockLLM({"responses": [text("Done."), text("Tests pass. Done.")]}) as srv:
        proc = run_opi(opi_args(srv, "fix it"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Tests pass. Done.\n"
    assert len(requests) == 2
    assert user_texts(requests[1])[-1] == "Stop hook feedback:\nRun the tests before you stop."


def test_post_tool_use_exit_2_adds_stderr_to_the_result(workdir: Path, opi_home: Path) -> None:
    _settings(opi_home, {"PostToolUse": _hook("echo 'file is not formatted' >&2; exit 2", "write")})
    script = {"responses": [call("write", {"path": "a.py", "content": "x=1\n"}), text("ok")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "write"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "a.py").read_text() == "x=1\n"
    result = tool_results(requests[1])[0]
    assert result.startswith("Successfully wrote 4 bytes") and result.endswith("PostToolUse hook: file is not formatted")


def test_a_malformed_hooks_setting_is_one_line_and_exit_2(workdir: Path, opi_home: Path) -> None:
    settings = opi_home / "settings.json"
    cases = [
        ({"PreToolUse": [{"matcher": "bash", "hooks": [{"type": "command", "command": 42}]}]},
         f"opi: {settings}:1: hooks.PreToolUse[0].hooks[0].command: must be a string, not 42. "
         "Fix the file (it was not changed).\n"),
        ({"PreToolUse": [{"matcher": "bash", "hooks": [{"type": "command", "command": " "}]}]},
         f"opi: {settings}: hooks.PreToolUse[0].hooks[0]: 'command' must be a non-empty string.\n"),
        ({"Stop": [{"matcher": "[", "hooks": []}]},
         f"opi: {settings}: hooks.Stop[0]: matcher '[' is not a valid regular expression "
         "(unterminated character set at position 0).\n"),
    ]
    with MockLLM({"responses": [text("never")]}) as srv:
        for hooks, message in cases:
            _settings(opi_home, hooks)
            proc = run_opi(opi_args(srv, "hi"), cwd=workdir)
            assert (proc.returncode, proc.stderr) == (2, message)
        requests = srv.requests
    assert requests == []


def test_project_hooks_run_only_where_allowed(workdir: Path, opi_home: Path) -> None:
    _settings(workdir / ".opi", {"SessionStart": _hook("touch \"$OPI_PROJECT_DIR/ran\"")})
    with MockLLM({"responses": [text("one"), text("two")]}) as srv:
        refused = run_opi(opi_args(srv, "hi"), cwd=workdir)
        assert refused.returncode == 0 and not (workdir / "ran").exists()
        assert f"Hooks in {workdir / '.opi' / 'settings.json'} were not run" in refused.stderr
        (opi_home / "settings.json").write_text(json.dumps({"allowProjectCode": [str(workdir)]}))
        allowed = run_opi(opi_args(srv, "hi"), cwd=workdir)
    assert allowed.returncode == 0 and allowed.stderr == ""
    assert (workdir / "ran").exists()
