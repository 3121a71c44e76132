"""JSON encoding that never fails on text: orjson when it can, a safe fallback when not.

orjson refuses lone surrogates (text that came from a broken decoder or a model); the
stdlib encoder with ``ensure_ascii`` writes them as ``\\udXXX`` escapes, which are valid
JSON and read back equal. U+2028/U+2029 are always escaped so that no line-based reader
(including JavaScript ones) splits a record.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import orjson

__all__ = ["JsonValue", "dumps", "dumps_bytes", "loads"]

JsonValue: TypeAlias = Any
"""A value that JSON can carry (dict, list, str, int, float, bool, None)."""

_LS = "\u2028".encode()
_PS = "\u2029".encode()


def dumps_bytes(value: JsonValue) -> bytes:
    """Compact JSON as bytes, one line, safe for JSONL."""
    try:
        raw = orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if _LS in raw or _PS in raw:
        raw = raw.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")
    return raw


def dumps(value: JsonValue) -> str:
    """Compact JSON text, one line (see :func:`dumps_bytes`)."""
    return dumps_bytes(value).decode("utf-8")


def loads(data: str | bytes) -> JsonValue:
    """Parse JSON; accepts lone-surrogate escapes that orjson rejects."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
