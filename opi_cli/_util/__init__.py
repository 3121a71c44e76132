"""Small stdlib-only building blocks shared by every layer: ids, JSON, abort signals."""

from __future__ import annotations

from opi_cli._util.abort import AbortController, AbortSignal
from opi_cli._util.ids import new_entry_id, new_session_id, now_iso, now_ms
from opi_cli._util.jsonio import JsonValue, dumps, loads

__all__ = [
    "AbortController",
    "AbortSignal",
    "JsonValue",
    "dumps",
    "loads",
    "new_entry_id",
    "new_session_id",
    "now_iso",
    "now_ms",
]
