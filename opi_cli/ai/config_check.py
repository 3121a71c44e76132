"""Reading opi's JSON config files (settings, models, auth) and checking them against a JSON Schema.

Every problem is a :class:`~opi_cli.errors.ConfigError` (exit 2) naming the file, the line
and the key, such as ``settings.json:3: retry.maxRetries: must be an integer, not "three"``;
a file is never reset or rewritten because of it. Comments (``//``, ``/* */``) and trailing
commas are accepted, as pi 0.73 accepts them.

``jsonschema`` costs ~80 ms to import, more than the rest of a run's start, so a file is first
checked by :func:`quick_valid`, which understands the few keywords these schemas use and says
"valid" only when it is sure; anything else (a problem, or a keyword it does not know) goes to
``jsonschema``, which decides and words the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


# -- checking with jsonschema and wording the problem ------------------------------------------


def validate_config(value: Any, schema: Mapping[str, Any], path: Path, text: str) -> None:
    """Check a parsed config file against ``schema``; ``text`` is the file, to find lines.

    Raises:
        ConfigError: ``path:line: key.path: problem. Fix the file (it was not changed).``
    """
    if quick_valid(value, schema):
        return
    import jsonschema  # only for files the quick check cannot vouch for (see the module docstring)

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return
    where = list(error.absolute_path)
    try:
        line = _line_of(strip_jsonc(text), where)
    except ValueError:  # the text and the value disagree (cannot happen for a parsed file)
        line = 0
    key = _key_path(where)
    parts = [f"{path}:{line}" if line else str(path), *([key] if key else []), _problem(error)]
    raise ConfigError(f"{': '.join(parts)}. {_FIX}")


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
