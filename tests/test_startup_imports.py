"""A run loads only what it uses: no pydantic for option values, no jsonschema for a valid tool call.

Typer converts option values through pydantic (opi_cli/cli/plain_params.py keeps plain
values off that path) and jsonschema is only needed to name the problems of a bad tool
call (opi_cli/agent/validation.py). Errors still read as before: Typer's own message for a
bad option value, jsonschema's problems for a bad call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_opi
from tests.mock_llm import MockLLM

TOOL_THEN_ANSWER: dict[str, Any] = {"responses": [
    {"steps": [{"tool_call": {"name": "bash", "arguments": {"command": "echo checked", "timeout": "30"}}}]},
    {"steps": [{"text": "done"}]},
]}


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _args(srv: MockLLM, *extra: str) -> list[str]:
    return ["--json", "--no-session", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
            "openai-completions", "--api-key", "sk-test", "--model", "m", "--max-turns", "5",
            "--append-system-prompt", "be brief", *extra, "go"]


def test_a_run_with_a_tool_call_imports_neither_pydantic_nor_jsonschema(workdir: Path) -> None:
    with MockLLM(TOOL_THEN_ANSWER) as srv:
        proc = run_opi(_args(srv), cwd=workdir, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        result = srv.requests[1]["body"]["messages"][-1]
    assert result["role"] == "tool" and "checked" in json.dumps(result)  # the call was checked and ran
    imported = _imported(proc.stderr)
    assert {"httpx", "opi_cli.agent.validation"} <= imported  # the probe sees the imports
    assert not {m for m in imported if m.split(".")[0] in ("pydantic", "pydantic_core", "jsonschema", "typer")}
    # no MCP server configured: neither the SDK nor opi's MCP client is loaded (issue 14)
    assert not {m for m in imported if m.split(".")[0] == "mcp" or m.startswith("opi_cli.mcp")}


def test_a_bad_tool_call_is_still_described_by_jsonschema(workdir: Path) -> None:
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "bash", "arguments": {"timeout": "soon"}}}]},
        {"steps": [{"text": "sorry"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(_args(srv), cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        result = json.dumps(srv.requests[1]["body"]["messages"][-1])
    assert "must have required property 'command'" in result
    assert "timeout: must be number" in result


def test_bad_option_values_get_typers_own_messages(workdir: Path) -> None:
    low = run_opi(["--max-turns", "0", "-p", "hi"], cwd=workdir)
    assert low.returncode == 2
    assert "Invalid value for '--max-turns': Input should be greater than or equal to 1" in low.stderr
    word = run_opi(["--max-turns", "many", "-p", "hi"], cwd=workdir)
    assert word.returncode == 2
    assert "Invalid value for '--max-turns': Input should be a valid integer" in word.stderr


def test_every_option_of_every_command_converts_without_pydantic() -> None:
    """A new option of a type plain_params does not know would bring pydantic back to every run."""
    import typer.main

    from opi_cli.cli.main import app
    from opi_cli.cli.plain_params import plain_conversion

    group = typer.main.get_command(app)
    plain_conversion(group)
    missing: list[str] = []

    def walk(command: Any, path: str) -> None:
        for param in command.params:
            if getattr(param, "_runtime_param", None) is None:
                missing.append(f"{path} {param.name}: {param.type_descriptor.annotation}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(group, "opi")
    assert missing == []
