"""``opi mcp``: the Typer commands (list, get, add, remove, approve, deny); the work is in ``mcp_manage``.

Kept free of rich and of the MCP client, so registering it costs every other command
nothing: each command imports :mod:`opi_cli.cli.mcp_manage` when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from opi_cli.cli.settings import Settings
from opi_cli.errors import OpiError

__all__ = ["mcp_app", "run_mcp"]

mcp_app = typer.Typer(
    help="Manage MCP servers (external tools).",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _run(work: Callable[[Settings], int]) -> None:
    from opi_cli.cli.settings import load_settings

    try:
        code = work(load_settings())
    except OpiError as exc:
        sys.stderr.write(f"opi: {exc}\n")
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(code)


@mcp_app.command("list")
def list_command(
    no_check: Annotated[bool, typer.Option("--no-check", help="Do not start the servers to check them.")] = False,
) -> None:
    """List the configured servers (all scopes) and whether each one answers."""
    from opi_cli.cli.mcp_manage import list_servers

    _run(lambda s: list_servers(s, check=not no_check))


@mcp_app.command("get")
def get_command(name: Annotated[str, typer.Argument(help="The server's name.")]) -> None:
    """Show one server: where it is configured, how it runs, its state, tools and prompts."""
    from opi_cli.cli.mcp_manage import show_server

    _run(lambda s: show_server(s, name))


@mcp_app.command("add", context_settings={"ignore_unknown_options": True})
def add_command(
    name: Annotated[str, typer.Argument(help="A name for the server (its tools become mcp__NAME__TOOL).")],
    target: Annotated[list[str], typer.Argument(help="COMMAND [ARGS...] of a stdio server (after --), or a URL.")],
    scope: Annotated[str, typer.Option("--scope", "-s", help="user (default), project (.mcp.json) or local (.opi/settings.json).")] = "user",
    transport: Annotated[str, typer.Option("--transport", "-t", help="stdio (default), http or sse.")] = "stdio",
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE for a stdio server (repeatable).")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="'Name: value' for an http/sse server (repeatable).")] = None,
) -> None:
    """Add a server, e.g. `opi mcp add fs -- npx -y @modelcontextprotocol/server-filesystem .`"""
    from opi_cli.cli.mcp_manage import add_server

    _run(lambda s: add_server(s, name, target, scope=scope, transport=transport, env=env or [], headers=header or []))


@mcp_app.command("remove")
def remove_command(
    name: Annotated[str, typer.Argument(help="The server's name.")],
    scope: Annotated[str | None, typer.Option("--scope", "-s", help="user, project or local (when several have it).")] = None,
) -> None:
    """Remove a server from the file that has it (other settings are kept)."""
    from opi_cli.cli.mcp_manage import remove_server

    _run(lambda s: remove_server(s, name, scope=scope))


@mcp_app.command("approve")
def approve_command(names: Annotated[list[str], typer.Argument(help="Project servers to allow in this folder.")]) -> None:
    """Allow project servers (.mcp.json, .opi/settings.json) of this folder to start."""
    from opi_cli.cli.mcp_manage import answer

    _run(lambda s: answer(s, names, approved=True))


@mcp_app.command("deny")
def deny_command(names: Annotated[list[str], typer.Argument(help="Project servers to refuse in this folder.")]) -> None:
    """Refuse project servers of this folder (not started, not asked about again)."""
    from opi_cli.cli.mcp_manage import answer

    _run(lambda s: answer(s, names, approved=False))


def run_mcp(argv: list[str]) -> None:
    """``opi mcp ARGS...`` (the entry point routes here directly, so ``--`` reaches ``add``)."""
    from opi_cli.cli.failures import one_line_errors

    with one_line_errors(debug="--debug" in argv):  # a full disk or a read-only folder: one line
        mcp_app(args=argv, prog_name="opi mcp")
