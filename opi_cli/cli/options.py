"""The common options of every ``opi`` command, declared once.

Typer builds options from a function signature; :func:`with_common_options` gives a
command the shared parameters (by setting ``__signature__``/``__annotations__``) and
hands them to the command as one :class:`RunOptions` value. The commands that run the
agent (the default one, ``chat``, ``resume``) show them all; the others (``sessions``,
``export``, ``models``, ...) accept the global ones too, so that an option typed before or
after any subcommand is never an error, and show only those they use.

Every option has a metavar (``--model MODEL``), so ``--help`` never shows Python types.
"""

import copy
import inspect
from collections.abc import Callable, Collection
from dataclasses import field
from typing import Annotated, Any

import typer

from opi_cli._util.records import record

__all__ = ["GLOBAL_OPTION_NAMES", "RunOptions", "with_common_options"]


@record(frozen=False)
class RunOptions:
    messages: list[str] = field(default_factory=list)
    print_mode: bool = False
    json_mode: bool = False
    continue_session: bool = False
    then: list[str] = field(default_factory=list)
    model: str | None = None
    provider: str | None = None
    base_url: str | None = None
    api: str | None = None
    api_key: str | None = None
    thinking: str | None = None
    tools: str | None = None
    no_tools: bool = False
    no_session: bool = False
    session_dir: str | None = None
    store: str | None = None
    system_prompt: str | None = None
    append_system_prompt: list[str] = field(default_factory=list)
    max_turns: int | None = None
    approval: str | None = None
    sandbox: str | None = None
    max_cost: float | None = None
    timeout: float | None = None
    debug: bool = False
    session: str | None = None  # resume target
    mode: str | None = None  # text | json | rpc (cli/modes.py)
    json_snapshots: bool = False
    input_format: str | None = None
    output_format: str | None = None
    include_partial_messages: bool = False
    verbose: bool = False
    interactive: bool | None = None  # True for `opi chat`


