"""The ``opi`` Typer application: run (the default), chat, resume, sessions, models, export, schema, login.

Every command calls ``asyncio.run`` once. An :class:`~opi_cli.errors.OpiError` becomes one
line on stderr and its exit code (2 for usage/configuration); tracebacks only with
``--debug``. Under ``--json`` a run that cannot start still ends its stream with a
``session_summary`` line (exit code 2).
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Annotated, Any

import typer

from opi_cli import __version__
from opi_cli.cli import run_flow
from opi_cli.cli.entry import route
from opi_cli.cli.fast_args import COMMANDS, VALUE_OPTIONS
from opi_cli.cli.help_format import DefaultCommand, PlainCommand, PlainGroup, RootGroup
from opi_cli.cli.options import RunOptions
from opi_cli.cli.settings import Settings
from opi_cli.cli.typer_options import SESSION_PARAM, with_common_options
from opi_cli.errors import OpiError

__all__ = ["app", "run_app"]

_DESCRIPTION = (
    "opi: a coding agent for your terminal.\n\n"
    "opi [OPTIONS] [MESSAGE]... runs the agent: interactive on a terminal, or non-interactive "
    "with -p/--print (final answer) or --json (one event per line); --mode rpc takes JSON "
    "commands on stdin (docs/rpc.md). All the words form one "
    "prompt; --then MESSAGE sends another one after it. Options may come before or after "
    "any COMMAND; after -- every word is message text."
)


def _root_app() -> typer.Typer:
    return typer.Typer(
        name="opi",
        cls=RootGroup,
        help=_DESCRIPTION,
        add_completion=False,
        no_args_is_help=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = _root_app()
_run_only = _root_app()
"""The same root with only the default command: a run converts just that command to click
(Typer converting the whole tree costs ~11 ms at every start); any other command, ``--help``
and ``--version`` get the whole ``app``."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"opi {__version__}")
        raise typer.Exit()


@app.callback()
@_run_only.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-v", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """opi: a coding agent for your terminal."""


def _exit(code: int) -> None:
    raise typer.Exit(code)


@app.command("run", hidden=True, cls=DefaultCommand)
@_run_only.command("run", hidden=True, cls=DefaultCommand)
@with_common_options()
def run_command(opts: RunOptions) -> None:
    """Run the agent (the default command)."""
    _exit(run_flow.guarded(opts))


@app.command("chat", cls=PlainCommand)
@with_common_options(interactive=True)
def chat_command(opts: RunOptions) -> None:
    """Start the interactive REPL; the MESSAGE (if any) is sent first."""
    _exit(run_flow.guarded(opts))


@app.command("resume", cls=PlainCommand)
@with_common_options([SESSION_PARAM])
def resume_command(opts: RunOptions, session: str) -> None:
    """Reopen a session (a path, or an id prefix), interactively or with -p/--json."""
    opts.session = session
    _exit(run_flow.guarded(opts))


sessions_app = typer.Typer(help="List and check sessions.", invoke_without_command=True, add_completion=False,
                           cls=PlainGroup)
app.add_typer(sessions_app, name="sessions")
_STORE_OPTIONS = ("session_dir", "store")


@app.command("mcp", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def mcp_command(ctx: typer.Context) -> None:
    """Manage MCP servers (external tools): list, get, add, remove, approve, deny."""
    # listed here for --help; entry.main runs `opi mcp` itself (its commands are built only then)
    from opi_cli.cli.mcp_cli import run_mcp

    run_mcp(list(ctx.args))


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False)


def _settings_or_exit() -> Settings:
    from opi_cli.cli.settings import load_settings

    try:
        return load_settings()
    except OpiError as exc:
        sys.stderr.write(f"opi: {exc}\n")
        raise typer.Exit(exc.exit_code) from None


def _run_simple(fn: Any, opts: RunOptions | None = None) -> None:
    try:
        code = fn()
    except OpiError as exc:
        if opts is not None and opts.debug:
            raise
        sys.stderr.write(f"opi: {exc}\n")
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(code)


def _param(name: str, annotation: Any, default: Any = None) -> Any:
    """A command's own parameter, placed before the common options."""
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default)


_REQUIRED: Any = inspect.Parameter.empty


