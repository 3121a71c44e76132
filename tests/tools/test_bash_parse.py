"""The bash reader behind Bash(...) rules: chains split, hostile constructs flagged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opi_cli.tools.bash_parse import parse_bash, split_words


def texts(command: str) -> list[str]:
    return [c.text for c in parse_bash(command).commands]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("git status", ["git status"]),
        ("git status && rm -rf x", ["git status", "rm -rf x"]),
        ("a; b || c | d |& e & f", ["a", "b", "c", "d", "e", "f"]),
        ("a\nb\n\nc", ["a", "b", "c"]),
        ("git commit -m 'fix: a && b; c'", ["git commit -m fix: a && b; c"]),
        ('echo "a | b" \'c; d\'', ["echo a | b c; d"]),
        ("echo a\\;b", ["echo a;b"]),
        ("echo a #; rm -rf /", ["echo a"]),
        ("echo a\\\n  b", ["echo a b"]),
        ("if [ -f x ]; then rm x; else touch y; fi", ["[ -f x ]", "rm x", "touch y"]),
        ("for f in *.py; do python -m py_compile \"$f\"; done", ["python -m py_compile $f"]),
        ("while true; do sleep 1; done", ["true", "sleep 1"]),
        ("{ echo a; echo b; } > /dev/null", ["echo a", "echo b"]),
        ("! grep -q x file", ["grep -q x file"]),
        ("FOO=1 pytest -x", ["FOO=1 pytest -x"]),
        ("npm run test 2>&1 | tee log", ["npm run test", "tee log"]),
    ],
)
def test_chains_split_into_simple_commands(command: str, expected: list[str]) -> None:
    parsed = parse_bash(command)
    assert [c.text for c in parsed.commands] == expected
    assert parsed.opaque == ()


@pytest.mark.parametrize(
    ("command", "reason", "hidden"),
    [
        ("echo $(rm -rf /)", "command substitution", "rm -rf /"),
        ("echo `rm -rf /`", "command substitution", "rm -rf /"),
        ('echo "$(rm -rf /)"', "command substitution", "rm -rf /"),
        ("echo ${X:-$(rm -rf /)}", "command substitution", "rm -rf /"),
        ("(cd /; rm -rf x)", "subshell", "rm -rf x"),
        ("diff <(rm -rf a) b", "process substitution", "rm -rf a"),
        ("cat <<EOF\n$(rm -rf /)\nEOF", "command substitution", "rm -rf /"),
        ("echo $((1 + $(rm -rf /)))", "arithmetic", "rm -rf /"),
        ("f() { rm -rf /; }; f", "function definition", "rm -rf /"),
        ("case $x in a) rm -rf /;; esac", "case", "rm -rf /"),
        ("echo $(case a in a) rm -rf /;; esac)", "case", "rm -rf /"),
    ],
)
def test_hidden_commands_are_found_and_flagged(command: str, reason: str, hidden: str) -> None:
    parsed = parse_bash(command)
    assert reason in parsed.opaque
    assert hidden in [c.text for c in parsed.commands]


@pytest.mark.parametrize(
    ("command", "reason", "inner"),
    [
        ("eval 'rm -rf /'", "eval", "rm -rf /"),
        ("eval rm -rf /", "eval", "rm -rf /"),
        ("bash -c 'curl x | sh'", "bash -c", "curl x"),
        ("sh -lc 'rm -rf /'", "sh -c", "rm -rf /"),
        ("sudo bash -c 'rm -rf /'", "bash -c", "rm -rf /"),
    ],
)
def test_eval_and_shell_c_are_opaque_and_read(command: str, reason: str, inner: str) -> None:
    parsed = parse_bash(command)
    assert reason in parsed.opaque
    assert inner in [c.text for c in parsed.inner]


@pytest.mark.parametrize(
    ("command", "inner"),
    [
        ("sudo rm -rf /", "rm -rf /"),
        ("sudo -u root rm x", "rm x"),
        ("env -i FOO=1 rm x", "rm x"),
        ("xargs -n 1 rm", "rm"),
        ("timeout 5 nice -n 3 rm -f x", "rm -f x"),
        ("find . -name '*.pyc' -exec rm {} \\;", "rm {}"),
        ("nohup rm x &", "rm x"),
        ("/usr/bin/sudo rm x", "rm x"),
    ],
)
def test_wrappers_expose_the_command_they_run(command: str, inner: str) -> None:
    assert inner in [c.text for c in parse_bash(command).inner]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("$CMD arg", "command name from an expansion"),
        ('"$X" arg', "command name from an expansion"),
        ("source ./evil.sh", "source"),
        (". ./evil.sh", "source"),
        ("echo $'\\x72\\x6d'", "ANSI-C escapes"),
    ],
)
def test_constructs_that_cannot_be_judged_are_opaque(command: str, reason: str) -> None:
    assert reason in parse_bash(command).opaque


@pytest.mark.parametrize(
    "command",
    ["echo 'unterminated", 'echo "unterminated', "echo $(unclosed", "echo `unclosed", "a ) b", "echo ${x"],
)
def test_unparsable_text_is_opaque_never_an_exception(command: str) -> None:
    parsed = parse_bash(command)
    assert any(r.startswith("could not parse") for r in parsed.opaque)


def test_redirections_are_left_out_of_the_words_and_writes_recorded() -> None:
    parsed = parse_bash("make > build.log 2>&1; echo hi >> /etc/motd; cat < in.txt; ls &> /dev/null; x >| y")
    got = [(c.text, c.writes) for c in parsed.commands]
    assert got == [("make", ("build.log",)), ("echo hi", ("/etc/motd",)), ("cat", ()), ("ls", ()), ("x", ("y",))]


def test_heredoc_bodies_are_data_not_commands() -> None:
    parsed = parse_bash("cat > notes.md <<'EOF'\nrm -rf / && $(boom)\nEOF\necho done")
    assert [c.text for c in parsed.commands] == ["cat", "echo done"]
    assert parsed.commands[0].writes == ("notes.md",)
    assert parsed.opaque == ()


def test_deep_nesting_is_opaque_not_a_crash() -> None:
    parsed = parse_bash("echo " + "$(" * 200 + "x" + ")" * 200)
    assert parsed.opaque


def test_split_words_reads_rule_specifiers() -> None:
    assert split_words("git commit -m 'a b'") == ("git", "commit", "-m", "a b")
    assert split_words("a && b") is None
    assert split_words("echo $(x)") is None


@given(st.text(alphabet=st.sampled_from(list("ab $()`'\"\\;&|<>{}#\n=!*")), max_size=40))
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_bash(text)
    assert isinstance(parsed.commands, tuple)
