"""``/undo`` and ``/rewind``: the REPL commands over :mod:`opi_cli.session.rewind`.

``/undo`` puts back the files the last turn changed with ``edit``/``write``; ``/rewind``
(also Escape twice on an empty input) picks a user message and restores the
conversation, the files, or both to just before it, as Claude Code does, and puts the
message back in the input when the conversation goes back. Changes made by ``bash`` are
not tracked, and both say so.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, cast

from rich.text import Text

from opi_cli.session.rewind import RestoreReport, rewind_points, rewind_to, undo_last_turn

if TYPE_CHECKING:
    from opi_cli.cli.commands import Host
    from opi_cli.cli.trust import Trust

__all__ = ["REWIND_COMMANDS"]

BASH_NOTE = "changes made by bash are not tracked"


class RewindHost(Protocol):
    @property
    def trust(self) -> Trust | None: ...


def _label(text: str, width: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 1] + "…"


def _names(paths: list[str], cwd: str) -> str:
    shown = [os.path.relpath(p, cwd) if p.startswith(cwd.rstrip("/") + "/") else p for p in paths]
    return ", ".join(shown)


def _report(host: Host, report: RestoreReport) -> None:
    cwd = str(host.settings.cwd)
    if report.restored:
        host.print(Text(f"Restored {_names(report.restored, cwd)}", style="green"))
    if report.deleted:
        host.print(Text(f"Removed {_names(report.deleted, cwd)} (created after that point)", style="green"))
    for path, why in report.failed:
        host.print(Text(f"Could not restore {path}: {why}", style="red"))


def _trust(host: Host) -> Trust | None:
    return cast(RewindHost, host).trust if hasattr(host, "trust") else None


async def _undo(host: Host, _args: str) -> None:
    trust = _trust(host)
    if trust is None:
        host.print(Text("Nothing to undo: file snapshots are off in this run.", style="yellow"))
        return
    point, report = await undo_last_turn(host.session, trust.recorder.blobs())
    if point is None:
        host.print(Text(f"Nothing to undo: no edit or write changes are recorded that are not undone yet "
                        f"({BASH_NOTE}).", style="yellow"))
        return
    host.print(Text(f"Undid the file changes of “{_label(point.text)}” ({BASH_NOTE}):", style="bold"))
    _report(host, report)


async def _rewind(host: Host, _args: str) -> None:
    trust = _trust(host)
    points = await rewind_points(host.session)
    if not points:
        host.print(Text("No user messages to rewind to yet."))
        return
    labels = [f"{_label(p.text)}  ({len(p.files)} file{'s' if len(p.files) != 1 else ''} changed since)"
              for p in points]
    idx = await host.choose(f"Rewind to just before which message? ({BASH_NOTE})", labels)
    if idx is None:
        return
    point = points[idx]
    choices = [("conversation and files", True, True), ("conversation only", True, False), ("files only", False, True)]
    if not point.files or trust is None:
        choices = choices[1:2]
    pick = await host.choose("Restore what?", [c[0] for c in choices]) if len(choices) > 1 else 0
    if pick is None:
        return
    _, conversation, files = choices[pick]
    blobs = trust.recorder.blobs() if trust is not None else None
    report = await rewind_to(host.session, point.entry_id, blobs, conversation=conversation, files=files)
    if files:
        _report(host, report)
        if not report.count and not report.failed:
            host.print(Text("No file needed restoring.", style="dim"))
    if conversation:
        host.set_input(point.text)
        host.print(Text(f"Conversation rewound to before “{_label(point.text)}” (the message is back in the input).",
                        style="green"))


REWIND_COMMANDS: list[tuple[str, str, Callable[[Host, str], Awaitable[None]]]] = [
    ("undo", f"put back the files the last turn changed ({BASH_NOTE})", _undo),
    ("rewind", "restore the conversation and/or files to before a message (also esc esc)", _rewind),
]
"""(name, description, handler) for ``build_commands``."""
