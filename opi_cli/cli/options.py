"""The common options of ``opi``, ``opi chat`` and ``opi resume``, declared once.

Typer builds options from a function signature; :func:`with_common_options` gives a
command the shared parameters (by setting ``__signature__``/``__annotations__``) and
hands them to the command as one :class:`RunOptions` value.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

__all__ = ["RunOptions", "with_common_options"]


@dataclass(slots=True)
class RunOptions:
    messages: list[str] = field(default_factory=list)
    print_mode: bool = False
    json_mode: bool = False
    continue_session: bool = False
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
    messages: Annotated[list[str] | None, typer.Argument(help="Messages to send, in turn; @path attaches a file.", show_default=False)] = None,
    print_mode: Annotated[bool, typer.Option("--print", "-p", help="Non-interactive: print only the final answer.")] = False,
    json_mode: Annotated[bool, typer.Option("--json", help="Non-interactive: write one JSON event per line (see `opi schema`).")] = False,
    continue_session: Annotated[bool, typer.Option("--continue", "-c", help="Continue the newest session of this folder.")] = False,
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider/id, id, or a substring; id:level sets thinking.")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider name (openai, anthropic, a models.json entry, ...).")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Any OpenAI- or Anthropic-compatible server.")] = None,
    api: Annotated[str | None, typer.Option("--api", help="openai-completions | openai-responses | anthropic-messages.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="API key for this process only.")] = None,
    thinking: Annotated[str | None, typer.Option("--thinking", help="off|minimal|low|medium|high|xhigh.")] = None,
    tools: Annotated[str | None, typer.Option("--tools", help="Comma-separated built-in tools (read,bash,edit,write,grep,find,ls).")] = None,
    no_tools: Annotated[bool, typer.Option("--no-tools", help="No built-in tools.")] = False,
    no_session: Annotated[bool, typer.Option("--no-session", help="Keep the session in memory only.")] = False,
    session_dir: Annotated[str | None, typer.Option("--session-dir", help="Where session files are stored and looked up.")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Session store DSN, e.g. postgresql://... (default: JSONL files).")] = None,
    system_prompt: Annotated[str | None, typer.Option("--system-prompt", help="Replace the base system prompt (text or file).")] = None,
    append_system_prompt: Annotated[list[str] | None, typer.Option("--append-system-prompt", help="Append to the system prompt (text or file; repeatable).")] = None,
    max_turns: Annotated[int | None, typer.Option("--max-turns", help="Stop after N model turns.", min=1)] = None,
    approval: Annotated[str | None, typer.Option("--approval", help="yolo|auto|read-only: which tool calls run without asking (default: auto in the REPL, yolo with -p/--json; setting defaultApproval).")] = None,
    sandbox: Annotated[str | None, typer.Option("--sandbox", help="workspace-write|read-only|off: run bash in a bubblewrap sandbox (default: off; setting sandbox).")] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", metavar="USD", help="Send no request once this run has spent USD (setting maxCostUsd).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up on a model request after SECONDS (each attempt).", metavar="SECONDS")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    mode: Annotated[str | None, typer.Option("--mode", help="text (= -p) | json (= --json) | rpc: JSON commands on stdin (docs/rpc.md).")] = None,
    json_snapshots: Annotated[bool, typer.Option("--json-snapshots", help="--json/rpc: message_update also carries the whole message so far (pi's shape; output grows with the square of the reply).")] = False,
    input_format: Annotated[str | None, typer.Option("--input-format", help="text | stream-json (Claude Code's; docs/rpc.md).")] = None,
    output_format: Annotated[str | None, typer.Option("--output-format", help="text | json | stream-json (Claude Code's; docs/rpc.md).")] = None,
    include_partial_messages: Annotated[bool, typer.Option("--include-partial-messages", help="stream-json: also write stream_event deltas.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", hidden=True, help="Accepted for Claude Code's stream-json; no effect.")] = False,
) -> None:
    """Signature template; never called."""


_COMMON = list(inspect.signature(_template, eval_str=True).parameters.values())


def with_common_options(
    extra: list[inspect.Parameter] | None = None, *, interactive: bool | None = None
) -> Callable[[Callable[[RunOptions], Any]], Callable[..., Any]]:
    """Decorate ``fn(options: RunOptions)`` into a Typer command with the common options."""

    def decorate(fn: Callable[[RunOptions], Any]) -> Callable[..., Any]:
        params = list(extra or []) + _COMMON

        def command(**kwargs: Any) -> Any:
            kwargs["messages"] = list(kwargs.get("messages") or [])
            kwargs["append_system_prompt"] = list(kwargs.get("append_system_prompt") or [])
            kwargs["interactive"] = interactive
            return fn(RunOptions(**kwargs))

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__ = fn.__name__
        command.__doc__ = fn.__doc__
        return command

    return decorate


SESSION_PARAM = inspect.Parameter(
    "session",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    annotation=Annotated[str, typer.Argument(help="Session file path, or an id prefix.")],
)
