"""Check tool arguments from the model against the tool's JSON Schema.

Numeric and boolean strings are coerced where the schema asks for a number/boolean
(models often quote them), and stringified JSON arrays/objects are parsed where an
array/object is expected. Failures produce pi's readable text: each problem on its own
line with its path, then the received arguments.

Each schema is compiled once (cached by its content): a valid call is decided by
:mod:`~opi_cli.agent.schema_check` in microseconds without importing ``jsonschema``; only a
call that fails (to name its problems) or a schema outside that module's keywords builds a
``jsonschema`` validator, once per schema too.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from opi_cli._util.jsonio import JsonValue, dumps_bytes
from opi_cli.agent.schema_check import Check, compile_check

__all__ = ["validate_arguments"]

_CACHE_SIZE = 256
"""Schemas kept compiled: far more than the tools of any session (MCP servers included)."""


def _coerce(value: JsonValue, schema: dict[str, Any]) -> JsonValue:
    kind = schema.get("type")
    if isinstance(value, str):
        s = value.strip()
        try:
            if kind == "integer" and s.lstrip("-").isdigit():
                return int(s)
            if kind == "number":
                return float(s) if any(ch in s for ch in ".eE") else int(s)
        except ValueError:
            return value
        if kind == "boolean" and s in ("true", "false"):
            return s == "true"
        if kind in ("array", "object") and s[:1] in ("[", "{"):
            try:
                parsed = json.loads(s)
            except ValueError:
                return value
            return _coerce(parsed, schema)
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties") or {}
        return {k: (_coerce(v, props[k]) if isinstance(props.get(k), dict) else v) for k, v in value.items()}
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"]) for v in value]
    return value


def _path(err: Any) -> str:
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else ""
        parts.append(missing)
        return ".".join(p for p in parts if p) or "root"
    return ".".join(parts) or "root"


def _describe(err: Any) -> str:
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else "?"
        return f"must have required property '{missing}'"
    if err.validator == "type":
        return f"must be {err.validator_value}"
    if err.validator == "additionalProperties":
        return str(err.message).replace("Additional properties are not allowed", "must NOT have additional properties")
    if err.validator == "enum":
        return f"must be equal to one of the allowed values: {', '.join(map(str, err.validator_value))}"
    return str(err.message)


def validate_arguments(
    tool_name: str, schema: dict[str, JsonValue], args: dict[str, JsonValue]
) -> tuple[dict[str, JsonValue], str | None]:
    """Return (possibly coerced arguments, None) or (args, error text naming each problem)."""
    coerced = _coerce(args, schema)
    if not isinstance(coerced, dict):
        coerced = args
    key = dumps_bytes(schema)
    check = _fast_check(key)
    if check is not None and check(coerced):
        return coerced, None
    validator = _validator(key)
    errors = sorted(validator.iter_errors(coerced), key=lambda e: (list(e.absolute_path), e.message))
    if not errors:
        return coerced, None
    lines = [f"  - {_path(e)}: {_describe(e)}" for e in errors]
    received = json.dumps(args, indent=2, ensure_ascii=False)
    text = f'Validation failed for tool "{tool_name}":\n' + "\n".join(lines) + f"\n\nReceived arguments:\n{received}"
    return args, text


# The caches are keyed by the schema's JSON text, not the dict: a schema edited in place, or
# an equal schema in another object, still finds the right entry.
@lru_cache(maxsize=_CACHE_SIZE)
def _fast_check(key: bytes) -> Check | None:
    return compile_check(json.loads(key))


@lru_cache(maxsize=_CACHE_SIZE)
def _validator(key: bytes) -> Any:
    import jsonschema  # heavy: loaded only to describe a failed call (or for an uncommon schema)

    schema = json.loads(key)
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_cls(schema)
