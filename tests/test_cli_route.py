"""Routing of the process arguments (cli/entry.py ``route``), against the real command tree."""

from __future__ import annotations

from typing import Any

import pytest

from opi_cli.cli.entry import route
from opi_cli.cli.fast_args import COMMANDS, VALUE_OPTIONS
from opi_cli.cli.main import _run_only, app


def _tree(group: Any) -> dict[str, Any]:
    """The visible subcommands of a (Typer's click) group, recursively."""
    return {name: _tree(cmd) for name, cmd in getattr(group, "commands", {}).items() if not cmd.hidden}


def _value_options(command: Any) -> frozenset[str]:
    """The option spellings of ``command`` that take a value."""
    return frozenset(
        spelling
        for p in command.params
        if p.param_type_name == "option" and not p.is_flag and not p.count
        for spelling in (*p.opts, *p.secondary_opts)
    )


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


def test_the_routing_tables_are_the_converted_apps(tree_and_values: tuple[dict[str, object], frozenset[str]]) -> None:
    """Every line is routed with the Typer-free tables of cli/fast_args.py (without converting the app)."""
    tree, values = tree_and_values
    assert tree == COMMANDS and values == VALUE_OPTIONS
    assert "sessions" in COMMANDS and "doctor" in COMMANDS["sessions"]  # type: ignore[operator]


def test_the_run_only_app_runs_the_same_command_with_the_same_options() -> None:
    import typer

    whole, run_only = typer.main.get_command(app), typer.main.get_command(_run_only)
    assert list(run_only.commands) == ["run"]  # type: ignore[attr-defined]
    run, same = whole.commands["run"], run_only.commands["run"]  # type: ignore[attr-defined]
    assert type(run) is type(same) and run.hidden and same.hidden and run.help == same.help
    assert [p.opts for p in run.params] == [p.opts for p in same.params]
    assert [p.opts for p in whole.params] == [p.opts for p in run_only.params]  # --version
