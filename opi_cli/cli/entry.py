"""Process entry point: the fast ``--version`` path, default-command routing, exit codes.

``opi --version`` must not import Typer, rich or httpx (startup budget: ARCHITECTURE.md),
so it is answered here before anything else is loaded. Every other invocation goes to the
Typer app; a bare ``opi [options] [messages]`` is routed to the hidden ``run`` command.
"""

from __future__ import annotations

import sys

COMMANDS = frozenset({"chat", "resume", "sessions", "models", "export", "schema", "extensions", "run", "mcp"})
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
    from opi_cli.cli.main import run_app

    run_app(route(args))


if __name__ == "__main__":
    main()
