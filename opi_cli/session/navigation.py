"""Moving around sessions: pick points of the tree, fork, switch, list, export (pure helpers).

These read a :class:`SessionWriter`; :class:`~opi_cli.session.agent_session.AgentSession`
uses them for ``/tree``, ``/fork``, ``/resume``, ``/new`` and ``/export``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.types import TextContent, UserMessage
from opi_cli.session.entries import MessageEntry
from opi_cli.session.writer import SessionWriter

__all__ = ["export_to", "fork_messages", "fork_points", "session_choices", "tree_points", "user_text"]


def user_text(message: AgentMessage) -> str:
    if isinstance(message, UserMessage):
        return "".join(c.text for c in message.content if isinstance(c, TextContent))
    return ""


def _label(text: str, width: int = 70) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 1] + "…"


async def tree_points(writer: SessionWriter) -> list[tuple[str, str]]:
    """Every user message of the tree (all branches); ``*`` marks the current path.

    A message is indented by the branch points above it, so a straight conversation stays
    a straight column and only a real fork moves its branch to the right.
    """
    tree = await writer.full_tree()
    users = [p for p in range(len(tree)) if tree.node(p).type == "message" and tree.node(p).text == "user"]
    entries = await writer.entries_at(users)
    on_path = set(tree.path())
    forks: dict[int, int] = {}  # position -> how many branch points lie above it
    for pos in range(len(tree)):  # parents come before their children
        parent = tree.parent(pos)
        above = 0 if parent is None else forks.get(parent, 0) + (len(tree.children(parent)) > 1)
        forks[pos] = above
    out: list[tuple[str, str]] = []
    for pos in users:
        entry = entries.get(pos)
        if not isinstance(entry, MessageEntry):
            continue
        mark = "*" if pos in on_path else " "
        out.append((entry.id, f"{mark} {'  ' * min(forks[pos], 8)}{_label(user_text(entry.message))}"))
    return out


async def fork_messages(writer: SessionWriter) -> list[tuple[str, str]]:
    """(entry id, whole text) of the user messages on the current path, oldest first."""
    path = (await writer.full_tree()).path()
    entries = await writer.entries_at(path)
    out = []
    for pos in path:
        e = entries.get(pos)
        if isinstance(e, MessageEntry) and isinstance(e.message, UserMessage):
            out.append((e.id, user_text(e.message)))
    return out


async def fork_points(writer: SessionWriter) -> list[tuple[str, str]]:
    """The user messages on the current path, oldest first, as (entry id, one-line label)."""
    return [(entry_id, _label(text)) for entry_id, text in await fork_messages(writer)]


async def session_choices(writer: SessionWriter) -> list[tuple[str, str]]:
    """This folder's other sessions, newest first, as (location, label)."""
    infos = await writer.store.list_sessions(writer.header.cwd)
    now = datetime.now(UTC)
    out = []
    for info in sorted(infos, key=lambda i: i.modified, reverse=True):
        if info.id == writer.session_id:
            continue
        mins = int((now - info.modified).total_seconds() // 60)
        age = f"{mins // 1440}d" if mins >= 1440 else f"{mins // 60}h" if mins >= 60 else f"{mins}m"
        title = info.name or info.first_message or "(empty)"
        out.append(
            (info.location, f"{info.id[:8]}  {age:>4} ago  {info.message_count:>3} msgs  {_label(title, 60)}")
        )
    return out


async def export_to(writer: SessionWriter, target: str | None, cwd: Path) -> Path:
    """Write the current path as HTML (default) or Markdown (``.md``); returns the file."""
    path = Path(target).expanduser() if target else cwd / f"opi-session-{writer.session_id[:8]}.html"
    if not path.is_absolute():
        path = cwd / path
    from opi_cli.session.export import export_html, export_markdown  # only for /export: kept off every start

    entries = await writer.path_entries()
    title = writer.name or f"opi session {writer.session_id[:8]}"
    render = export_markdown if path.suffix.lower() == ".md" else export_html
    path.write_text(render(writer.header, entries, title=title), encoding="utf-8")
    return path
