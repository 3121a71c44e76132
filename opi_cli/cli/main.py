"""The ``opi`` Typer application: run (the default), chat, resume, sessions, models, export, schema.

Every command calls ``asyncio.run`` once. An :class:`~opi_cli.errors.OpiError` becomes one
line on stderr and its exit code (2 for usage/configuration); tracebacks only with
``--debug``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer

from opi_cli import __version__
from opi_cli.ai.types import ImageContent
from opi_cli.cli.options import SESSION_PARAM, RunOptions, with_common_options
from opi_cli.cli.settings import Settings
from opi_cli.errors import OpiError, UsageError

__all__ = ["app", "run_app"]

app = typer.Typer(
    name="opi",
    help=(
        "opi: a coding agent for your terminal.\n\n"
        "opi [OPTIONS] [MESSAGES]... runs the agent: interactive on a terminal, or "
        "non-interactive with -p/--print (final answer) or --json (one event per line); "
        "--mode rpc takes JSON commands on stdin (docs/rpc.md).\n\n"
        "Common options (all listed by `opi chat --help`): --model, --provider, --base-url, "
        "--api, --api-key, --thinking, --tools, --no-tools, -c/--continue, --no-session, "
        "--session-dir, --store, --system-prompt, --append-system-prompt, --max-turns, --timeout, --approval, "
        "--sandbox, --max-cost, --debug."
    ),
    add_completion=False,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"opi {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-v", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """opi: a coding agent for your terminal."""


def _stdin_text() -> str | None:
    if sys.stdin is None or sys.stdin.isatty():
        return None
    try:
        return sys.stdin.read()
    except (OSError, UnicodeDecodeError):
        return None


def _execute(opts: RunOptions) -> int:
    from opi_cli.cli.failures import warn_exposed_auth
    from opi_cli.cli.settings import load_settings

    machine = None
    if any((opts.mode, opts.input_format, opts.output_format, opts.json_snapshots, opts.include_partial_messages)):
        from opi_cli.cli.modes import run_machine, select_mode

        machine = select_mode(opts)  # --mode text/json only set -p/--json
    if opts.print_mode and opts.json_mode:
        raise UsageError("Use either -p/--print or --json, not both.")
    settings = load_settings()
    warn_exposed_auth(settings.auth_json)
    if machine is not None:
        return asyncio.run(run_machine(machine, opts, settings, _stdin_text))
    interactive = opts.interactive
    if interactive is None:
        interactive = not (opts.print_mode or opts.json_mode) and sys.stdin is not None and sys.stdin.isatty()
    opts.interactive = interactive
    if interactive:
        from opi_cli.cli.repl import run_repl

        code: int = asyncio.run(run_repl(opts, settings))
        return code
    stdin_text = _stdin_text()
    from opi_cli.cli.runtime import prepare_prompts

    prompts = prepare_prompts(opts.messages, stdin_text, settings.cwd, _slash_expander(settings))
    if not prompts:
        raise UsageError('No message given. Pass one as an argument (opi -p "task") or pipe it on stdin.')
    return asyncio.run(_run_headless(opts, settings, prompts))


def _slash_expander(settings: Settings) -> Any:
    """Headless, ``/template args`` and ``/skill:name args`` expand as in the REPL (as pi's -p
    does); REPL commands and any other ``/word`` are sent as typed."""
    from opi_cli.cli.customize import SlashPrompts, stderr_notice

    return SlashPrompts(settings.cwd, settings.home, stderr_notice, warn_skills=False).expand  # the run warns once


async def _run_headless(opts: RunOptions, settings: Settings, prompts: list[tuple[str, list[ImageContent]]]) -> int:
    from opi_cli.cli.print_mode import run_noninteractive
    from opi_cli.cli.runtime import build_runtime

    rt = await build_runtime(opts, settings)
    rt.show_notices_on_stderr()
    return await run_noninteractive(rt, prompts, json_mode=opts.json_mode, snapshots=opts.json_snapshots)


def _exit(code: int) -> None:
    raise typer.Exit(code)


@app.command("run", hidden=True)
@with_common_options()
def run_command(opts: RunOptions) -> None:
    """Run the agent (the default command)."""
    _exit(_guarded(opts))


@app.command("chat")
@with_common_options(interactive=True)
def chat_command(opts: RunOptions) -> None:
    """Start the interactive REPL; each MESSAGE is sent in turn first."""
    _exit(_guarded(opts))


@app.command("resume")
@with_common_options([SESSION_PARAM])
def resume_command(opts: RunOptions) -> None:
    """Reopen a session (a path, or an id prefix), interactively or with -p/--json."""
    _exit(_guarded(opts))


def _guarded(opts: RunOptions) -> int:
    try:
        return _execute(opts)
    except KeyboardInterrupt:
        return 130
    except OpiError as exc:
        if opts.debug:
            raise
        sys.stderr.write(f"opi: {exc}\n")
        return exc.exit_code


sessions_app = typer.Typer(help="List and check sessions.", invoke_without_command=True, add_completion=False)
app.add_typer(sessions_app, name="sessions")


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


def _run_simple(fn: Any) -> None:
    try:
        code = fn()
    except OpiError as exc:
        sys.stderr.write(f"opi: {exc}\n")
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(code)


@sessions_app.callback()
def sessions_command(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Sessions of every folder, not just this one.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per session.")] = False,
    session_dir: Annotated[str | None, typer.Option("--session-dir", help="Where session files are stored.")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Session store DSN (postgresql://...).")] = None,
) -> None:
    """List sessions: id, name or first message, message count, last activity, size."""
    if ctx.invoked_subcommand is not None:
        return
    from opi_cli.cli.session_commands import list_sessions

    settings = _settings_or_exit()
    opts = RunOptions(session_dir=session_dir, store=store)
    _run_simple(lambda: list_sessions(settings, opts, all_=all_, as_json=as_json, console=_console()))


@sessions_app.command("doctor")
def doctor_command(
    path: Annotated[str, typer.Argument(help="The session file to check.")],
    fix: Annotated[bool, typer.Option("--repair", help="Write a fixed copy; the original is kept as *.bak.")] = False,
) -> None:
    """Check a session file (header, damaged lines, torn tail, orphans); --repair fixes it."""
    from pathlib import Path

    from opi_cli.cli.session_commands import doctor

    _run_simple(lambda: doctor(Path(path).expanduser(), fix=fix, console=_console()))


@app.command("export")
def export_command(
    session: Annotated[str, typer.Argument(help="Session file path, or an id prefix.")],
    out: Annotated[str | None, typer.Argument(help="OUT.html or OUT.md (default: opi-session-<id>.html).")] = None,
    session_dir: Annotated[str | None, typer.Option("--session-dir", help="Where session files are stored.")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Session store DSN (postgresql://...).")] = None,
) -> None:
    """Render a session to a self-contained HTML or Markdown file."""
    from opi_cli.cli.session_commands import export_session

    settings = _settings_or_exit()
    opts = RunOptions(session_dir=session_dir, store=store)
    _run_simple(lambda: export_session(settings, opts, session, out, _console()))


@app.command("models")
def models_command(
    search: Annotated[str | None, typer.Argument(help="Only models whose provider/id contains this.")] = None,
) -> None:
    """List known models: context window, max output, reasoning, images, price per million tokens."""
    from opi_cli.cli.listing import print_models

    try:
        print_models(search)
    except OpiError as exc:
        sys.stderr.write(f"opi: {exc}\n")
        raise typer.Exit(exc.exit_code) from None


@app.command("extensions")
def extensions_command() -> None:
    """List the Python extensions that load here, where each comes from and what it adds."""
    from opi_cli.cli.extension_list import list_extensions

    settings = _settings_or_exit()
    _run_simple(lambda: list_extensions(settings, _console()))


@app.command("schema")
def schema_command(
    rpc: Annotated[bool, typer.Option("--rpc", help="The commands, responses and events of --mode rpc instead.")] = False,
    snapshots: Annotated[bool, typer.Option("--snapshots", help="The --json-snapshots shape (pi's) instead.")] = False,
) -> None:
    """Print the JSON Schema of the --json event stream."""
    from opi_cli.cli.schema import event_stream_schema

    if rpc:
        from opi_cli.cli.rpc_schema import rpc_schema

        sys.stdout.write(json.dumps(rpc_schema(snapshots=snapshots), indent=2) + "\n")
        return
    sys.stdout.write(json.dumps(event_stream_schema(snapshots=snapshots), indent=2) + "\n")


def run_app(argv: list[str]) -> None:
    """Run the Typer app with ``argv`` (already routed) and exit with its code."""
    from opi_cli.cli.failures import one_line_errors

    with one_line_errors(debug="--debug" in argv):  # whatever a command did not handle: one line
        app(args=argv, prog_name="opi")
