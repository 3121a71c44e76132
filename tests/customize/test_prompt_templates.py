"""Prompt templates: arguments, discovery and precedence, and `/name args` reaching the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from opi_cli.cli.prompt_templates import discover_templates, expand_template, split_args, substitute_args
from tests.conftest import run_opi
from tests.customize.helpers import opi_args, text, user_texts
from tests.mock_llm import MockLLM


def test_split_args_like_a_shell_with_quotes() -> None:
    assert split_args('a "b c"  d \'e f\'g') == ["a", "b c", "d", "e fg"]
    assert split_args('"" x') == ["", "x"]
    assert split_args('open "quote runs on') == ["open", "quote runs on"]
    assert split_args("   ") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("$1 and $2", "a and b c"),
        ("all: $@ / $ARGUMENTS", "all: a b c d e / a b c d e"),
        ("from 2: ${@:2}", "from 2: b c d e"),
        ("two from 2: ${@:2:2}", "two from 2: b c d"),
        ("missing: [$9]", "missing: []"),
        ("$ARGUMENTSX stays, $10 is empty", "$ARGUMENTSX stays,  is empty"),
    ],
)
def test_placeholders(body: str, expected: str) -> None:
    assert substitute_args(body, ["a", "b c", "d", "e"]) == expected


def test_substituted_text_is_not_substituted_again() -> None:
    assert substitute_args("$1 $2", ["$2", "x"]) == "$2 x"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discovery_precedence_descriptions_and_warnings(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "proj"
    _write(home / "prompts" / "review.md", "---\ndescription: global review\n---\nGlobal $1\n")
    _write(home / "prompts" / "only-global.md", "\n\n# Explain the code\nbody\n")
    _write(cwd / ".claude" / "commands" / "review.md", "---\ndescription: claude review\n---\nClaude $1\n")
    _write(cwd / ".claude" / "commands" / "git" / "commit.md",
           "---\nallowed-tools: Bash(git add:*), Bash(git commit:*)\nargument-hint: [message]\n"
           "description: Create a git commit\n---\nCommit with message: $ARGUMENTS\n")
    _write(cwd / ".opi" / "prompts" / "Review.md", "---\ndescription: project review\n---\nProject $1\n")
    _write(cwd / ".opi" / "prompts" / "broken.md", "---\ndescription: | oops\n---\nbody\n")
    found, warnings = discover_templates(cwd, home)
    assert sorted(found) == ["commit", "only-global", "review"]
    review = found["review"]
    assert review.description == "project review" and review.scope == "project"
    assert review.overrides == home / "prompts" / "review.md"
    assert found["only-global"].description == "Explain the code"
    assert found["commit"].argument_hint == "[message]"
    assert expand_template(found["commit"], "fix the bug") == "Commit with message: fix the bug"
    assert len(warnings) == 1 and str(cwd / ".opi" / "prompts" / "broken.md") in warnings[0]
    assert "invalid frontmatter, line 2" in warnings[0]


def test_a_template_without_placeholders_gets_the_arguments_appended(tmp_path: Path) -> None:
    _write(tmp_path / "p" / "prompts" / "tidy.md", "Tidy the code.\n")
    found, _ = discover_templates(tmp_path / "nowhere", tmp_path / "p")
    assert expand_template(found["tidy"], "src/a.py") == "Tidy the code.\n\nsrc/a.py"
    assert expand_template(found["tidy"], "") == "Tidy the code."


def test_print_mode_expands_a_template_before_sending(workdir: Path, opi_home: Path) -> None:
    _write(workdir / ".opi" / "prompts" / "review.md",
           "---\ndescription: Review a file\nargument-hint: FILE [FOCUS]\n---\n"
           "Review $1 carefully. Focus: ${@:2}. All: $ARGUMENTS\n")
    (workdir / "foo.py").write_text("x = 1\n")
    with MockLLM({"responses": [text("Looks fine.")]}) as srv:
        proc = run_opi(opi_args(srv, "/review foo.py error handling"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Looks fine.\n"
    assert user_texts(requests[0]) == [
        "Review foo.py carefully. Focus: error handling. All: foo.py error handling"
    ]


def test_claude_commands_work_and_unknown_slash_words_go_as_typed(workdir: Path, opi_home: Path) -> None:
    _write(workdir / ".claude" / "commands" / "explain.md",
           "---\nargument-hint: [file]\ndescription: Explain\n---\nExplain $1 to a newcomer.\n")
    with MockLLM({"responses": [text("one"), text("two")]}) as srv:
        # the words of one invocation are one prompt, so the second goes with --then
        proc = run_opi(opi_args(srv, "/explain", "main.py", "--then", "/etc/hosts is what?"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert user_texts(requests[0]) == ["Explain main.py to a newcomer."]
    assert user_texts(requests[1])[-1] == "/etc/hosts is what?"


def test_a_bad_template_is_one_warning_and_the_run_goes_on(workdir: Path, opi_home: Path) -> None:
    bad = _write(opi_home / "prompts" / "bad.md", "---\ndescription: 'unclosed\n---\nbody\n")
    with MockLLM({"responses": [text("ok")]}) as srv:
        proc = run_opi(opi_args(srv, "/bad thing"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert user_texts(requests[0]) == ["/bad thing"]
