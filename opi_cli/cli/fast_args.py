"""A plain run's command line, read without Typer (importing Typer and building its
command costs ~30 ms of every start; a scripted ``opi --json "task"`` pays it each time).

:func:`parse_run` reads the command lines people and scripts type every day: the default
command's words and the common options of :data:`~opi_cli.cli.options.OPTIONS`, each as
``--name value``, ``--name=value``, ``-x value`` or a flag, with the values Typer would
convert the same way. Anything else returns None and the Typer application reads the
line as before, with its own words for what is wrong: a subcommand, ``--help`` or
``--version``, an unknown or misspelt option, ``-pc`` or ``-mX``, a missing value, a value
that starts with ``-``, a number Typer would refuse, ``-p`` twice. ``tests/test_fast_args.py``
holds both readers to the same :class:`~opi_cli.cli.options.RunOptions` for every line
this one accepts.
"""

from __future__ import annotations

from typing import Any

from opi_cli.cli.entry import CommandTree, route
from opi_cli.cli.options import OPTIONS, RunOptions
from opi_cli.cli.plain_params import plain_decimal, plain_integer
from opi_cli.errors import UsageError

__all__ = ["COMMANDS", "VALUE_OPTIONS", "parse_run"]

COMMANDS: CommandTree = {
    "chat": {}, "resume": {}, "mcp": {}, "export": {}, "models": {}, "login": {}, "extensions": {}, "schema": {},
    "sessions": {"doctor": {}},
}
"""The visible subcommands, for :func:`~opi_cli.cli.entry.route` (a test keeps this equal to
the Typer application's)."""

_BY_SPELLING = {decl: spec for spec in OPTIONS for decl in spec.decls}
VALUE_OPTIONS = frozenset(decl for spec in OPTIONS if spec.kind != "flag" for decl in spec.decls)
"""The option spellings that take a value (the default command's, as Typer builds them)."""


def parse_run(argv: list[str]) -> RunOptions | None:
    """The options of the default command for ``argv``, or None to leave ``argv`` to Typer."""
    if route(argv, COMMANDS, VALUE_OPTIONS)[:1] != ["run"]:
        return None
    from opi_cli.cli.run_flow import check_repeated_modes

    try:
        check_repeated_modes(argv)
    except UsageError:
        return None
    values: dict[str, Any] = {}
    messages: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            messages.extend(words)
            break
        if word[:1] != "-" or word == "-":
            messages.append(word)
            continue
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        spec = _BY_SPELLING.get(name)
        if spec is None:
            return None
        if spec.kind == "flag":
            if eq:
                return None
            values[spec.name] = True
            continue
        raw = inline if eq else next(words, None)
        if raw is None or raw[:1] == "-":
            return None
        if spec.kind == "texts":
            values.setdefault(spec.name, []).append(raw)
        elif spec.kind == "text":
            values[spec.name] = raw
        else:
            number = plain_integer(raw, spec.minimum) if spec.kind == "int" else plain_decimal(raw)
            if number is None:
                return None
            values[spec.name] = number
    return RunOptions(messages=messages, **values)
