"""Routing of the process arguments (cli/entry.py ``route``), against the real command tree."""

from __future__ import annotations

import pytest

from opi_cli.cli.entry import route
from opi_cli.cli.main import _names, _run_only, _tree, _value_options, app


@pytest.fixture(scope="module")
def tree_and_values() -> tuple[dict[str, object], frozenset[str]]:
    import typer

    group = typer.main.get_command(app)
    return _tree(group), _value_options(group.commands["run"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("argv", "routed"),
    [
        ([], ["run"]),
        (["-p", "hi", "there"], ["run", "-p", "hi", "there"]),
        (["--model", "m", "resume", "F", "-p", "hi"], ["resume", "--model", "m", "F", "-p", "hi"]),
        (["--model=m", "sessions"], ["sessions", "--model=m"]),
        (["-m", "chat", "-p", "hi"], ["run", "-m", "chat", "-p", "hi"]),  # an option's value is not a command
        (["--session-dir", "d", "sessions", "doctor", "x"], ["sessions", "doctor", "--session-dir", "d", "x"]),
        (["sessions", "--all"], ["sessions", "--all"]),
        (["-p", "--", "resume"], ["run", "-p", "--", "resume"]),  # after -- every word is the message
        (["--model", "x", "--help"], ["--help"]),
        (["run", "--help"], ["--help"]),  # the hidden default command is not a word to type
        (["run", "the", "tests"], ["run", "run", "the", "tests"]),
        (["-p", "--version"], ["--version"]),
        (["export", "abc", "out.md", "--store", "postgresql://x"], ["export", "abc", "out.md", "--store", "postgresql://x"]),
    ],
)
def test_route(tree_and_values: tuple[dict[str, object], frozenset[str]], argv: list[str], routed: list[str]) -> None:
    tree, values = tree_and_values
    assert route(argv, tree, values) == routed  # type: ignore[arg-type]


def test_every_visible_command_is_routed(tree_and_values: tuple[dict[str, object], frozenset[str]]) -> None:
    tree, values = tree_and_values
    assert set(tree) == {"chat", "resume", "sessions", "models", "export", "schema", "login", "mcp", "extensions"}
    assert tree["sessions"] == {"doctor": {}}
    assert {"--model", "-m", "--then", "--session-dir", "--system-prompt"} <= values
    assert "-p" not in values and "--json" not in values


def test_the_tree_read_from_the_registrations_is_the_converted_tree() -> None:
    """A run routes with the names as registered (without converting every command)."""
    import typer

    assert _names(app) == _tree(typer.main.get_command(app))
    assert "sessions" in _names(app) and "doctor" in _names(app)["sessions"]


def test_the_run_only_app_runs_the_same_command_with_the_same_options() -> None:
    import typer

    whole, run_only = typer.main.get_command(app), typer.main.get_command(_run_only)
    assert list(run_only.commands) == ["run"]  # type: ignore[attr-defined]
    run, same = whole.commands["run"], run_only.commands["run"]  # type: ignore[attr-defined]
    assert type(run) is type(same) and run.hidden and same.hidden and run.help == same.help
    assert [p.opts for p in run.params] == [p.opts for p in same.params]
    assert [p.opts for p in whole.params] == [p.opts for p in run_only.params]  # --version
