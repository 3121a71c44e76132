"""The slash-command table of the REPL, the ``!cmd`` shell runner, and the help texts.

A command is a name, a one-line description and an async handler taking the REPL (through
the small :class:`Host` protocol) and the argument text.
"""

from __future__ import annotations

import base64
import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.messages import BashExecutionMessage
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.model import Model
from opi_cli.ai.resolve import clamp_thinking, parse_thinking_level
from opi_cli.ai.types import THINKING_LEVELS, AssistantMessage, ToolResultMessage, UserMessage
from opi_cli.cli.command_base import LOOKUP_ORDER, Command, Handler, Host
from opi_cli.cli.info_commands import FOLLOW_UP_KEY, HOTKEYS, INFO_COMMANDS
from opi_cli.cli.login_command import LOGIN_COMMANDS
from opi_cli.cli.mcp_commands import install_mcp_commands
from opi_cli.cli.model_switch import next_thinking_level, switch_model
from opi_cli.cli.render import fmt_tokens
from opi_cli.cli.rewind_commands import REWIND_COMMANDS
from opi_cli.cli.secrets import known_secrets, redact_file
from opi_cli.errors import OpiError
from opi_cli.tools.bash_output import OutputCollector
from opi_cli.tools.ops import LocalFileOps, LocalShellOps

if TYPE_CHECKING:
    from opi_cli.cli.mcp_runtime import McpHost

__all__ = [
    "FOLLOW_UP_KEY",
    "HOTKEYS",
    "LOOKUP_ORDER",
    "Command",
    "Handler",
    "Host",
    "build_commands",
    "close_matches",
    "parse_command",
    "run_shell",
    "use_model",
]

