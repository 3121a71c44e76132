"""Reading opi's JSON config files (settings, models, auth) and checking them against a JSON Schema.

Every problem is a :class:`~opi_cli.errors.ConfigError` (exit 2) naming the file, the line
and the key, such as ``settings.json:3: retry.maxRetries: must be an integer, not "three"``;
a file is never reset or rewritten because of it. Comments (``//``, ``/* */``) and trailing
commas are accepted, as pi 0.73 accepts them.

``jsonschema`` costs ~80 ms to import (a plain run starts in about half a second), so a file
is first checked by :func:`quick_valid`, which understands the few keywords these schemas use
and says "valid" only when it is sure; anything else (a problem, or a keyword it does not
know) goes to ``jsonschema`` in :mod:`.config_errors`, which decides and words the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opi_cli.errors import ConfigError

__all__ = ["parse_config", "quick_valid", "read_config", "strip_jsonc", "validate_config"]

_FIX = "Fix the file (it was not changed)."


def strip_jsonc(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments and trailing commas, keeping every offset.

    Replacing with spaces (newlines kept) means a JSON error's line and column, and the
    lines :func:`validate_config` reports, still point into the user's file.
    """
    out = list(text)
    i, n = 0, len(text)
    in_str = False
    last_comma = -1  # position of a comma that may turn out to be trailing
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
            last_comma = -1
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = ["\n" if ch == "\n" else " " for ch in text[i:end]]
            i = end
            continue
        elif c == ",":
            last_comma = i
        elif c in "}]":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not c.isspace():
            last_comma = -1
        i += 1
    return "".join(out)


def parse_config(text: str, path: Path) -> Any:
    """The JSON value of a config file's ``text`` (comments and trailing commas allowed).

    Raises:
        ConfigError: malformed JSON, naming the file, line and column.
    """
    try:
        return json.loads(strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}. {_FIX}") from exc


def read_config(path: Path, schema: Mapping[str, Any]) -> Any:
    """Read, parse and check a config file; ``None`` if it does not exist, ``{}`` if it is blank.

    Raises:
        ConfigError: unreadable, malformed or not matching ``schema``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read: {reason}") from exc
    if not text.strip():
        return {}
    value = parse_config(text, path)
    validate_config(value, schema, path, text)
    return value


# -- the fast check ---------------------------------------------------------------------------

_KNOWN = frozenset(
    {"type", "properties", "additionalProperties", "items", "enum", "minimum", "maximum", "minLength",
     "required", "description", "title", "default", "examples", "$comment"}
)  # fmt: skip


def _is(value: Any, kind: str) -> bool:
    """JSON Schema's type test, as jsonschema applies it (1.0 is an integer, True is not)."""
    match kind:
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "null":
            return value is None
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "integer":
            if isinstance(value, bool):
                return False
            return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return False


def quick_valid(value: Any, schema: Mapping[str, Any]) -> bool:
    """True only if ``value`` certainly matches ``schema``; False means "ask jsonschema"."""
    if not isinstance(schema, Mapping) or not schema.keys() <= _KNOWN:
        return False
    kinds = schema.get("type")
    if kinds is not None and not any(_is(value, k) for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return False
    enum = schema.get("enum")
    if enum is not None and not (all(isinstance(e, str) for e in enum) and isinstance(value, str) and value in enum):
        return False
    if _is(value, "number") and not _in_range(value, schema):
        return False
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        return False
    if isinstance(value, dict):
        return _quick_object(value, schema)
    if isinstance(value, list) and "items" in schema:
        return all(quick_valid(item, schema["items"]) for item in value)
    return True


def _in_range(value: float, schema: Mapping[str, Any]) -> bool:
    low, high = schema.get("minimum"), schema.get("maximum")
    return (low is None or value >= low) and (high is None or value <= high)


def _quick_object(value: dict[str, Any], schema: Mapping[str, Any]) -> bool:
    if not all(key in value for key in schema.get("required", ())):
        return False
    props: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = props.get(key, extra)
        if sub is False:
            return False
        if sub is not True and not quick_valid(item, sub):
            return False
    return True


def validate_config(value: Any, schema: Mapping[str, Any], path: Path, text: str) -> None:
    """Check a parsed config file against ``schema``; ``text`` is the file, to find lines.

    Raises:
        ConfigError: ``path:line: key.path: problem. Fix the file (it was not changed).``
    """
    if quick_valid(value, schema):
        return
    from opi_cli.ai.config_errors import schema_problem  # jsonschema: only when the quick check is unsure

    problem = schema_problem(value, schema, path, strip_jsonc(text))
    if problem is not None:
        raise ConfigError(f"{problem}. {_FIX}")
