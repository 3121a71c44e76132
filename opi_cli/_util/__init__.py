"""Small stdlib-only building blocks shared by every layer: ids, JSON, abort signals.

The names are imported on first use (:mod:`opi_cli._util.lazy`): every package imports
``opi_cli._util.lazy``, and ``opi --version`` must not pay for asyncio and orjson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opi_cli._util.lazy import lazy_exports

if TYPE_CHECKING:
    from opi_cli._util.abort import AbortController, AbortSignal
    from opi_cli._util.ids import new_entry_id, new_session_id, now_iso, now_ms
    from opi_cli._util.jsonio import JsonValue, dumps, loads

_EXPORTS: dict[str, str] = {
    "AbortController": "opi_cli._util.abort",
    "AbortSignal": "opi_cli._util.abort",
    "JsonValue": "opi_cli._util.jsonio",
    "dumps": "opi_cli._util.jsonio",
    "loads": "opi_cli._util.jsonio",
    "new_entry_id": "opi_cli._util.ids",
    "new_session_id": "opi_cli._util.ids",
    "now_iso": "opi_cli._util.ids",
    "now_ms": "opi_cli._util.ids",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