def _template(
    messages: Annotated[list[str] | None, typer.Argument(
        metavar="[MESSAGE]...", show_default=False,
        help="The message: all words form one prompt; @path attaches a file.")] = None,
    print_mode: Annotated[bool, typer.Option("--print", "-p", help="Non-interactive: print only the final answer.")] = False,
    json_mode: Annotated[bool, typer.Option("--json", help="Non-interactive: write one JSON event per line (see `opi schema`).")] = False,
    continue_session: Annotated[bool, typer.Option("--continue", "-c", help="Continue the newest session of this folder.")] = False,
    then: Annotated[list[str] | None, typer.Option("--then", metavar="MESSAGE", show_default=False,
                                                   help="Send MESSAGE after the first prompt's run (repeatable).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL", help="provider/id, id, or a substring; id:level sets thinking (default: settings, else the first provider with a key).")] = None,
    provider: Annotated[str | None, typer.Option("--provider", metavar="NAME", help="Provider name (openai, anthropic, a models.json entry, ...).")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", metavar="URL", help="Any OpenAI- or Anthropic-compatible server.")] = None,
    api: Annotated[str | None, typer.Option("--api", metavar="API", help="openai-completions | openai-responses | anthropic-messages.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", metavar="KEY", help="API key for this process only.")] = None,
    thinking: Annotated[str | None, typer.Option("--thinking", metavar="LEVEL", help="off|minimal|low|medium|high|xhigh (default: medium).")] = None,
    tools: Annotated[str | None, typer.Option("--tools", metavar="LIST", help="Built-in tools, comma-separated (default: read,bash,edit,write; also grep,find,ls).")] = None,
    no_tools: Annotated[bool, typer.Option("--no-tools", help="No built-in tools.")] = False,
    no_session: Annotated[bool, typer.Option("--no-session", help="Keep the session in memory only.")] = False,
    session_dir: Annotated[str | None, typer.Option("--session-dir", metavar="DIR", help="Where session files are stored and looked up.")] = None,
    store: Annotated[str | None, typer.Option("--store", metavar="DSN", help="Session store DSN, e.g. postgresql://... (default: JSONL files).")] = None,
    system_prompt: Annotated[str | None, typer.Option("--system-prompt", metavar="TEXT|FILE", help="Replace the base system prompt (text, or a file).")] = None,
    append_system_prompt: Annotated[list[str] | None, typer.Option("--append-system-prompt", metavar="TEXT|FILE", help="Append to the system prompt (text, or a file; repeatable).")] = None,
    max_turns: Annotated[int | None, typer.Option("--max-turns", metavar="N", help="Stop after N model turns.", min=1)] = None,
    approval: Annotated[str | None, typer.Option("--approval", metavar="MODE", help="yolo|auto|read-only: which tool calls run without asking (default: auto in the REPL, yolo with -p/--json; setting defaultApproval).")] = None,
    sandbox: Annotated[str | None, typer.Option("--sandbox", metavar="MODE", help="workspace-write|read-only|off: run bash in a bubblewrap sandbox (default: off; setting sandbox).")] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", metavar="USD", help="Send no request once this run has spent USD (setting maxCostUsd).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up on a model request after SECONDS (each attempt).", metavar="SECONDS")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    mode: Annotated[str | None, typer.Option("--mode", metavar="MODE", help="text (= -p) | json (= --json) | rpc: JSON commands on stdin (docs/rpc.md).")] = None,
    json_snapshots: Annotated[bool, typer.Option("--json-snapshots", help="--json/rpc: message_update also carries the whole message so far (pi's shape; output grows with the square of the reply).")] = False,
    input_format: Annotated[str | None, typer.Option("--input-format", metavar="FORMAT", help="text | stream-json (Claude Code's; docs/rpc.md).")] = None,
    output_format: Annotated[str | None, typer.Option("--output-format", metavar="FORMAT", help="text | json | stream-json (Claude Code's; docs/rpc.md).")] = None,
    include_partial_messages: Annotated[bool, typer.Option("--include-partial-messages", help="stream-json: also write stream_event deltas.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", hidden=True, help="Accepted for Claude Code's stream-json; no effect.")] = False,
) -> None:
    """Signature template; never called."""


_COMMON = list(inspect.signature(_template, eval_str=True).parameters.values())
_MODE_NAMES = frozenset({
    "messages", "print_mode", "json_mode", "continue_session", "then", "mode", "json_snapshots", "input_format",
    "output_format", "include_partial_messages", "verbose",
})
GLOBAL_OPTION_NAMES = frozenset(p.name for p in _COMMON) - _MODE_NAMES
"""The options every command accepts (the run modes and the messages belong to the run)."""
_LIST_NAMES = frozenset({"messages", "append_system_prompt", "then"})


def _hidden(param: inspect.Parameter) -> inspect.Parameter:
    """``param`` with its Typer option hidden from ``--help`` (still accepted)."""
    info = copy.copy(param.annotation.__metadata__[0])
    info.hidden = True
    return param.replace(annotation=Annotated[param.annotation.__origin__, info])


def with_common_options(
    extra: list[inspect.Parameter] | None = None,
    *,
    interactive: bool | None = None,
    only_global: bool = False,
    shown: Collection[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``fn(options: RunOptions, **extra)`` into a Typer command with the common options.

    Args:
        extra: the command's own parameters (passed to ``fn`` as keyword arguments).
        interactive: ``RunOptions.interactive`` for this command (True for ``chat``).
        only_global: accept only the global options, hidden from ``--help`` except ``shown``
            (for commands that do not run the agent).
        shown: with ``only_global``, the option names (``session_dir``, ...) the command uses.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if only_global:
            common = [p if p.name in shown else _hidden(p) for p in _COMMON if p.name in GLOBAL_OPTION_NAMES]
        else:
            common = _COMMON
        names = {p.name for p in common}
        params = list(extra or []) + common

        def command(**kwargs: Any) -> Any:
            opts = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            for name in _LIST_NAMES & names:
                opts[name] = list(opts.get(name) or [])
            return fn(RunOptions(**opts, interactive=interactive), **kwargs)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__ = fn.__name__
        command.__doc__ = fn.__doc__
        return command

    return decorate


SESSION_PARAM = inspect.Parameter(
    "session",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    annotation=Annotated[str, typer.Argument(metavar="SESSION", help="Session file path, or an id prefix.")],
)