def parse_command(text: str) -> tuple[str, str] | None:
    """``/name args`` → (name, args); None when ``text`` is not a command (e.g. a path)."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    head = head.split("\n", 1)[0]
    if not head or "/" in head:
        return None
    return head.lower(), rest.strip()


def close_matches(name: str, names: list[str]) -> list[str]:
    starts = [n for n in names if n.startswith(name)]
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    return list(dict.fromkeys(starts + near))[:4]


# -- built-in handlers ------------------------------------------------------------------------


async def _quit(host: Host, _args: str) -> None:
    host.quit()


def _candidates(registry: ModelRegistry, query: str) -> list[Model]:
    low = query.lower()
    return [m for m in registry.all_models() if low in m.ref.lower() or low in m.name.lower()]


def use_model(host: Host, model: Model) -> None:
    """Switch the session to ``model`` (:func:`~opi_cli.cli.model_switch.switch_model`) and say so."""
    level = switch_model(host.session, host.registry, host.settings, model)
    now = host.session.agent.model  # the key's endpoint may have been kept
    where = f" at {now.base_url}" if now.base_url != model.base_url else ""
    shown = f" (thinking: {level})" if model.reasoning else ""
    host.print(Text(f"Switched to {now.ref}{where}{shown}", style="green"))


async def _model(host: Host, args: str) -> None:
    current = host.session.agent.model
    if not args:
        pool = host.registry.all_models()
        if not any(m.ref == current.ref for m in pool):
            pool = [current, *pool]
        here = next(i for i, m in enumerate(pool) if m.ref == current.ref)
        idx = await host.choose(f"Switch to a model (now {current.ref})", [_label(m) for m in pool], current=here)
        if idx is not None and pool[idx].ref != current.ref:
            use_model(host, pool[idx])
        return
    try:
        found = host.registry.find(args, fuzzy=False)
    except OpiError:
        found = None  # an id several providers share: the picker below lists them
    if found is not None:
        use_model(host, found[0])
        return
    hits = _candidates(host.registry, args)
    if len(hits) == 1:
        use_model(host, hits[0])
    elif hits:
        idx = await host.choose(f"Models matching '{args}'", [_label(m) for m in hits])
        if idx is not None:
            use_model(host, hits[idx])
    elif not current.known or current.base_url:
        # a custom endpoint (local server, --base-url): the id is sent as typed
        use_model(host, replace(current, id=args, name=args))
    else:
        host.print(Text(f"No model matches '{args}' (`opi models` lists them).", style="red"))


def _label(m: Model) -> str:
    """A picker line: ``provider/id`` and what matters when choosing."""
    traits = [f"{fmt_tokens(m.context_window)} context"]
    if m.reasoning:
        traits.append("reasoning")
    if m.cost.input or m.cost.output:
        traits.append(f"${m.cost.input:g}/${m.cost.output:g} per M")
    return f"{m.ref:<40} {' · '.join(traits)}"


async def _thinking(host: Host, args: str) -> None:
    agent = host.session.agent
    if not args:
        host.print(Text(f"Thinking level: {agent.thinking_level}  (levels: {', '.join(THINKING_LEVELS)})"))
        return
    if args == "next":  # Shift+Tab
        following = next_thinking_level(agent.model, agent.thinking_level)
        if following is None:
            host.print(Text("Current model does not support thinking", style="yellow"))
            return
        args = following
    level = parse_thinking_level(args)
    if level is None:
        host.print(Text(f"Unknown thinking level '{args}'. Use one of: {', '.join(THINKING_LEVELS)}.", style="red"))
        return
    if not agent.model.reasoning and level != "off":
        host.print(Text("Current model does not support thinking", style="yellow"))
        return
    actual = clamp_thinking(agent.model, level)
    host.session.set_thinking_level(actual)
    host.print(Text(f"Thinking level: {actual}", style="green"))


async def _name(host: Host, args: str) -> None:
    if not args:
        current = host.footer.session_name
        host.print(Text(f"Session name: {current}" if current else "Usage: /name NAME"))
        return
    host.session.set_name(args)
    host.footer.session_name = args
    host.print(Text(f"Session name: {args}", style="green"))


async def _session(host: Host, _args: str) -> None:
    s = host.session
    msgs = s.agent.messages
    users = sum(isinstance(m, UserMessage) for m in msgs)
    replies = sum(isinstance(m, AssistantMessage) for m in msgs)
    results = sum(isinstance(m, ToolResultMessage) for m in msgs)
    calls = sum(len(m.tool_calls) for m in msgs if isinstance(m, AssistantMessage))
    t = host.footer.totals
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    rows = [
        ("File", s.session_file or "(not saved: --no-session)"),
        ("ID", s.session_id),
        ("Name", host.footer.session_name or "-"),
        ("Messages", f"{users} user, {replies} assistant, {results} tool results, {len(msgs)} total"),
        ("Tool calls", str(calls)),
        ("Tokens", f"input {fmt_tokens(t.input)}, output {fmt_tokens(t.output)}, "
                   f"cache read {fmt_tokens(t.cache_read)}, cache write {fmt_tokens(t.cache_write)}"),
        ("Context", f"{fmt_tokens(s.context_usage().tokens)} of {fmt_tokens(s.agent.model.context_window)}"),
        ("Cost", f"${t.cost.total:.4f}"),
    ]
    for k, v in rows:
        table.add_row(Text(k, style="bold"), v)
    host.print(table)


async def _copy(host: Host, _args: str) -> None:
    last = host.session.agent.last_assistant
    text = last.text if last is not None else ""
    if not text:
        host.print(Text("Nothing to copy yet.", style="yellow"))
        return
    osc = "\x1b]52;c;" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "\x07"
    host.print(_Raw(osc))
    host.print(Text("Copied the last reply to the clipboard (OSC 52). If your terminal ignores OSC 52, here it is:",
                    style="green"))
    host.print(Text(text))


class _Raw:
    """Bytes for the terminal itself (an OSC sequence), printed as is."""

    def __init__(self, data: str) -> None:
        self.data = data

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(self.data, control=[])  # zero width: never wrapped or cut


# -- session commands registered only when AgentSession offers them --------------------------


async def _compact(host: Host, args: str) -> None:
    words = args.split()
    if "--dry-run" in words:
        lines = await host.session.compaction_preview()
        host.print(Text("\n".join(lines) or "Nothing to compact.", style="dim"))
        return
    # progress and the result arrive as compaction_start/end events (the streaming view)
    await host.session.compact(" ".join(words) or None)


async def _new(host: Host, _args: str) -> None:
    await host.session.new_session()
    host.session_switched(show_history=False)
    host.print(Text(f"New session {host.session.session_id}", style="green"))


async def _resume(host: Host, _args: str) -> None:
    items: list[tuple[str, str]] = await host.session.list_sessions()
    if not items:
        host.print(Text("No other sessions in this folder."))
        return
    idx = await host.choose("Resume which session?", [label for _, label in items])
    if idx is not None:
        await host.session.switch_session(items[idx][0])
        host.session_switched(show_history=True)
        host.print(Text(f"Resumed {items[idx][1]}", style="green"))


async def _tree(host: Host, _args: str) -> None:
    points: list[tuple[str, str]] = await host.session.tree_points()
    if not points:
        host.print(Text("No messages yet."))
        return
    here = max((i for i, (_, label) in enumerate(points) if label.startswith("*")), default=None)
    idx = await host.choose("Go to which point? (* = the current path)", [label for _, label in points],
                            current=here)
    if idx is not None:
        await host.session.navigate(points[idx][0])
        host.session_switched(show_history=True)
        host.print(Text(f"Moved to {points[idx][1].lstrip('* ').strip()}", style="green"))


async def _fork(host: Host, _args: str) -> None:
    points: list[tuple[str, str]] = await host.session.fork_points()
    if not points:
        host.print(Text("No user messages to fork from."))
        return
    idx = await host.choose("Fork from which message?", [label for _, label in points], current=len(points) - 1)
    if idx is not None:
        text: str = await host.session.fork(points[idx][0])
        host.set_input(text)
        host.session_switched(show_history=False)
        host.print(Text(f"Forked into a new session {host.session.session_id}", style="green"))


async def _export(host: Host, args: str) -> None:
    path = await host.session.export(args or None)
    redact_file(Path(path), known_secrets(host.settings, [host.session.agent.options.stream_options.api_key]))
    host.print(Text(f"Exported to {path}", style="green"))




def build_commands(session: object, mcp: McpHost | None = None, extra: Sequence[Command] = ()) -> dict[str, Command]:
    """The command table by name and alias, with ``/mcp`` and the MCP prompts of ``mcp``
    (``session`` is not needed any more; callers pass it).

    ``extra`` (extension commands, then prompt templates and skills) come after the
    built-ins, and the first command of a name wins (see :data:`LOOKUP_ORDER`).
    """
    cmds = [
        *INFO_COMMANDS,
        *LOGIN_COMMANDS,
        Command("model", "switch model (a picker; a query filters it)", _model, "[query]"),
        Command("thinking", "show or set the thinking level", _thinking, "[level]"),
        Command("name", "name this session", _name, "NAME", while_running=True),
        Command("session", "file, id, message counts, tokens and cost", _session, while_running=True),
        Command("copy", "copy the last reply to the clipboard", _copy, while_running=True),
        Command("quit", "quit opi", _quit, aliases=("exit",), while_running=True),
        Command("compact", "summarise older messages to free context", _compact, "[focus] [--dry-run]"),
        Command("new", "start a new session", _new, aliases=("clear",)),
        Command("resume", "resume another session of this folder", _resume),
        Command("tree", "go to another point of the session tree", _tree),
        Command("fork", "new session from an earlier user message", _fork),
        Command("export", "write the session as HTML or Markdown", _export, "[file]"),
    ]
    cmds += [Command(name, desc, handler) for name, desc, handler in REWIND_COMMANDS]
    table: dict[str, Command] = {}
    for c in cmds:
        for n in (c.name, *c.aliases):
            table[n] = c
    install_mcp_commands(table, mcp)
    for c in extra:
        table.setdefault(c.name, c)
    return table


# -- !cmd ------------------------------------------------------------------------------------


async def run_shell(
    command: str, cwd: str, signal: AbortSignal, on_output: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> BashExecutionMessage:
    """Run ``command`` in its own process group (killed on abort) with ``env`` (default: opi's own);
    ``on_output`` gets the tail so far."""
    file_ops = LocalFileOps()
    out = OutputCollector(file_ops)
    proc = await LocalShellOps(env).spawn_shell(command, cwd)
    remove = signal.add_callback(proc.kill_group)
    try:
        while chunk := await proc.read(65536):
            await out.add(chunk)
            on_output(out.preview())
        code = await proc.wait()
    finally:
        remove()
        if signal.aborted:
            proc.kill_group()
    result = await out.finish()
    details = result.details or {}
    full = details.get("fullOutputPath")
    return BashExecutionMessage(
        command=command,
        output=result.text,
        exit_code=None if signal.aborted else code,
        cancelled=signal.aborted,
        truncated=bool(details.get("truncation")),
        timestamp=int(time.time() * 1000),
        full_output_path=full if isinstance(full, str) else None,
    )