@sessions_app.callback()
@with_common_options(
    [
        _param("ctx", typer.Context, _REQUIRED),
        _param("all_", Annotated[bool, typer.Option("--all", "-a", help="Sessions of every folder, not just this one.")],
               False),
        _param("as_json", Annotated[bool, typer.Option("--json", help="One JSON object per session.")], False),
    ],
    only_global=True,
    shown=_STORE_OPTIONS,
)
def sessions_command(opts: RunOptions, ctx: typer.Context, all_: bool = False, as_json: bool = False) -> None:
    """List sessions: id, name or first message, message count, last activity, size."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = opts  # `sessions doctor` sees the options given before it
        return
    from opi_cli.cli.session_commands import list_sessions

    settings = _settings_or_exit()
    _run_simple(lambda: list_sessions(settings, opts, all_=all_, as_json=as_json, console=_console()),
                opts)


def _merged(opts: RunOptions, ctx: typer.Context) -> RunOptions:
    """``opts`` with the store options given to a parent command filled in."""
    parent = ctx.obj
    if isinstance(parent, RunOptions):
        opts.session_dir = opts.session_dir or parent.session_dir
        opts.store = opts.store or parent.store
        opts.debug = opts.debug or parent.debug
    return opts


@sessions_app.command("doctor", cls=PlainCommand)
@with_common_options(
    [
        _param("session", Annotated[str, typer.Argument(metavar="SESSION", help="Session file path, or an id prefix.")],
               _REQUIRED),
        _param("ctx", typer.Context, _REQUIRED),
        _param("fix", Annotated[bool, typer.Option("--repair", help="Write a fixed copy; the original is kept as *.bak.")],
               False),
    ],
    only_global=True,
    shown=_STORE_OPTIONS,
)
def doctor_command(opts: RunOptions, session: str, ctx: typer.Context, fix: bool = False) -> None:
    """Check a session file (header, damaged lines, torn tail, orphans); --repair fixes it."""
    from opi_cli.cli.session_commands import doctor

    opts = _merged(opts, ctx)
    settings = _settings_or_exit()
    _run_simple(lambda: doctor(settings, opts, session, fix=fix, console=_console()), opts)


@app.command("export", cls=PlainCommand)
@with_common_options(
    [
        _param("session", Annotated[str, typer.Argument(metavar="SESSION", help="Session file path, or an id prefix.")],
               _REQUIRED),
        _param("out", Annotated[str | None, typer.Argument(
            metavar="[OUT]", help="OUT.html or OUT.md (default: opi-session-<id>.html).", show_default=False)]),
    ],
    only_global=True,
    shown=_STORE_OPTIONS,
)
def export_command(opts: RunOptions, session: str, out: str | None = None) -> None:
    """Render a session to a self-contained HTML or Markdown file."""
    from opi_cli.cli.session_commands import export_session

    settings = _settings_or_exit()
    _run_simple(lambda: export_session(settings, opts, session, out, _console()), opts)


@app.command("models", cls=PlainCommand)
@with_common_options(
    [_param("search", Annotated[str | None, typer.Argument(
        metavar="[SEARCH]", help="Only models whose provider/id contains this.", show_default=False)])],
    only_global=True,
)
def models_command(opts: RunOptions, search: str | None = None) -> None:
    """List every provider and known model: context window, max output, reasoning, images, prices."""
    from opi_cli.cli.listing import print_models

    _run_simple(lambda: print_models(search), opts)


@app.command("login", cls=PlainCommand)
@with_common_options(
    [_param("name", Annotated[str | None, typer.Argument(
        metavar="PROVIDER", help="openai, anthropic, groq, ... (`opi models` lists them).", show_default=False)])],
    only_global=True,
)
def login_command(opts: RunOptions, name: str | None = None) -> None:
    """Store an API key for PROVIDER in OPI_HOME/auth.json (mode 0600); typed without echo, or piped."""
    from opi_cli.cli.login import run_login

    _run_simple(lambda: run_login(name or opts.provider), opts)


@app.command("extensions", cls=PlainCommand)
@with_common_options([], only_global=True)
def extensions_command(opts: RunOptions) -> None:
    """List the Python extensions that load here, where each comes from and what it adds."""
    from opi_cli.cli.extension_list import list_extensions

    settings = _settings_or_exit()
    _run_simple(lambda: list_extensions(settings, _console()), opts)


@app.command("schema", cls=PlainCommand)
@with_common_options(
    [
        _param("rpc", Annotated[bool, typer.Option("--rpc", help="The commands, responses and events of --mode rpc instead.")],
               False),
        _param("snapshots", Annotated[bool, typer.Option("--snapshots", help="The --json-snapshots shape (pi's) instead.")],
               False),
    ],
    only_global=True,
)
def schema_command(opts: RunOptions, rpc: bool = False, snapshots: bool = False) -> None:
    """Print the JSON Schema of the --json event stream."""
    from opi_cli.cli.schema import event_stream_schema

    if rpc:
        from opi_cli.cli.rpc_schema import rpc_schema

        sys.stdout.write(json.dumps(rpc_schema(snapshots=snapshots), indent=2) + "\n")
        return
    sys.stdout.write(json.dumps(event_stream_schema(snapshots=snapshots), indent=2) + "\n")


def run_app(argv: list[str]) -> None:
    """Route ``argv`` (see :func:`~opi_cli.cli.entry.route`), run the Typer app, exit with its code."""
    from opi_cli.cli.failures import one_line_errors
    from opi_cli.cli.plain_params import plain_conversion

    with one_line_errors(debug="--debug" in argv):  # whatever a command did not handle: one line
        routed = route(argv, COMMANDS, VALUE_OPTIONS)
        if routed[:1] == ["mcp"]:  # options before `opi mcp`: its own app takes the rest
            from opi_cli.cli.mcp_cli import run_mcp

            run_mcp(routed[1:])
            return
        if routed[:1] == ["run"]:
            run_flow.check_repeated_modes(argv)
        group: Any = typer.main.get_command(_run_only if routed[:1] == ["run"] else app)
        plain_conversion(group)  # no pydantic for plain option values
        group(args=routed, prog_name="opi")
