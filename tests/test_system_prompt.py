"""System prompt assembly (issue 3 item 8): snapshot, context files, overrides."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from opi_cli.cli.system_prompt import (
    SystemPromptInputs,
    build_system_prompt,
    find_context_files,
    text_or_file,
)
from opi_cli.tools import DEFAULT_TOOLS, create_builtin_tools
from tests.conftest import run_opi
from tests.mock_llm import MockLLM

SNAPSHOT = Path(__file__).parent / "snapshots" / "system_prompt_default.txt"


def _inputs(cwd: Path, home: Path, **kw: object) -> SystemPromptInputs:
    tools = create_builtin_tools(str(cwd))
    active = [(n, tools[n].prompt_snippet) for n in DEFAULT_TOOLS]
    return SystemPromptInputs(cwd=cwd, home=home, tools=active, today=date(2026, 11, 21), context_files=[], **kw)  # type: ignore[arg-type]


def test_default_prompt_snapshot(tmp_path: Path) -> None:
    """Review changes to this snapshot like code: it is what every model reads first."""
    text = build_system_prompt(_inputs(Path("/work/project"), tmp_path))
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_guidelines_follow_active_tools(tmp_path: Path) -> None:
    only_bash = build_system_prompt(
        SystemPromptInputs(cwd=tmp_path, home=tmp_path, tools=[("bash", "Execute bash commands")], context_files=[])
    )
    assert "Use bash for file operations like ls, rg, find" in only_bash
    assert "Use edit for precise changes" not in only_bash
    assert "- bash: Execute bash commands" in only_bash


def test_context_files_root_to_cwd_and_global_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "AGENTS.md").write_text("GLOBAL RULES")
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    (outer / "CLAUDE.md").write_text("OUTER CLAUDE")
    (inner / "AGENTS.md").write_text("INNER AGENTS")
    (inner / "CLAUDE.md").write_text("INNER CLAUDE (ignored: AGENTS.md wins)")
    files = find_context_files(inner, home)
    assert [f.content for f in files] == ["GLOBAL RULES", "OUTER CLAUDE", "INNER AGENTS"]
    text = build_system_prompt(SystemPromptInputs(cwd=inner, home=home, tools=[]))
    assert text.index("# Project Context") < text.index("GLOBAL RULES") < text.index("OUTER CLAUDE") < text.index("INNER AGENTS")
    assert text.rstrip().endswith(f"Current working directory: {inner}")


def test_custom_and_append_prompts_and_project_files(tmp_path: Path) -> None:
    (tmp_path / ".opi").mkdir()
    (tmp_path / ".opi" / "SYSTEM.md").write_text("PROJECT SYSTEM")
    (tmp_path / ".opi" / "APPEND_SYSTEM.md").write_text("PROJECT APPEND")
    text = build_system_prompt(SystemPromptInputs(cwd=tmp_path, home=tmp_path / "h", tools=[], context_files=[]))
    assert text.startswith("PROJECT SYSTEM") and "PROJECT APPEND" in text
    text2 = build_system_prompt(
        SystemPromptInputs(cwd=tmp_path, home=tmp_path / "h", tools=[], custom_prompt="CLI PROMPT",
                           append_prompt="CLI APPEND", context_files=[])
    )
    assert text2.startswith("CLI PROMPT") and "CLI APPEND" in text2 and "PROJECT" not in text2
    f = tmp_path / "p.txt"
    f.write_text("FROM FILE")
    assert text_or_file(str(f), tmp_path) == "FROM FILE"
    assert text_or_file("just words", tmp_path) == "just words"


def test_request_carries_tools_agents_md_date_and_cwd(tmp_path: Path, opi_home: Path) -> None:
    parent = tmp_path / "parent"
    repo = parent / "repo"
    repo.mkdir(parents=True)
    (parent / "AGENTS.md").write_text("Parent rule: run tests with make test.")
    (repo / "AGENTS.md").write_text("Repo rule: never touch vendor/.")
    with MockLLM({"responses": [{"steps": [{"text": "ok"}]}]}) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
                        "--api-key", "x", "--model", "m", "--tools", "read,bash,grep", "hi"], cwd=repo)
        body = srv.requests[0]["body"]
    assert proc.returncode == 0, proc.stderr
    system = body["messages"][0]["content"]
    assert "- read: Read file contents" in system and "- grep:" in system and "- edit:" not in system
    assert "Parent rule: run tests with make test." in system and "Repo rule: never touch vendor/." in system
    assert f"Current working directory: {repo.resolve()}" in system
    assert "Current date: " in system
    assert sorted(t["function"]["name"] for t in body["tools"]) == ["bash", "grep", "read"]
    assert json.dumps(body).count("Repo rule") == 1


def test_at_file_attachments_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("remember the milk")
    with MockLLM({"responses": [{"steps": [{"text": "ok"}]}]}) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
                        "--api-key", "x", "--model", "m", "@notes.txt", "summarise"], cwd=tmp_path)
        user = srv.requests[0]["body"]["messages"][-1]["content"]
    assert proc.returncode == 0, proc.stderr
    text = user if isinstance(user, str) else json.dumps(user)
    assert f'<file name=\\"{tmp_path / "notes.txt"}\\">' in text or f'<file name="{tmp_path / "notes.txt"}">' in text
    assert "remember the milk" in text and "summarise" in text
    missing = run_opi(["-p", "--provider", "openai", "--api-key", "x", "@nope.txt", "hi"], cwd=tmp_path)
    assert missing.returncode == 2 and "nope.txt" in missing.stderr
