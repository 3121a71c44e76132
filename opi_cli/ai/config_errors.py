"""Wording a config file's schema problem: the file, the line, the key path and what was expected.

Loaded (with ``jsonschema``) only when :func:`~opi_cli.ai.config_check.quick_valid` cannot
vouch for a file, which for a valid file is almost never.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["schema_problem"]




def schema_problem(value: Any, schema: Mapping[str, Any], path: Path, text: str) -> str | None:
    """``path:line: key.path: problem`` for the most relevant way ``value`` breaks ``schema``, or ``None``.

    ``text`` is the file with comments blanked out (offsets kept), to find the line.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = list(error.absolute_path)
    try:
        line = _line_of(text, where)
    except ValueError:  # the text and the value disagree (cannot happen for a parsed file)
        line = 0
    key = _key_path(where)
    return ": ".join([f"{path}:{line}" if line else str(path), *([key] if key else []), _problem(error)])


def _key_path(where: Sequence[str | int]) -> str:
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


_ARTICLE = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
            "number": "a number", "boolean": "true or false", "null": "null"}  # fmt: skip


def _problem(error: Any) -> str:
    found = json.dumps(error.instance, ensure_ascii=False)
    found = found if len(found) <= 40 else found[:37] + "..."
    match error.validator:
        case "type":
            kinds = [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value
            return f"must be {' or '.join(_ARTICLE.get(k, k) for k in kinds)}, not {found}"
        case "enum":
            return f"must be one of {', '.join(str(v) for v in error.validator_value)}"
        case "minimum":
            return f"must be at least {error.validator_value}"
        case "maximum":
            return f"must be at most {error.validator_value}"
        case "minLength" if error.validator_value == 1:
            return "must not be empty"
        case "required":
            return str(error.message).replace("is a required property", "is required")
    return str(error.message)


def _line_of(text: str, where: Sequence[str | int]) -> int:
    """1-based line of the key (or element) at ``where`` in JSON ``text``; 0 if not found."""
    decoder = json.JSONDecoder()
    pos, at = _ws(text, 0), -1
    for part in where:
        found = -1
        if isinstance(part, str) and text.startswith("{", pos):
            pos = _ws(text, pos + 1)
            while pos < len(text) and text[pos] == '"':
                key, end = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                value_at = _ws(text, _ws(text, end) + 1)
                if key == part:
                    found, at = value_at, pos  # the last duplicate wins, as in json.loads
                _, end = decoder.raw_decode(text, value_at)
                pos = _ws(text, end)
                pos = _ws(text, pos + 1) if text.startswith(",", pos) else pos
        elif isinstance(part, int) and text.startswith("[", pos):
            pos = _ws(text, pos + 1)
            for index in range(part + 1):
                if index == part:
                    found = at = pos
                    break
                _, end = decoder.raw_decode(text, pos)
                pos = _ws(text, _ws(text, end) + 1)
        if found < 0:
            return 0
        pos = found
    return text.count("\n", 0, at) + 1 if at >= 0 else 0


def _ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
