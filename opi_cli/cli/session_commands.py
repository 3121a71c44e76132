"""``opi sessions``, ``opi sessions doctor`` and ``opi export``: listing, checking, rendering."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from opi_cli._util.jsonio import dumps
from opi_cli.cli.failures import output_error
from opi_cli.cli.options import RunOptions
from opi_cli.cli.runtime import open_store
from opi_cli.cli.secrets import known_secrets
from opi_cli.cli.settings import Settings
from opi_cli.errors import SessionError, UsageError
from opi_cli.session import JsonlStore, check, export_html, export_markdown, looks_like_path, repair
from opi_cli.session.doctor import require_session
from opi_cli.session.listing import SessionInfo
from opi_cli.session.writer import SessionWriter

__all__ = ["doctor", "export_session", "list_sessions"]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}B"


def _ago(when: datetime) -> str:
    secs = (datetime.now(UTC) - when).total_seconds()
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= span:
            return f"{int(secs // span)}{unit} ago"
    return "just now"


async def _infos(settings: Settings, opts: RunOptions, all_: bool) -> list[SessionInfo]:
    store = await open_store(opts, settings)
    try:
        infos = await store.list_sessions(None if all_ else str(settings.cwd))
    finally:
        await store.close()
    return sorted(infos, key=lambda i: i.modified, reverse=True)


def list_sessions(settings: Settings, opts: RunOptions, *, all_: bool, as_json: bool, console: Console) -> int:
    infos = asyncio.run(_infos(settings, opts, all_))
    if as_json:
        for info in infos:
            console.file.write(dumps(info.to_json()) + "\n")
        return 0
    if not infos:
        where = "anywhere" if all_ else f"for {settings.cwd} (try --all)"
        console.print(f"No sessions {where}.")
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("id", "name / first message", "msgs", "last activity", "size"):
        table.add_column(col, no_wrap=col != "name / first message", overflow="ellipsis")
    if all_:
        table.add_column("cwd", overflow="ellipsis")
    for i in infos:
        title = i.name or i.first_message.replace("\n", " ") or "(empty)"
        row = [i.id[:8], title[:80], str(i.message_count), _ago(i.modified), _size(i.size)]
        if all_:
            row.append(i.cwd)
        table.add_row(*row)
    console.print(table)
    return 0


def _session_path(settings: Settings, opts: RunOptions, ref: str) -> Path:
    """The file of session ``ref``: a path, or an id prefix as ``resume`` and ``export`` take it."""
    if looks_like_path(ref):
        path = Path(ref).expanduser()
        if not path.is_file():
            raise UsageError(f"No session file at {path}")
        return path
    if opts.store:
        raise UsageError("`opi sessions doctor` checks session files: give the file's path.")
    session_dir = Path(opts.session_dir).expanduser() if opts.session_dir else None
    try:
        return JsonlStore(settings.sessions_dir, session_dir=session_dir).resolve(ref, cwd=str(settings.cwd))
    except SessionError as exc:
        raise UsageError(f"No session file matches {ref!r} (give a path, or an id prefix from `opi sessions`).") from exc


def doctor(settings: Settings, opts: RunOptions, ref: str, *, fix: bool, console: Console) -> int:
    """``opi sessions doctor SESSION [--repair]``; SESSION is a path or an id prefix."""
    path = _session_path(settings, opts, ref)
    report = check(path)
    require_session(report)
    if report.ok:
        console.print(f"{path}: OK ({report.entries} entries)")
        return 0
    console.print(f"{path}: {len(report.problems())} problem(s)")
    for line in report.problems():
        console.print(f"  - {line}")
    if not fix:
        console.print(f"Run `opi sessions doctor {path} --repair` to write a fixed copy (the original is kept as .bak).")
        return 1
    backup, _ = repair(path)
    after = check(path)
    console.print(f"Repaired: {path} (original kept at {backup}); now {'OK' if after.ok else 'still damaged'}.")
    return 0 if after.ok else 1


async def _export(settings: Settings, opts: RunOptions, ref: str) -> tuple[str, str, object, list[object]]:
    store = await open_store(opts, settings)
    try:
        handle = await store.open(ref, cwd=str(settings.cwd), writable=False)
        try:
            writer = SessionWriter(store, handle, await handle.scan())
            entries = await writer.path_entries()
            return writer.session_id, writer.name or "", writer.header, entries  # type: ignore[return-value]
        finally:
            await handle.close()
    finally:
        await store.close()


def export_session(settings: Settings, opts: RunOptions, ref: str, out: str | None, console: Console) -> int:
    sid, name, header, entries = asyncio.run(_export(settings, opts, ref))
    target = Path(out) if out else settings.cwd / f"opi-session-{sid[:8]}.html"
    title = name or f"opi session {sid[:8]}"
    if target.suffix.lower() == ".md":
        text = export_markdown(header, entries, title=title)  # type: ignore[arg-type]
    elif target.suffix.lower() in (".html", ".htm"):
        text = export_html(header, entries, title=title)  # type: ignore[arg-type]
    else:
        raise UsageError(f"Export to {target.name}: use a .html or .md file name.")
    try:
        target.write_text(known_secrets(settings).redact(text), encoding="utf-8")
    except OSError as exc:
        raise output_error(exc, target) from exc
    console.print(f"Exported {len(entries)} entries to {target}")
    return 0

