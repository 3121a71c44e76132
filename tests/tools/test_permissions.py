"""Permission rules and the three approval modes, rule kind by rule kind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opi_cli.tools.bash_parse import parse_bash
from opi_cli.tools.permission_rules import bash_spec_matches, parse_rule, path_spec_matches, rule_applies
from opi_cli.tools.permissions import ApprovalMode, PermissionPolicy, PermissionRules

CWD = "/work/proj"
HOME = "/home/ada"


def policy(
    mode: ApprovalMode = "auto",
    *,
    allow: tuple[str, ...] = (),
    ask: tuple[str, ...] = (),
    deny: tuple[str, ...] = (),
    cwd: str = CWD,
) -> PermissionPolicy:
    def rules(texts: tuple[str, ...]) -> tuple:  # type: ignore[type-arg]
        return tuple(parse_rule(t, source="test", base=cwd) for t in texts)

    return PermissionPolicy(mode, PermissionRules(rules(allow), rules(ask), rules(deny)), cwd=cwd, home=HOME,
                            temp_dirs=["/tmp"])


def verdict(p: PermissionPolicy, tool: str, **args: object) -> str:
    return p.decide(tool, args).verdict  # type: ignore[arg-type]


# -- rule syntax -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tool", "spec"),
    [
        ("Bash", "bash", None),
        ("Bash(git status)", "bash", "git status"),
        ("Bash(npm run test:*)", "bash", "npm run test:*"),
        ("Edit(src/**)", "edit", "src/**"),
        ("Read(~/.ssh/**)", "read", "~/.ssh/**"),
        ("Write(/etc/**)", "write", "/etc/**"),
        ("mcp__github__create_issue", "mcp__github__create_issue", None),
        ("Bash(*)", "bash", None),
        ("  Read  ", "read", None),
    ],
)
def test_rules_parse(text: str, tool: str, spec: str | None) -> None:
    rule = parse_rule(text)
    assert (rule.tool, rule.spec) == (tool, spec)


@pytest.mark.parametrize("text", ["", "Bash(", "Bash(x", "(x)", "Bash(a:*b:*)", "two words"])
def test_malformed_rules_are_refused_with_the_expected_shape(text: str) -> None:
    with pytest.raises(ValueError, match=r"permission rule|may only end"):
        parse_rule(text)


def test_which_tools_a_rule_is_about() -> None:
    assert rule_applies(parse_rule("Edit"), "write") and rule_applies(parse_rule("Edit"), "edit")
    assert not rule_applies(parse_rule("Write"), "edit")
    assert all(rule_applies(parse_rule("Read"), t) for t in ("read", "grep", "find", "ls"))
    assert rule_applies(parse_rule("Glob"), "find")
    assert rule_applies(parse_rule("mcp__github"), "mcp__github__create_issue")
    assert not rule_applies(parse_rule("mcp__git"), "mcp__github__create_issue")
    assert rule_applies(parse_rule("mcp__github__create_issue"), "mcp__github__create_issue")
    assert not rule_applies(parse_rule("mcp__github__create_issue"), "mcp__github__delete_repo")
    assert rule_applies(parse_rule("my_tool"), "MY_TOOL")


@pytest.mark.parametrize(
    ("spec", "command", "hit"),
    [
        ("git status", "git status", True),
        ("git status", "git  'status'", True),
        ("git status", "git status --short", False),
        ("npm run test:*", "npm run test", True),
        ("npm run test:*", "npm run test -- --watch", True),
        ("npm run test:*", "npm run test-e2e", False),
        ("npm run test:*", "npm run", False),
        ("git * --dry-run", "git push --dry-run", True),
        ("git * --dry-run", "git push", False),
    ],
)
def test_bash_specifiers(spec: str, command: str, hit: bool) -> None:
    (cmd,) = parse_bash(command).commands
    assert bash_spec_matches(spec, cmd) is hit


@pytest.mark.parametrize(
    ("spec", "path", "hit"),
    [
        ("src/**", f"{CWD}/src/a/b.py", True),
        ("src/**", f"{CWD}/lib/src/b.py", False),
        ("./src", f"{CWD}/src/x.py", True),
        ("*.pem", f"{CWD}/deep/er/key.pem", True),
        (".env", f"{CWD}/.env", True),
        (".env", f"{CWD}/app/.env", True),
        (".env", f"{CWD}/.envrc", False),
        ("~/.ssh/**", f"{HOME}/.ssh/id_rsa", True),
        ("~/.ssh/**", f"{HOME}/.sshx", False),
        ("//etc/**", "/etc/passwd", True),
        ("/etc/**", "/etc/passwd", True),
        ("/etc/**", f"{CWD}/etc/passwd", True),
        ("/etc/*.conf", "/etc/a/b.conf", False),
        ("src/[ab].py", f"{CWD}/src/a.py", True),
        ("src/?.py", f"{CWD}/src/ab.py", False),
    ],
)
def test_path_specifiers(spec: str, path: str, hit: bool) -> None:
    assert path_spec_matches(spec, path, cwd=CWD, home=HOME, base=CWD) is hit


# -- modes -------------------------------------------------------------------------------------


def test_yolo_runs_everything_but_deny_wins() -> None:
    p = policy("yolo", deny=("Bash(rm:*)", "Write(/etc/**)"))
    assert verdict(p, "bash", command="touch /tmp/x && curl example.com") == "allow"
    assert verdict(p, "write", path="/elsewhere/x", content="") == "allow"
    assert verdict(p, "bash", command="ls && rm -rf x") == "deny"
    assert verdict(p, "write", path="/etc/hosts", content="") == "deny"
    assert verdict(p, "mcp__x__y") == "allow"


def test_yolo_asks_when_a_line_hides_commands_from_the_bash_rules() -> None:
    p = policy("yolo", deny=("Bash(rm:*)",))
    assert verdict(p, "bash", command="eval \"$CMD\"") == "ask"
    assert verdict(p, "bash", command="sudo rm -rf /") == "deny"
    assert verdict(policy("yolo"), "bash", command="eval \"$CMD\"") == "allow"


def test_auto_reads_and_edits_inside_the_folder_without_asking() -> None:
    p = policy("auto")
    assert verdict(p, "read", path="src/a.py") == "allow"
    assert verdict(p, "grep", pattern="x") == "allow"
    assert verdict(p, "ls") == "allow"
    assert verdict(p, "edit", path="src/a.py", oldText="a", newText="b") == "allow"
    assert verdict(p, "write", path=f"{CWD}/new/file.txt", content="") == "allow"


def test_auto_asks_outside_the_folder_for_bash_and_for_other_tools() -> None:
    p = policy("auto")
    assert verdict(p, "read", path="/etc/passwd") == "ask"
    assert verdict(p, "read", path="../other/x") == "ask"
    assert verdict(p, "write", path="~/notes.txt", content="") == "ask"
    assert verdict(p, "edit", path="/work/project-other/x", oldText="a", newText="b") == "ask"
    assert verdict(p, "bash", command="ls") == "ask"
    assert verdict(p, "mcp__github__create_issue") == "ask"


def test_read_only_refuses_everything_but_reads() -> None:
    p = policy("read-only", allow=("Bash", "Edit"))
    assert verdict(p, "read", path="a.py") == "allow"
    assert verdict(p, "find", pattern="*.py") == "allow"
    assert verdict(p, "read", path="/etc/hosts") == "ask"
    assert verdict(policy("read-only", allow=("Read(//etc/**)",)), "read", path="/etc/hosts") == "allow"
    for tool, args in (("bash", {"command": "ls"}), ("edit", {"path": "a.py"}), ("write", {"path": "a"}),
                       ("mcp__x__y", {})):
        d = p.decide(tool, args)
        assert d.verdict == "deny" and "read-only" in d.reason


# -- rules in auto mode ------------------------------------------------------------------------


def test_every_command_of_a_chain_must_be_allowed() -> None:
    p = policy(allow=("Bash(git status)", "Bash(npm run test:*)"))
    assert verdict(p, "bash", command="git status") == "allow"
    assert verdict(p, "bash", command="git status && npm run test -- -x") == "allow"
    assert verdict(p, "bash", command="cd sub; git status | npm run test") == "allow"
    for line in ("git status && rm -rf x", "git status; curl x", "git status || sh", "npm run test | tee /etc/x",
                 "git status & rm x"):
        d = p.decide("bash", {"command": line})
        assert d.verdict == "ask", line
        assert "no rule allows" in d.reason or "writes outside" in d.reason


@pytest.mark.parametrize(
    "line",
    ["git status $(rm -rf x)", "git status `rm x`", "(git status)", "eval git status", "bash -c 'git status'",
     "$GIT status", "git status <(rm x)", "git status 'unterminated"],
)
def test_substitutions_subshells_and_eval_ask_even_when_allowed(line: str) -> None:
    p = policy(allow=("Bash(git status:*)", "Bash(rm:*)", "Bash(eval:*)", "Bash(bash:*)"))
    d = p.decide("bash", {"command": line})
    assert d.verdict == "ask"
    assert d.suggestions == ()  # such a line cannot become a rule


def test_deny_rules_see_inside_chains_wrappers_and_substitutions() -> None:
    p = policy("auto", allow=("Bash",), deny=("Bash(rm:*)",))
    for line in ("ls && rm x", "echo $(rm x)", "sudo rm x", "eval 'rm x'", "bash -c 'rm x'", "find . -exec rm {} +",
                 "xargs rm", "(rm x)"):
        assert verdict(p, "bash", command=line) == "deny", line
    assert verdict(p, "bash", command="ls && echo rm") == "allow"


def test_ask_rules_ask_even_when_allowed_and_in_yolo() -> None:
    for mode in ("auto", "yolo"):
        p = policy(mode, allow=("Bash",), ask=("Bash(git push:*)",))  # type: ignore[arg-type]
        assert verdict(p, "bash", command="git status") == "allow"
        assert verdict(p, "bash", command="git add . && git push origin main") == "ask"


def test_path_rules_allow_deny_and_ask() -> None:
    p = policy(allow=("Edit(//srv/shared/**)", "Read(~/notes/**)"), deny=("Read(~/.ssh/**)", "Edit(secrets/**)"),
               ask=("Edit(migrations/**)",))
    assert verdict(p, "write", path="/srv/shared/a.txt", content="") == "allow"
    assert verdict(p, "edit", path="/srv/other/a.txt") == "ask"
    assert verdict(p, "read", path="~/notes/todo.md") == "allow"
    assert verdict(p, "read", path="~/.ssh/id_rsa") == "deny"
    assert verdict(p, "grep", pattern="x", path="~/.ssh") == "deny"
    assert verdict(p, "edit", path="secrets/key.txt") == "deny"
    assert verdict(p, "write", path="migrations/0001.sql", content="") == "ask"
    # deny wins over allow of the same thing
    both = policy(allow=("Read",), deny=("Read(.env)",))
    assert verdict(both, "read", path="app/.env") == "deny"


def test_edit_and_write_deny_rules_cover_bash_redirections() -> None:
    p = policy("yolo", deny=("Write(/etc/**)",))
    assert verdict(p, "bash", command="echo x > /etc/motd") == "deny"
    assert verdict(p, "bash", command="echo x > notes.txt") == "allow"


def test_redirections_outside_the_folder_ask_inside_do_not() -> None:
    p = policy(allow=("Bash(make:*)",))
    assert verdict(p, "bash", command="make > build.log 2>&1") == "allow"
    assert verdict(p, "bash", command="make > /tmp/build.log") == "allow"
    d = p.decide("bash", {"command": "make > ~/build.log"})
    assert d.verdict == "ask" and "writes outside" in d.reason


def test_mcp_and_bare_tool_rules() -> None:
    p = policy(allow=("mcp__github", "my_tool"), deny=("mcp__github__delete_repo",))
    assert verdict(p, "mcp__github__create_issue") == "allow"
    assert verdict(p, "mcp__github__delete_repo") == "deny"
    assert verdict(p, "mcp__slack__post") == "ask"
    assert verdict(p, "my_tool") == "allow"


def test_allow_for_the_session_remembers_the_suggested_rules() -> None:
    p = policy()
    d = p.decide("bash", {"command": "pytest -x && git commit -m 'a && b'"})
    assert d.verdict == "ask"
    assert d.suggestions == ("Bash(pytest -x)", "Bash(git commit -m 'a && b')")
    p.remember(d.suggestions)
    assert verdict(p, "bash", command="pytest -x && git commit -m 'a && b'") == "allow"
    assert verdict(p, "bash", command="git commit -m other") == "ask"
    d = p.decide("write", {"path": "/srv/x.txt"})
    assert d.suggestions == ("Write(//srv/x.txt)",)
    p.remember(d.suggestions)
    assert verdict(p, "write", path="/srv/x.txt") == "allow"
    assert verdict(p, "write", path="/srv/y.txt") == "ask"


def test_symlinks_out_of_the_folder_are_judged_by_their_target(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(outside, proj / "link.txt")
    p = policy(cwd=str(proj))
    assert verdict(p, "write", path="link.txt", content="x") == "ask"
    assert verdict(p, "write", path="plain.txt", content="x") == "allow"
    denied = policy("yolo", cwd=str(proj), deny=(f"Read(/{outside})",))
    assert verdict(denied, "read", path="link.txt") == "deny"
