"""Durable, resumable sessions: the entry format, the tree, context building, stores and tools.

``PostgresStore`` lives in :mod:`opi_cli.session.stores.postgres` (imported on demand, it
needs psycopg).
"""

from __future__ import annotations

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
