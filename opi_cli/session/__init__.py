"""Durable, resumable sessions: the entry format, the tree, context building, stores and tools.

``PostgresStore`` lives in :mod:`opi_cli.session.stores.postgres` (imported on demand, it
needs psycopg). The names below are imported on first use, so that importing one
submodule (the agent's session, a store) does not load the others (the doctor, the HTML
export): every ``opi`` run pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opi_cli._util.lazy import lazy_exports

if TYPE_CHECKING:
    from opi_cli.session.context import SessionContext, build_context
    from opi_cli.session.doctor import DoctorReport, check, repair
    from opi_cli.session.entries import (
        BranchSummaryEntry,
        CompactionEntry,
        CustomEntry,
        CustomMessageEntry,
        Entry,
        EntryError,
        LabelEntry,
        LeafEntry,
        MessageEntry,
        ModelChangeEntry,
        SessionHeader,
        SessionInfoEntry,
        ThinkingLevelChangeEntry,
        UnknownEntry,
        entry_to_json,
        entry_to_line,
        parse_entry,
        parse_entry_line,
    )
    from opi_cli.session.export import export_html, export_markdown
    from opi_cli.session.listing import SessionInfo
    from opi_cli.session.store import SessionHandle, SessionStore, looks_like_path
    from opi_cli.session.stores import JsonlStore, MemoryStore
    from opi_cli.session.tree import SessionTree
    from opi_cli.session.writer import SessionWriter, fork_to_new_file

_EXPORTS: dict[str, str] = {
    "BranchSummaryEntry": "opi_cli.session.entries",
    "CompactionEntry": "opi_cli.session.entries",
    "CustomEntry": "opi_cli.session.entries",
    "CustomMessageEntry": "opi_cli.session.entries",
    "DoctorReport": "opi_cli.session.doctor",
    "Entry": "opi_cli.session.entries",
    "EntryError": "opi_cli.session.entries",
    "JsonlStore": "opi_cli.session.stores",
    "LabelEntry": "opi_cli.session.entries",
    "LeafEntry": "opi_cli.session.entries",
    "MemoryStore": "opi_cli.session.stores",
    "MessageEntry": "opi_cli.session.entries",
    "ModelChangeEntry": "opi_cli.session.entries",
    "SessionContext": "opi_cli.session.context",
    "SessionHandle": "opi_cli.session.store",
    "SessionHeader": "opi_cli.session.entries",
    "SessionInfo": "opi_cli.session.listing",
    "SessionInfoEntry": "opi_cli.session.entries",
    "SessionStore": "opi_cli.session.store",
    "SessionTree": "opi_cli.session.tree",
    "SessionWriter": "opi_cli.session.writer",
    "ThinkingLevelChangeEntry": "opi_cli.session.entries",
    "UnknownEntry": "opi_cli.session.entries",
    "build_context": "opi_cli.session.context",
    "check": "opi_cli.session.doctor",
    "entry_to_json": "opi_cli.session.entries",
    "entry_to_line": "opi_cli.session.entries",
    "export_html": "opi_cli.session.export",
    "export_markdown": "opi_cli.session.export",
    "fork_to_new_file": "opi_cli.session.writer",
    "looks_like_path": "opi_cli.session.store",
    "parse_entry": "opi_cli.session.entries",
    "parse_entry_line": "opi_cli.session.entries",
    "repair": "opi_cli.session.doctor",
}

__all__ = [
    "BranchSummaryEntry",
    "CompactionEntry",
    "CustomEntry",
    "CustomMessageEntry",
    "DoctorReport",
    "Entry",
    "EntryError",
    "JsonlStore",
    "LabelEntry",
    "LeafEntry",
    "MemoryStore",
    "MessageEntry",
    "ModelChangeEntry",
    "SessionContext",
    "SessionHandle",
    "SessionHeader",
    "SessionInfo",
    "SessionInfoEntry",
    "SessionStore",
    "SessionTree",
    "SessionWriter",
    "ThinkingLevelChangeEntry",
    "UnknownEntry",
    "build_context",
    "check",
    "entry_to_json",
    "entry_to_line",
    "export_html",
    "export_markdown",
    "fork_to_new_file",
    "looks_like_path",
    "parse_entry",
    "parse_entry_line",
    "repair",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
