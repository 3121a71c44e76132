"""The commands people look for first: ``/help`` (commands and keys), ``/hotkeys``, ``/cost``, ``/status``.

Figures are the session's: ``/cost`` sums the replies of this session (reset by ``/new``,
loaded by ``/resume``) per model; ``/status`` says which model and endpoint the next
request goes to, where the session is stored and how full the context is.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from opi_cli.ai.types import Usage
from opi_cli.cli.command_base import LOOKUP_ORDER, Command, Host
from opi_cli.cli.render import fmt_tokens

__all__ = ["FOLLOW_UP_KEY", "HOTKEYS", "INFO_COMMANDS"]

FOLLOW_UP_KEY = "ctrl+s"
"""The second follow-up binding, for terminals that take Alt+Enter (Windows Terminal's
fullscreen toggle). Ctrl+S reaches the program in tmux, Windows Terminal and VS Code
(prompt_toolkit turns off XON/XOFF flow control while it reads)."""

HOTKEYS: list[tuple[str, str]] = [
    ("enter", "send; while the agent works: queue a steering message (delivered after the current tool)"),
    (f"alt+enter / {FOLLOW_UP_KEY}", "queue a follow-up (delivered when the agent would stop)"),
    ("alt+up", "move queued messages back into the editor"),
    ("escape", "stop the agent (queued messages go back into the editor); close a picker"),
    ("escape escape", "on an empty input: /rewind (conversation and/or files to before a message)"),
    ("ctrl+c", "stop the agent; idle: clear the input, twice on an empty input to quit"),
    ("ctrl+d", "quit (on an empty input)"),
    ("shift+enter / ctrl+j", "new line"),
    ("ctrl+g", "edit the input in $VISUAL / $EDITOR"),
    ("ctrl+o", "expand the last tool output"),
    ("ctrl+t", "show / hide thinking"),
    ("shift+tab", "cycle the thinking level (off → minimal → low → medium → high)"),
    ("ctrl+l", "pick a model"),
    ("ctrl+p / shift+ctrl+p", "next / previous model (settings enabledModels, else every model with a key)"),
    ("up / down", "history (kept across sessions); in a picker: move"),
    ("tab", "complete /commands and @paths"),
    ("!cmd / !!cmd", "run a shell command (with / without adding its output to the context)"),
]


def _table() -> Table:
    return Table(box=None, show_header=False, padding=(0, 2, 0, 0))


def _keys_table() -> Table:
    table = _table()
    for key, what in HOTKEYS:
        table.add_row(Text(key, style="cyan"), what)
    return table


async def _help(host: Host, _args: str) -> None:
    commands = _table()
    seen: set[str] = set()
    for cmd in host.commands.values():
        if cmd.name in seen:
            continue
        seen.add(cmd.name)
        names = " ".join(f"/{n}" for n in (cmd.name, *cmd.aliases))
        commands.add_row(Text(f"{names} {cmd.usage}".strip(), style="cyan"), cmd.description)
    parts: list[RenderableType] = [Text("Commands", style="bold"), commands]
    if any(c.expand is not None for c in host.commands.values()):
        parts.append(Text(LOOKUP_ORDER, style="dim"))
    host.print(Group(*parts, Text(""), Text("Keys", style="bold"), _keys_table()))


async def _hotkeys(host: Host, _args: str) -> None:
    host.print(_keys_table())


def _usage_row(name: str, u: Usage) -> list[str]:
    return [name, fmt_tokens(u.input), fmt_tokens(u.output), fmt_tokens(u.cache_read), fmt_tokens(u.cache_write),
            f"${u.cost.total:.4f}"]


async def _cost(host: Host, _args: str) -> None:
    footer = host.footer
    if not footer.by_model:
        host.print(Text("No replies in this session yet: nothing spent."))
        return
    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for col in ("model", "input", "output", "cache read", "cache write", "cost"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for ref, usage in sorted(footer.by_model.items()):
        table.add_row(*_usage_row(ref, usage))
    if len(footer.by_model) > 1:
        table.add_row(*_usage_row("total", footer.totals), style="bold")
    host.print(Group(Text("Tokens and cost of this session", style="bold"), table))


async def _status(host: Host, _args: str) -> None:
    s = host.session
    m = s.agent.model
    level = s.agent.thinking_level if m.reasoning else "off (the model does not reason)"
    used = s.context_usage().tokens
    window = m.context_window or 1
    auto = "on" if s.compaction.enabled else "off"
    t = host.footer.totals
    rows = [
        ("Model", f"{m.ref}  (thinking: {level})"),
        ("Endpoint", f"{m.base_url or '(provider default)'}  ({m.api})"),
        ("Session", f"{s.session_file or '(not saved: --no-session)'}  id {s.session_id[:8]}"),
        ("Context", f"{fmt_tokens(used)} of {fmt_tokens(window)} tokens ({100 * used / window:.1f}%), "
                    f"auto-compaction {auto}"),
        ("Spent", f"↑{fmt_tokens(t.input)} ↓{fmt_tokens(t.output)}  ${t.cost.total:.4f}  (/cost by model)"),
        ("Folder", str(host.settings.cwd)),
    ]
    table = _table()
    for k, v in rows:
        table.add_row(Text(k, style="bold"), v)
    host.print(table)


INFO_COMMANDS = [
    Command("help", "commands and keys", _help, while_running=True),
    Command("hotkeys", "the keyboard shortcuts", _hotkeys, while_running=True),
    Command("status", "model, endpoint, session file, context use", _status, while_running=True),
    Command("cost", "tokens and cost of this session, by model", _cost, while_running=True),
]
