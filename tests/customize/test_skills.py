"""Skills: discovery and validation, listed in the system prompt, read by the model, /skill:name."""

from __future__ import annotations

from pathlib import Path

from opi_cli.cli.skills import discover_skills, expand_skill
from opi_cli.cli.system_prompt import SystemPromptInputs, build_system_prompt
from tests.conftest import run_opi
from tests.customize.helpers import call, events, opi_args, system_prompt, text, tool_results, user_texts
from tests.mock_llm import MockLLM

PDF = """---
name: pdf-tools
description: Extract text and tables from PDF files. Use when the user mentions PDFs.
license: MIT
metadata:
  author: example
---
# PDF tools

Run `scripts/extract.py FILE` and read its output.
"""


def _skill(root: Path, folder: str, text_: str) -> Path:
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_)
    return path


def test_discovery_validation_and_precedence(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "proj"
    _skill(home / "skills", "pdf-tools", PDF.replace("Extract", "Global: extract"))
    project_pdf = _skill(cwd / ".opi" / "skills", "pdf-tools", PDF)
    _skill(cwd / ".claude" / "skills", "Bad_Name", "---\nname: Bad_Name\ndescription: d\n---\nbody\n")
    _skill(cwd / ".claude" / "skills", "other", "---\nname: renamed\ndescription: d\n---\nbody\n")
    nodesc = _skill(home / "skills", "no-desc", "---\nname: no-desc\n---\nbody\n")
    broken = _skill(home / "skills", "broken", "---\nname: broken\ndescription: | Use when needed.\n---\n")
    nameless = _skill(home / "skills", "nameless", "---\ndescription: has no name\n---\nbody\n")
    (home / "skills" / "not-a-skill").mkdir()
    found, warnings = discover_skills(cwd, home)
    assert sorted(found) == ["Bad_Name", "nameless", "pdf-tools", "renamed"]
    assert found["pdf-tools"].path == project_pdf and found["pdf-tools"].scope == "project"
    text_ = "\n".join(warnings)
    assert f"Skill {nodesc}: no 'description'" in text_
    assert f"Skill {broken}: invalid frontmatter, line 3" in text_
    assert f"Skill {nameless}: no 'name'" in text_
    assert "must be lower-case letters, digits and single hyphens" in text_
    assert "name 'renamed' differs from its folder 'other'" in text_
    assert len(warnings) == 5


def test_the_system_prompt_lists_name_description_location_only_with_read(tmp_path: Path) -> None:
    path = _skill(tmp_path, "pdf-tools", PDF)
    entries = [("pdf-tools", "Extract <text> & tables", str(path))]
    with_read = build_system_prompt(SystemPromptInputs(tmp_path, tmp_path, [("read", ""), ("bash", "")],
                                                       context_files=[], skills=entries))
    assert "<name>pdf-tools</name>" in with_read
    assert "<description>Extract &lt;text&gt; &amp; tables</description>" in with_read
    assert f"<location>{path}</location>" in with_read
    assert "Run `scripts/extract.py" not in with_read  # the body stays out until read
    assert with_read.index("<available_skills>") < with_read.index("Current date:")
    without = build_system_prompt(SystemPromptInputs(tmp_path, tmp_path, [("bash", "")], context_files=[],
                                                     skills=entries))
    assert "available_skills" not in without


def test_expand_skill_wraps_the_body_and_appends_the_request(tmp_path: Path) -> None:
    _skill(tmp_path / "skills", "pdf-tools", PDF)
    skill = discover_skills(tmp_path / "x", tmp_path)[0]["pdf-tools"]
    out = expand_skill(skill, "summarise report.pdf")
    assert out.startswith(f'<skill name="pdf-tools" location="{skill.path}">\n'
                          f"References are relative to {skill.path.parent}.\n\n# PDF tools")
    assert out.endswith("</skill>\n\nsummarise report.pdf")


def test_a_skill_is_listed_then_read_by_the_model(workdir: Path, opi_home: Path) -> None:
    path = _skill(workdir / ".opi" / "skills", "pdf-tools", PDF)
    _skill(opi_home / "skills", "hidden", "---\nname: hidden\ndescription: secret\ndisable-model-invocation: true\n---\nx\n")
    script = {"responses": [call("read", {"path": str(path)}), text("I will run scripts/extract.py.")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "summarise report.pdf"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    prompt = system_prompt(requests[0])
    assert "<name>pdf-tools</name>" in prompt and f"<location>{path}</location>" in prompt
    assert "Extract text and tables from PDF files." in prompt
    assert "Run `scripts/extract.py FILE`" not in prompt
    assert "hidden" not in prompt
    assert "Run `scripts/extract.py FILE` and read its output." in tool_results(requests[1])[0]


def test_slash_skill_forces_a_skill_in_headless(workdir: Path, opi_home: Path) -> None:
    path = _skill(opi_home / "skills", "pdf-tools", PDF)
    with MockLLM({"responses": [text("ok")]}) as srv:
        proc = run_opi(opi_args(srv, "/skill:pdf-tools summarise report.pdf"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    sent = user_texts(requests[0])[0]
    assert sent.startswith(f'<skill name="pdf-tools" location="{path}">')
    assert "Run `scripts/extract.py FILE` and read its output.\n</skill>\n\nsummarise report.pdf" in sent


def test_invalid_frontmatter_is_a_warning_naming_the_file(workdir: Path, opi_home: Path) -> None:
    broken = _skill(workdir / ".claude" / "skills", "broken", "---\nname: broken\ndescription: [a] [b]\n---\n")
    with MockLLM({"responses": [text("ok")]}) as srv:
        proc = run_opi(opi_args(srv, "hi"), cwd=workdir)
    assert proc.returncode == 0 and proc.stdout == "ok\n"
    assert proc.stderr == f"opi: Skill {broken}: invalid frontmatter, line 3: description: not a valid [a, b] list; " \
                          "quote the value if it is text; skipped (fix the file).\n"


def test_a_global_skills_files_are_read_without_a_question_and_nothing_else_of_opi_home(
    workdir: Path, opi_home: Path
) -> None:
    path = _skill(opi_home / "skills", "pdf-tools", PDF)
    (path.parent / "scripts").mkdir()
    (path.parent / "scripts" / "extract.py").write_text("print('EXTRACTED')\n")
    (opi_home / "skills" / "notes.txt").write_text("not a skill\n")
    (opi_home / "settings.json").write_text('{"defaultThinkingLevel": "low"}\n')
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "read", "id": "r1", "arguments": {"path": str(path)}}},
                   {"tool_call": {"name": "read", "id": "r2", "arguments": {
                       "path": str(path.parent / "scripts" / "extract.py")}}},
                   {"tool_call": {"name": "ls", "id": "l1", "arguments": {"path": str(path.parent)}}},
                   {"tool_call": {"name": "read", "id": "r3", "arguments": {
                       "path": str(opi_home / "skills" / "notes.txt")}}},
                   {"tool_call": {"name": "read", "id": "r4", "arguments": {"path": str(opi_home / "settings.json")}}}]},
        text("done"),
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "--approval", "auto", "--tools", "read,ls", "summarise report.pdf",
                                mode="--json"), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    ends = {e["toolCallId"]: e for e in events(proc.stdout) if e["type"] == "tool_execution_end"}
    assert not ends["r1"]["isError"] and "Run `scripts/extract.py FILE`" in ends["r1"]["result"]["content"][0]["text"]
    assert not ends["r2"]["isError"] and "EXTRACTED" in ends["r2"]["result"]["content"][0]["text"]
    assert not ends["l1"]["isError"] and "SKILL.md" in ends["l1"]["result"]["content"][0]["text"]
    denied = sorted(e["toolCallId"] for e in events(proc.stdout) if e["type"] == "permission_denied")
    assert denied == ["r3", "r4"]  # the skill's folder only, not OPI_HOME
