"""The machine modes by their peers' names: pi's ``--mode``, Claude Code's ``--input-format``/``--output-format``.

``--mode text`` is ``-p``, ``--mode json`` is ``--json``, ``--mode rpc`` is the RPC protocol
(cli/rpc.py, docs/rpc.md). ``--output-format text|json|stream-json`` and ``--input-format
text|stream-json`` are Claude Code's (cli/stream_json.py). :func:`select_mode` checks the
combination (a bad one is a :class:`~opi_cli.errors.UsageError` naming the fix) and says
which protocol to run, if any; :func:`run_machine` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from opi_cli.cli.options import RunOptions
from opi_cli.cli.settings import Settings
from opi_cli.errors import UsageError

__all__ = ["Machine", "run_machine", "select_mode"]

Machine = Literal["rpc", "claude"]


def _check(value: str | None, flag: str, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise UsageError(f"Unknown {flag} '{value}': use {', '.join(allowed[:-1])} or {allowed[-1]}.")


def _pi_mode(opts: RunOptions) -> Machine | None:
    if opts.input_format or opts.output_format:
        raise UsageError("Use either --mode (pi's names) or --input-format/--output-format (Claude Code's), not both.")
    if opts.mode == "text":
        opts.print_mode = True
    elif opts.mode == "json":
        opts.json_mode = True
    else:
        if opts.print_mode or opts.json_mode or opts.interactive:
            raise UsageError("--mode rpc writes its own stream on stdout: drop -p/--print, --json and `chat`.")
        if opts.messages:
            raise UsageError("--mode rpc reads its commands from stdin: send messages as prompt commands (docs/rpc.md).")
        return "rpc"
    return None


def _claude_mode(opts: RunOptions) -> Machine | None:
    out, inp = opts.output_format or "text", opts.input_format or "text"
    if opts.json_mode or opts.interactive:
        raise UsageError("--input-format/--output-format go with -p (Claude Code's names); drop --json and `chat`.")
    if inp == "stream-json" and out != "stream-json":
        raise UsageError("--input-format stream-json needs --output-format stream-json (as in Claude Code).")
    if inp == "stream-json" and opts.messages:
        raise UsageError("--input-format stream-json reads the messages from stdin, one JSON line each: drop the arguments.")
    if out == "text":
        opts.print_mode = True
        return None
    opts.print_mode = False
    return "claude"


def select_mode(opts: RunOptions) -> Machine | None:
    """Check the machine-mode flags; set ``-p``/``--json`` for the plain ones; the protocol to run.

    Raises:
        UsageError: an unknown value or a combination that cannot work (the message says why).
    """
    _check(opts.mode, "--mode", ("text", "json", "rpc"))
    _check(opts.input_format, "--input-format", ("text", "stream-json"))
    _check(opts.output_format, "--output-format", ("text", "json", "stream-json"))
    machine: Machine | None = None
    if opts.mode is not None:
        machine = _pi_mode(opts)
    elif opts.input_format or opts.output_format:
        machine = _claude_mode(opts)
    if opts.json_snapshots and not (opts.json_mode or machine == "rpc"):
        raise UsageError("--json-snapshots shapes the --json and --mode rpc streams: add --json (or --mode rpc).")
    if opts.include_partial_messages and machine != "claude":
        raise UsageError("--include-partial-messages goes with --output-format stream-json.")
    return machine


async def run_machine(
    machine: Machine, opts: RunOptions, settings: Settings, stdin_text: Callable[[], str | None]
) -> int:
    """Build the runtime and serve ``machine``; returns the exit code."""
    from opi_cli.cli.runtime import build_runtime, prepare_prompts

    prompts = None
    if machine == "claude" and opts.input_format != "stream-json":
        prompts = prepare_prompts(opts.messages, stdin_text(), settings.cwd)
        if not prompts:
            raise UsageError('No message given. Pass one as an argument (opi -p "task") or pipe it on stdin.')
    rt = await build_runtime(opts, settings)
    rt.show_notices_on_stderr()
    if machine == "rpc":
        from opi_cli.cli.rpc import run_rpc

        return await run_rpc(rt, snapshots=opts.json_snapshots)
    from opi_cli.cli.stream_json import run_stream_json

    return await run_stream_json(rt, prompts, final_only=opts.output_format == "json",
                                 partial=opts.include_partial_messages)
