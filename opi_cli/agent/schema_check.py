"""A fast yes/no check of a value against the JSON Schema keywords tool schemas use.

:func:`compile_check` turns a schema into a function ``value -> bool`` once; calling it
costs a few microseconds and imports nothing. It answers the common question of every
tool call, "are these arguments valid?", so that ``jsonschema`` (about 60 ms to import,
plus a validator to build) is only loaded to *describe* what is wrong with a call that
fails, or for a schema this module does not cover.

Semantics are JSON Schema 2020-12 as ``jsonschema.Draft202012Validator`` applies them
(the validator opi uses when a schema names no ``$schema``): ``format`` is an annotation,
unknown keywords are ignored, ``integer`` accepts ``1.0``, ``true`` is not ``1``. A schema
with a keyword that asserts something this module does not implement (``$ref``,
``patternProperties``, ``uniqueItems``, ...) or with a ``$schema`` is not compiled
(:func:`compile_check` returns ``None``) and the caller uses ``jsonschema`` instead.
tests/test_schema_check.py compares the two on generated schemas and values.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]
"""True when the value satisfies the schema it was compiled from."""

_UNSUPPORTED = frozenset({
    "$schema", "$ref", "$dynamicRef", "$recursiveRef", "$anchor", "$dynamicAnchor", "$id",
    "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies",
    "unevaluatedItems", "unevaluatedProperties", "contains", "minContains", "maxContains",
    "uniqueItems", "multipleOf", "minProperties", "maxProperties", "if", "then", "else",
    "additionalItems",
})
"""Keywords with assertions this module does not implement: their schemas go to jsonschema."""


class _Unsupported(Exception):
    """The schema (or a subschema) uses a keyword this module leaves to jsonschema."""


def compile_check(schema: Any) -> Check | None:
    """A checker for ``schema``, or None when the schema needs full jsonschema."""
    try:
        return _compile(schema)
    except (_Unsupported, re.error, TypeError, ValueError, KeyError, AttributeError):
        return None


def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_object(v: Any) -> bool:
    return isinstance(v, dict)


def _is_array(v: Any) -> bool:
    return isinstance(v, list)


def _is_string(v: Any) -> bool:
    return isinstance(v, str)


_TYPES: dict[str, Check] = {
    "object": _is_object,
    "array": _is_array,
    "string": _is_string,
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema's ``enum``/``const`` see it (``true`` is not ``1``)."""
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and _equal(x, b[k]) for k, x in a.items())
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def _compile(schema: Any) -> Check:
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, dict):
        raise _Unsupported("a schema is an object or a boolean")
    if _UNSUPPORTED & schema.keys():
        raise _Unsupported(", ".join(sorted(_UNSUPPORTED & schema.keys())))
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type(schema["type"]))
    if "enum" in schema:
        options = list(schema["enum"])
        checks.append(lambda v: any(_equal(v, o) for o in options))
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda v: _equal(v, const))
    checks += _object_checks(schema)
    checks += _array_checks(schema)
    checks += _scalar_checks(schema)
    checks += _combinators(schema)
    return _all(checks)


def _type(kind: Any) -> Check:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    tests = [_TYPES[k] for k in kinds]  # KeyError (an unknown type name) -> not compiled
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


def _object_checks(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    props = {str(k): _compile(s) for k, s in (schema.get("properties") or {}).items()}
    extra = _compile(schema["additionalProperties"]) if "additionalProperties" in schema else None
    required = [str(k) for k in schema.get("required") or []]
    if props or extra is not None:

        def members(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key, value in v.items():
                check = props.get(key, extra)
                if check is not None and not check(value):
                    return False
            return True

        out.append(members)
    if required:
        out.append(lambda v: not isinstance(v, dict) or all(k in v for k in required))
    return out


def _array_checks(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    prefix = [_compile(s) for s in schema.get("prefixItems") or []]
    rest = _compile(schema["items"]) if "items" in schema else None
    if prefix or rest is not None:
        n = len(prefix)

        def items(v: Any) -> bool:
            if not isinstance(v, list):
                return True
            if not all(c(x) for c, x in zip(prefix, v, strict=False)):
                return False
            return rest is None or all(rest(x) for x in v[n:])

        out.append(items)
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None:
        out.append(lambda v: not isinstance(v, list) or len(v) >= low)
    if high is not None:
        out.append(lambda v: not isinstance(v, list) or len(v) <= high)
    return out


def _scalar_checks(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None:
        out.append(lambda v: not isinstance(v, str) or len(v) >= low)
    if high is not None:
        out.append(lambda v: not isinstance(v, str) or len(v) <= high)
    if "pattern" in schema:
        pattern = re.compile(schema["pattern"])
        out.append(lambda v: not isinstance(v, str) or pattern.search(v) is not None)
    for key, test in _BOUNDS:
        if key in schema:
            bound = schema[key]
            if not _is_number(bound):
                raise _Unsupported(f"{key} is not a number")
            out.append(_bound(test, bound))
    return out


_BOUNDS: tuple[tuple[str, Callable[[Any, Any], bool]], ...] = (
    ("minimum", operator.ge), ("maximum", operator.le),
    ("exclusiveMinimum", operator.gt), ("exclusiveMaximum", operator.lt),
)


def _bound(test: Callable[[Any, Any], bool], bound: Any) -> Check:
    return lambda v: not _is_number(v) or test(v, bound)


def _combinators(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "allOf" in schema:
        out.append(_all([_compile(s) for s in schema["allOf"]]))
    if "anyOf" in schema:
        any_of = [_compile(s) for s in schema["anyOf"]]
        out.append(lambda v: any(c(v) for c in any_of))
    if "oneOf" in schema:
        one_of = [_compile(s) for s in schema["oneOf"]]
        out.append(lambda v: sum(1 for c in one_of if c(v)) == 1)
    if "not" in schema:
        negated = _compile(schema["not"])
        out.append(lambda v: not negated(v))
    return out
