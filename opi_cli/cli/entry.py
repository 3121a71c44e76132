"""Process entry point: the fast ``--version`` path, subcommand routing, exit codes.

``opi --version`` must not import Typer, rich or httpx (startup budget: ARCHITECTURE.md),
so it is answered here before anything else is loaded. Every other invocation goes to the
Typer app, routed by :func:`route`: the first word that is not an option (nor an option's
value) decides. If it names a subcommand, that subcommand runs with every other word, so
options work before and after it (``opi --model m resume FILE -p hi``); otherwise the words
are the message of the default command. A word that names a subcommand is never a prompt
(after ``--`` every word is message text).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping

__all__ = ["CommandTree", "main", "route"]

CommandTree = Mapping[str, "CommandTree"]
"""Subcommand names, each with its own subcommands (``{"sessions": {"doctor": {}}, ...}``)."""

DEFAULT_COMMAND = "run"
HELP = frozenset({"--help", "-h"})
VERSION = frozenset({"--version", "-v", "-V"})


def _positionals(argv: list[str], takes_value: Collection[str]) -> list[int]:
    """Indexes of the words that are neither options nor option values (up to ``--``)."""
    out: list[int] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            break
        if word.startswith("-") and word != "-":
            i += 2 if word in takes_value else 1  # --opt=value and flags are one word
            continue
        out.append(i)
        i += 1
    return out


def route(argv: list[str], commands: CommandTree, takes_value: Collection[str]) -> list[str]:
    """The arguments for the Typer app: the subcommand path first, then every other word.

    Args:
        argv: the process arguments.
        commands: the visible subcommands (the hidden default command is not one).
        takes_value: the option spellings that take a value (``--model``, ``-m``, ...).
    """
    positions = _positionals(argv, takes_value)
    path: list[int] = []
    level = commands
    for pos in positions:
        if argv[pos] not in level:
            break
        path.append(pos)
        level = level[argv[pos]]
    if path:
        rest = [w for i, w in enumerate(argv) if i not in path]
        return [argv[i] for i in path] + rest
    head = argv[: argv.index("--")] if "--" in argv else argv
    if any(w in HELP for w in head):
        return ["--help"]  # the root help lists the default command's options too
    if any(w in VERSION for w in head):
        return ["--version"]
    return [DEFAULT_COMMAND, *argv]


def skip_unused_imports() -> None:
    """Keep two optional imports out of every run's start (~130 ms where they are installed).

    httpx imports its own command-line tool (click, rich.syntax, pygments) whenever those
    are installed, and httpcore imports trio whenever trio is installed, to offer it as an
    async backend. opi runs on asyncio and never calls httpx's CLI, so the CLI process marks
    both modules absent and the imports fall back as if they were not installed. The library
    (``import opi_cli``) leaves ``sys.modules`` alone: its callers may use either.
    """
    absent: dict[str, object] = {"httpx._main": None, "trio": None}
    for name, module in absent.items():
        sys.modules.setdefault(name, module)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-v"], ["-V"]):
        from opi_cli import __version__

        sys.stdout.write(f"opi {__version__}\n")
        return
    skip_unused_imports()
    if args[:1] == ["mcp"]:  # its own Typer app, built only now; keeps `--` before a server's command
        from opi_cli.cli.mcp_cli import run_mcp

        run_mcp(args[1:])
        return
    from opi_cli.cli.process_exit import exit_code, exit_now

    try:
        _run(args)
    except SystemExit as exc:
        if argv is not None:  # called in-process: leave the interpreter alone
            raise
        exit_now(exit_code(exc))  # the process's work is done: skip the interpreter's teardown


def _run(args: list[str]) -> None:
    """Run the command ``args`` name; ends with ``SystemExit`` (its exit code).

    A plain run's line is read without Typer (:mod:`opi_cli.cli.fast_args`); every other
    line, and any line that reader leaves alone, goes to the Typer application.
    """
    from opi_cli.cli.fast_args import parse_run

    opts = parse_run(args)
    if opts is None:
        from opi_cli.cli.main import run_app

        run_app(args)
        return
    from opi_cli.cli.failures import one_line_errors
    from opi_cli.cli.run_flow import guarded

    with one_line_errors(debug=opts.debug):  # whatever the run did not handle: one line
        code = guarded(opts)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
