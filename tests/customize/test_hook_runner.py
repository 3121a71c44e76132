"""The settings-hooks runner on real processes: matchers, stdin JSON, exit codes, JSON output, timeouts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from opi_cli.agent.hooks import ToolCallContext
from opi_cli.agent.tool import text_result
from opi_cli.ai.types import ToolCall
from opi_cli.errors import ConfigError
from opi_cli.hooks.config import HookConfig, PythonHook, parse_hooks
from opi_cli.hooks.process import run_command
from opi_cli.hooks.runner import HookRunner


def _config(event: str, command: str, matcher: str | None = None, timeout: float | None = None) -> HookConfig:
    hook: dict[str, Any] = {"type": "command", "command": command}
    if timeout is not None:
        hook["timeout"] = timeout
    entry: dict[str, Any] = {"hooks": [hook]}
    if matcher is not None:
        entry["matcher"] = matcher
    return parse_hooks({event: [entry]}, "settings.json")


def _ctx(name: str = "bash", args: dict[str, Any] | None = None) -> ToolCallContext:
    args = args if args is not None else {"command": "ls"}
    return ToolCallContext(ToolCall("call_7", name, args), args, ())


def _runner(config: HookConfig, cwd: Path, notes: list[str]) -> HookRunner:
    runner = HookRunner(config, cwd=str(cwd), env=dict(os.environ), notify=notes.append)
    runner.bind(lambda: ("sess-1", "/tmp/s.jsonl"))
    return runner


@pytest.mark.parametrize(
    ("matcher", "tool", "runs"),
    [
        (None, "bash", True), ("*", "read", True), ("", "edit", True),
        ("bash", "bash", True), ("Bash", "bash", True), ("Edit|Write", "write", True),
        ("Edit|Write", "edit", True), ("Edit", "edit_file", False), ("mcp__.*", "mcp__fs__read", True),
        ("bash", "Bash", False), ("Glob", "find", True), ("read", "readme", False),
    ],
)
def test_matchers(matcher: str | None, tool: str, runs: bool) -> None:
    config = _config("PreToolUse", "true", matcher)
    assert bool(config.handlers("PreToolUse", tool)) is runs


def test_malformed_settings_name_the_entry() -> None:
    with pytest.raises(ConfigError, match=r"settings.json: hooks.PreToolUse\[0\]: matcher '\(' is not a valid"):
        _config("PreToolUse", "true", "(")
    with pytest.raises(ConfigError, match=r"hooks.Stop\[0\].hooks\[0\]: 'command' must be a non-empty string"):
        parse_hooks({"Stop": [{"hooks": [{"type": "command"}]}]}, "settings.json")
    with pytest.raises(ConfigError, match=r"'timeout' must be a positive number"):
        _config("Stop", "true", timeout=0)
    with pytest.raises(ConfigError, match=r"hooks.Stop: expected a list"):
        parse_hooks({"Stop": {"hooks": []}}, "settings.json")
    skipped = parse_hooks({"Notification": [], "Stop": [{"hooks": [{"type": "prompt", "prompt": "x"}]}]}, "s.json")
    assert not skipped and len(skipped.warnings) == 2
    assert "no 'Notification' event" in skipped.warnings[0] and "type 'prompt' is not supported" in skipped.warnings[1]


async def test_pre_tool_use_gets_claude_fields_and_exit_2_blocks(tmp_path: Path) -> None:
    notes: list[str] = []
    runner = _runner(_config("PreToolUse", "cat > seen.json; echo 'no rm here' >&2; exit 2"), tmp_path, notes)
    hooks = runner.agent_hooks()
    assert hooks is not None and hooks.before_tool_call is not None
    verdict = await hooks.before_tool_call(_ctx(args={"command": "rm -rf build"}))
    assert verdict is not None and verdict.block
    assert verdict.reason == "Blocked by a PreToolUse hook: no rm here"
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {
        "session_id": "sess-1", "transcript_path": "/tmp/s.jsonl", "cwd": str(tmp_path),
        "hook_event_name": "PreToolUse", "permission_mode": "default",
        "tool_name": "bash", "tool_input": {"command": "rm -rf build"}, "tool_use_id": "call_7",
    }
    assert notes == []


async def test_json_output_deny_allow_and_other_exit_codes(tmp_path: Path) -> None:
    deny = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                   "permissionDecisionReason": "secrets are off limits"}}
    notes: list[str] = []
    runner = _runner(_config("PreToolUse", f"echo '{json.dumps(deny)}'"), tmp_path, notes)
    verdict = await runner.agent_hooks().before_tool_call(_ctx())  # type: ignore[union-attr,misc]
    assert verdict is not None and verdict.reason == "Blocked by a PreToolUse hook: secrets are off limits"
    allow = {"hookSpecificOutput": {"permissionDecision": "allow"}, "systemMessage": "checked"}
    runner = _runner(_config("PreToolUse", f"echo '{json.dumps(allow)}'"), tmp_path, notes)
    assert await runner.agent_hooks().before_tool_call(_ctx()) is None  # type: ignore[union-attr,misc]
    assert notes == ["PreToolUse hook `echo '" + json.dumps(allow) + "'`: checked"]
    notes.clear()
    runner = _runner(_config("PreToolUse", "echo 'lint failed' >&2; exit 1"), tmp_path, notes)
    assert await runner.agent_hooks().before_tool_call(_ctx()) is None  # type: ignore[union-attr,misc]
    assert notes == ["PreToolUse hook `echo 'lint failed' >&2; exit 1` exited with 1: lint failed (ignored)"]


async def test_prompt_context_block_and_session_start(tmp_path: Path) -> None:
    notes: list[str] = []
    config = _config("UserPromptSubmit", "echo \"Current branch: main\"")
    config.extend(_config("SessionStart", "cat > start.json; echo 'Project uses uv'", "startup"))
    runner = _runner(config, tmp_path, notes)
    hooks = runner.session_hooks()
    assert hooks is not None and hooks.user_prompt_submit and hooks.session_start
    verdict = await hooks.user_prompt_submit("hi")
    assert verdict is not None and not verdict.block and verdict.context == "Current branch: main"
    assert await hooks.session_start("startup") == "Project uses uv"
    assert json.loads((tmp_path / "start.json").read_text())["source"] == "startup"
    assert await hooks.session_start("resume") is None  # the matcher is the source
    block = _runner(_config("UserPromptSubmit", "echo '{\"decision\": \"block\", \"reason\": \"no secrets\"}'"),
                    tmp_path, notes)
    verdict = await block.session_hooks().user_prompt_submit("my password is x")  # type: ignore[union-attr,misc]
    assert verdict is not None and verdict.block and verdict.reason == "no secrets"


async def test_post_tool_use_feedback_is_added_to_the_result(tmp_path: Path) -> None:
    notes: list[str] = []
    ctx = '{"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "formatted with ruff"}}'
    config = _config("PostToolUse", "cat > post.json; echo 'tests now fail' >&2; exit 2", "write")
    config.extend(_config("PostToolUse", f"echo '{ctx}'", "write"))
    runner = _runner(config, tmp_path, notes)
    change = await runner.agent_hooks().after_tool_call(  # type: ignore[union-attr,misc]
        _ctx("write", {"path": "a.py", "content": "x"}), text_result("Successfully wrote 1 bytes")
    )
    assert change is not None and change.content is not None
    texts = [c.text for c in change.content]  # type: ignore[attr-defined]
    assert texts[0] == "Successfully wrote 1 bytes"
    assert texts[1] == "\n\nPostToolUse hook: tests now fail\n\nformatted with ruff"
    post = json.loads((tmp_path / "post.json").read_text())
    assert post["tool_response"] == {"content": "Successfully wrote 1 bytes", "isError": False, "details": None}


async def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    result = await run_command("sleep 300 & echo $! > child.pid; wait", b"{}", cwd=str(tmp_path), env=None, timeout=1)
    assert result.timed_out and result.exit_code is None and "timed out after 1 s" in (result.error or "")
    pid = int((tmp_path / "child.pid").read_text())
    status = Path(f"/proc/{pid}/status")
    if status.exists():  # a zombie waiting for a reaper is dead too
        assert "State:\tZ" in status.read_text()


async def test_timeouts_and_failures_are_reported_not_raised(tmp_path: Path) -> None:
    notes: list[str] = []
    runner = _runner(_config("Stop", "sleep 30", timeout=0.5), tmp_path, notes)
    assert await runner.session_hooks().stop(False) is None  # type: ignore[union-attr,misc]
    assert notes == ["Stop hook `sleep 30` failed: timed out after 0.5 s (killed) (ignored)"]


async def test_python_hooks_share_the_rules_and_a_raising_one_is_reported(tmp_path: Path) -> None:
    notes: list[str] = []
    errors: list[BaseException] = []
    config = HookConfig()
    seen: list[dict[str, Any]] = []

    async def guard(event: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(event)
        return {"decision": "block", "reason": "no force push"} if "--force" in event["tool_input"]["command"] else None

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    config.add("PreToolUse", PythonHook(guard, "guard"), "bash")
    config.add("PreToolUse", PythonHook(broken, "broken"))
    config.add("PreToolUse", PythonHook(broken, "owned", errors.append))
    runner = _runner(config, tmp_path, notes)
    before = runner.agent_hooks().before_tool_call  # type: ignore[union-attr]
    verdict = await before(_ctx(args={"command": "git push --force"}))  # type: ignore[misc]
    assert verdict is not None and verdict.reason == "Blocked by a PreToolUse hook: no force push"
    assert seen[0]["hook_event_name"] == "PreToolUse" and seen[0]["session_id"] == "sess-1"
    assert [str(e) for e in errors] == ["boom"]
    assert notes == ["PreToolUse hook extension broken failed: raised RuntimeError: boom (ignored)"]
    with pytest.raises(ConfigError, match="unknown hook event 'Nope'"):
        config.add("Nope", PythonHook(guard, "guard"))
