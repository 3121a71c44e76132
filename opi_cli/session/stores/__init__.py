"""Session stores: JSONL files (default), in-memory, and PostgreSQL (loaded lazily)."""

from __future__ import annotations

from opi_cli.session.stores.jsonl import JsonlHandle, JsonlStore, session_dir_name, session_file_name
from opi_cli.session.stores.memory import MemoryHandle, MemoryStore

__all__ = [
    "JsonlHandle",
    "JsonlStore",
    "MemoryHandle",
    "MemoryStore",
    "session_dir_name",
    "session_file_name",
]
