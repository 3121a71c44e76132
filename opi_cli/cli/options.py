"""The common options of every ``opi`` command, declared once, without Typer.

:data:`OPTIONS` is the one declaration: :mod:`opi_cli.cli.typer_options` turns it into
the Typer parameters of every command (``--help``, every error message), and
:mod:`opi_cli.cli.fast_args` reads a plain run's command line with it without loading
Typer at all. The commands that run the agent (the default one, ``chat``, ``resume``) show
them all; the others (``sessions``, ``export``, ``models``, ...) accept the global ones too,
so that an option typed before or after any subcommand is never an error, and show only
those they use.

Every option has a metavar (``--model MODEL``), so ``--help`` never shows Python types.
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from opi_cli._util.records import record

__all__ = ["GLOBAL_OPTION_NAMES", "LIST_NAMES", "MESSAGES_HELP", "OPTIONS", "OptionSpec", "RunOptions"]


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


@record
class OptionSpec:
    """One option: the :class:`RunOptions` field it fills, its spellings and its kind of value."""

    name: str
    decls: tuple[str, ...]  # "--print", "-p"
    kind: Literal["flag", "text", "texts", "int", "float"]  # texts: repeatable, collected in a list
    help: str
    metavar: str | None = None
    hidden: bool = False
    show_default: bool = True
    minimum: int | None = None


MESSAGES_HELP = "The message: all words form one prompt; @path attaches a file."
"""The default command's words (``[MESSAGE]...``)."""

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec('print_mode', ('--print', '-p'), 'flag', 'Non-interactive: print only the final answer.'),
    OptionSpec('json_mode', ('--json',), 'flag', 'Non-interactive: write one JSON event per line (see `opi schema`).'),
    OptionSpec('continue_session', ('--continue', '-c'), 'flag', 'Continue the newest session of this folder.'),
    OptionSpec('then', ('--then',), 'texts', "Send MESSAGE after the first prompt's run (repeatable).", metavar='MESSAGE', show_default=False),
    OptionSpec('model', ('--model', '-m'), 'text', 'provider/id, id, or a substring; id:level sets thinking (default: settings, else the first provider with a key).', metavar='MODEL'),
    OptionSpec('provider', ('--provider',), 'text', 'Provider name (openai, anthropic, a models.json entry, ...).', metavar='NAME'),
    OptionSpec('base_url', ('--base-url',), 'text', 'Any OpenAI- or Anthropic-compatible server.', metavar='URL'),
    OptionSpec('api', ('--api',), 'text', 'openai-completions | openai-responses | anthropic-messages.', metavar='API'),
    OptionSpec('api_key', ('--api-key',), 'text', 'API key for this process only.', metavar='KEY'),
    OptionSpec('thinking', ('--thinking',), 'text', 'off|minimal|low|medium|high|xhigh (default: medium).', metavar='LEVEL'),
    OptionSpec('tools', ('--tools',), 'text', 'Built-in tools, comma-separated (default: read,bash,edit,write; also grep,find,ls).', metavar='LIST'),
    OptionSpec('no_tools', ('--no-tools',), 'flag', 'No built-in tools.'),
    OptionSpec('no_session', ('--no-session',), 'flag', 'Keep the session in memory only.'),
    OptionSpec('session_dir', ('--session-dir',), 'text', 'Where session files are stored and looked up.', metavar='DIR'),
    OptionSpec('store', ('--store',), 'text', 'Session store DSN, e.g. postgresql://... (default: JSONL files).', metavar='DSN'),
    OptionSpec('system_prompt', ('--system-prompt',), 'text', 'Replace the base system prompt (text, or a file).', metavar='TEXT|FILE'),
    OptionSpec('append_system_prompt', ('--append-system-prompt',), 'texts', 'Append to the system prompt (text, or a file; repeatable).', metavar='TEXT|FILE'),
    OptionSpec('max_turns', ('--max-turns',), 'int', 'Stop after N model turns.', metavar='N', minimum=1),
    OptionSpec('approval', ('--approval',), 'text', 'yolo|auto|read-only: which tool calls run without asking (default: auto in the REPL, yolo with -p/--json; setting defaultApproval).', metavar='MODE'),
    OptionSpec('sandbox', ('--sandbox',), 'text', 'workspace-write|read-only|off: run bash in a bubblewrap sandbox (default: off; setting sandbox).', metavar='MODE'),
    OptionSpec('max_cost', ('--max-cost',), 'float', 'Send no request once this run has spent USD (setting maxCostUsd).', metavar='USD'),
    OptionSpec('timeout', ('--timeout',), 'float', 'Give up on a model request after SECONDS (each attempt).', metavar='SECONDS'),
    OptionSpec('debug', ('--debug',), 'flag', 'Show tracebacks.'),
    OptionSpec('mode', ('--mode',), 'text', 'text (= -p) | json (= --json) | rpc: JSON commands on stdin (docs/rpc.md).', metavar='MODE'),
    OptionSpec('json_snapshots', ('--json-snapshots',), 'flag', "--json/rpc: message_update also carries the whole message so far (pi's shape; output grows with the square of the reply)."),
    OptionSpec('input_format', ('--input-format',), 'text', "text | stream-json (Claude Code's; docs/rpc.md).", metavar='FORMAT'),
    OptionSpec('output_format', ('--output-format',), 'text', "text | json | stream-json (Claude Code's; docs/rpc.md).", metavar='FORMAT'),
    OptionSpec('include_partial_messages', ('--include-partial-messages',), 'flag', 'stream-json: also write stream_event deltas.'),
    OptionSpec('verbose', ('--verbose',), 'flag', "Accepted for Claude Code's stream-json; no effect.", hidden=True),
)

_MODE_NAMES = frozenset({
    "messages", "print_mode", "json_mode", "continue_session", "then", "mode", "json_snapshots", "input_format",
    "output_format", "include_partial_messages", "verbose",
})
GLOBAL_OPTION_NAMES = frozenset(o.name for o in OPTIONS) - _MODE_NAMES
"""The options every command accepts (the run modes and the messages belong to the run)."""
LIST_NAMES = frozenset({"messages"} | {o.name for o in OPTIONS if o.kind == "texts"})
