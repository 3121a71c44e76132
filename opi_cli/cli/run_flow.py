"""Running the agent from a command line's options: the default command, ``chat`` and ``resume``.

Kept apart from the Typer application (:mod:`opi_cli.cli.main`): a plain run's command line
is read by :mod:`opi_cli.cli.fast_args` and comes here without Typer being loaded.

Every run calls ``asyncio.run`` once. An :class:`~opi_cli.errors.OpiError` becomes one
line on stderr and its exit code (2 for usage/configuration); tracebacks only with
``--debug``. Under ``--json`` a run that cannot start still ends its stream with a
``session_summary`` line (exit code 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

from opi_cli.ai.types import ImageContent
from opi_cli.cli.failures import OutputError
from opi_cli.cli.options import RunOptions
from opi_cli.cli.settings import Settings
from opi_cli.errors import OpiError, UsageError

__all__ = ["check_repeated_modes", "guarded"]


def _stdin_text() -> str | None:
    if sys.stdin is None or sys.stdin.isatty():
        return None
    try:
        return sys.stdin.read()
    except (OSError, UnicodeDecodeError):
        return None


def _modes(opts: RunOptions) -> Any:
    """Check that the mode flags agree; returns the machine mode (rpc, stream-json) if any.

    Raises:
        UsageError: flags that contradict each other (no stream is chosen: nothing on stdout).
    """
    machine = None
    if any((opts.mode, opts.input_format, opts.output_format, opts.json_snapshots, opts.include_partial_messages)):
        from opi_cli.cli.modes import select_mode

        machine = select_mode(opts)  # --mode text/json only set -p/--json
    if opts.print_mode and opts.json_mode:
        raise UsageError("Use either -p/--print or --json, not both.")
    if opts.session and opts.no_session:
        raise UsageError("`opi resume` continues a stored session; --no-session keeps a new one in memory. "
                         "Drop one of them.")
    return machine


def _execute(opts: RunOptions, machine: Any) -> int:
    from opi_cli.cli.failures import warn_exposed_auth
    from opi_cli.cli.settings import load_settings

    settings = load_settings()
    warn_exposed_auth(settings.auth_json)
    if machine is not None:
        from opi_cli.cli.modes import run_machine

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

    prompts = prepare_prompts(opts.messages, stdin_text, settings.cwd, _slash_expander(settings), then=opts.then)
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


def _json_failure(message: str, code: int, started: float) -> None:
    """The ``session_summary`` of a ``--json`` run that could not start (no session exists)."""
    from opi_cli._util.jsonio import dumps
    from opi_cli.agent.events import SessionSummary
    from opi_cli.ai.types import Usage

    summary = SessionSummary("", None, "error", 0, Usage(), int((time.monotonic() - started) * 1000), code, message)
    with contextlib.suppress(OSError, ValueError):  # an unwritable stdout has its own one line
        sys.stdout.write(dumps(summary.to_json()) + "\n")
        sys.stdout.flush()


def guarded(opts: RunOptions) -> int:
    """Run the agent as ``opts`` say (REPL, -p, --json, a machine mode); the exit code. An
    ``OpiError`` is one stderr line (and, under ``--json``, the closing ``session_summary``)."""
    started = time.monotonic()
    stream = False  # the flags settled on opi's --json stream: it gets its closing summary
    try:
        machine = _modes(opts)
        stream = opts.json_mode and machine is None
        return _execute(opts, machine)
    except KeyboardInterrupt:
        return 130
    except OpiError as exc:
        if opts.debug:
            raise
        if stream and not isinstance(exc, OutputError):  # stdout itself failed: nothing more to write
            _json_failure(str(exc), exc.exit_code, started)
        sys.stderr.write(f"opi: {exc}\n")
        return exc.exit_code


def check_repeated_modes(argv: list[str]) -> None:
    """A mode switch given twice is a usage error: the words after it were meant as a prompt."""
    head = argv[: argv.index("--")] if "--" in argv else argv
    for flags in (("-p", "--print"), ("--json",)):
        if sum(w in flags for w in head) > 1:
            raise UsageError(
                f"{flags[-1]} is a switch, not the message: all words form one prompt. "
                'To send several prompts in turn use --then: opi -p "first" --then "second".'
            )
