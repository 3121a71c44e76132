"""The REPL with users' additions: the one-time question about a folder's code, templates, skills,
extension commands, /help, completion and notices, in a real pseudo-terminal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.customize.helpers import call, text, tool_results, user_texts
from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver, chat_args

pytestmark = pytest.mark.pty

EXAMPLE = ROOT / "examples" / "extension" / "opi_wordcount" / "__init__.py"


def _project(workdir: Path) -> None:
    (workdir / ".opi" / "extensions").mkdir(parents=True)
    (workdir / ".opi" / "extensions" / "wordcount.py").write_text(EXAMPLE.read_text())
    (workdir / ".opi" / "prompts").mkdir()
    (workdir / ".opi" / "prompts" / "review.md").write_text(
        "---\ndescription: Review a file for bugs\nargument-hint: FILE\n---\nReview $1 for bugs, briefly.\n")
    skill = workdir / ".claude" / "skills" / "release-notes"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: release-notes\ndescription: Write release notes from git log\n---\n"
                                    "Run git log and group the changes.\n")
    bad = workdir / ".claude" / "skills" / "bad"
    bad.mkdir()
    (bad / "SKILL.md").write_text("---\nname: bad\n")
    (workdir / "notes.txt").write_text("a b c\n")


def _flat(drv: ReplDriver) -> str:
    """Everything shown so far, with the terminal's line wrapping undone (words joined by one space)."""
    return " ".join(" ".join(drv.all_lines()).split())


def _shown(drv: ReplDriver, needle: str) -> bool:
    """``needle`` was shown, however lines were wrapped (long paths break anywhere): spaces ignored."""
    return "".join(needle.split()) in "".join("".join(drv.all_lines()).split())


def _start(srv: MockLLM, workdir: Path) -> ReplDriver:
    return ReplDriver(chat_args(srv), workdir, rows=40, cols=120)


def test_asked_once_then_templates_skills_and_extension_commands_work(workdir: Path, opi_home: Path) -> None:
    _project(workdir)
    script: dict[str, Any] = {"responses": [
        text("REVIEWED"), call("word_count", {"path": "notes.txt"}), text("COUNTED"), text("NOTES WRITTEN"),
    ]}
    with MockLLM(script) as srv:
        drv = _start(srv, workdir)
        try:
            drv.wait_for("Allow it to run, now and in later sessions? [y/N]")
            assert _shown(drv, "extensions in") and _shown(drv, "wordcount.py")
            drv.send("y\r")
            drv.wait_ready()
            warning = f"Skill {workdir / '.claude' / 'skills' / 'bad' / 'SKILL.md'}: invalid frontmatter"
            drv.wait_for(lambda: _shown(drv, warning))
            # completion offers the template and the skill
            drv.send("/rev")
            drv.wait_for("Review a file for bugs")
            drv.send("\x15")  # clear the input
            drv.type_line("/help")
            drv.wait_for(lambda: "/mcp__server__prompt an MCP prompt." in _flat(drv))
            help_text = _flat(drv)
            assert "/review FILE" in help_text and "(template, project)" in help_text
            assert "/wc [FILE]" in help_text and "(extension wordcount)" in help_text
            assert "built-in commands, extension commands, prompt templates" in help_text
            drv.type_line("/review app.py")
            drv.wait_for("REVIEWED")
            assert user_texts(srv.requests[0])[-1] == "Review app.py for bugs, briefly."
            drv.type_line("count the words of notes.txt")
            drv.wait_for("Allow word_count?")  # the permission gate asks about a tool it does not know
            drv.send("1")
            drv.wait_for("COUNTED")
            assert tool_results(srv.requests[2])[-1] == "notes.txt: 1 lines, 3 words, 6 characters"
            drv.type_line("/wc")
            drv.wait_for("1 tool calls finished in this session")
            drv.type_line("/skill:release-notes for 1.2")
            drv.wait_for("NOTES WRITTEN")
            sent = user_texts(srv.requests[3])[-1]
            assert sent.startswith('<skill name="release-notes"') and sent.endswith("</skill>\n\nfor 1.2")
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()
    trust = json.loads((opi_home / "trusted-projects.json").read_text())
    assert trust == {str(workdir): True}
    assert oct((opi_home / "trusted-projects.json").stat().st_mode & 0o777) == "0o600"
    # the answer is remembered: no question the second time
    with MockLLM({"responses": [text("again")]}) as srv:
        drv = _start(srv, workdir)
        try:
            drv.wait_ready()
            assert "Allow it to run" not in "\n".join(drv.all_lines())
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()


def test_a_no_is_remembered_and_the_code_does_not_run(workdir: Path, opi_home: Path) -> None:
    _project(workdir)
    (workdir / ".opi" / "extensions" / "marker.py").write_text(
        "import pathlib\npathlib.Path('ran').write_text('x')\ndef register(opi):\n    pass\n")
    with MockLLM({"responses": [text("hello")]}) as srv:
        drv = _start(srv, workdir)
        try:
            drv.wait_for("[y/N]")
            drv.send("n\r")
            drv.wait_ready()
            drv.wait_for(lambda: _shown(drv, "were not loaded: this folder's own code is not allowed"))
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()
    assert not (workdir / "ran").exists()
    assert json.loads((opi_home / "trusted-projects.json").read_text()) == {str(workdir): False}
    assert os.environ["OPI_HOME"] == str(opi_home)


def test_chat_message_arguments_expand_like_typed_input(workdir: Path, opi_home: Path) -> None:
    (opi_home / "prompts").mkdir()
    (opi_home / "prompts" / "review.md").write_text("Review $1 for bugs.\n")
    with MockLLM({"responses": [text("REVIEWED")]}) as srv:
        drv = ReplDriver([*chat_args(srv), "/review app.py"], workdir, rows=30, cols=100)
        try:
            drv.wait_for("REVIEWED")
            assert user_texts(srv.requests[0]) == ["Review app.py for bugs."]
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()
