"""Process entry point: the fast ``--version`` path, default-command routing, exit codes.

``opi --version`` must not import Typer, rich or httpx (startup budget: ARCHITECTURE.md),
so it is answered here before anything else is loaded. Every other invocation goes to the
Typer app; a bare ``opi [options] [messages]`` is routed to the hidden ``run`` command.
"""

from __future__ import annotations

import sys

COMMANDS = frozenset({"chat", "resume", "sessions", "models", "export", "schema", "run"})
ROOT_ONLY = frozenset({"--help", "-h", "--install-completion", "--show-completion"})


def route(argv: list[str]) -> list[str]:
    """Insert the implicit ``run`` command when no subcommand is named."""
    if not argv:
        return ["run"]
    if argv[0] in ROOT_ONLY:
        return argv
    if argv[0] in COMMANDS:
        return argv
    # the first positional word decides; options before it may take values
    return ["run", *argv]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-v"], ["-V"]):
        from opi_cli import __version__

        sys.stdout.write(f"opi {__version__}\n")
        return
    from opi_cli.cli.main import run_app

    run_app(route(args))


if __name__ == "__main__":
    main()
