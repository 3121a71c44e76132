"""JSON Schema and a JSON-to-Python converter for one type annotation (tools from type hints).

Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``,
``Optional``/``X | None``, unions, ``list``/``Sequence``/``set``/``tuple``,
``dict[str, X]``, ``Literal``, ``Enum``, dataclasses, ``NamedTuple``, ``TypedDict``
(``total``, ``Required``/``NotRequired``), ``datetime``/``date``/``time``/``Path``/``UUID``/
``Decimal``, pydantic models (their own schema and validation; pydantic is never imported
here), and ``Annotated[X, "description"]`` or ``Annotated[X, Field(...)]``. Descriptions of
dataclass, NamedTuple and TypedDict fields come from ``Attributes:`` in the class docstring
(or ``field(metadata={"description": ...})``). Recursive types are refused.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import inspect
import json
import re
import types
import typing
import uuid
from collections import abc as cabc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias, Union

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record

__all__ = [
    "MISSING",
    "Convert",
    "Field",
    "Schema",
    "TypeSpec",
    "is_model_class",
    "is_namedtuple",
    "is_typeddict",
    "json_default",
    "parse_docstring",
    "type_schema",
    "type_spec",
]

Schema: TypeAlias = dict[str, JsonValue]
Convert: TypeAlias = Callable[[JsonValue], Any]
_NoneType = type(None)
_SEQUENCES: frozenset[Any] = frozenset(
    {list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection}
)
_SETS: frozenset[Any] = frozenset({set, frozenset, cabc.Set, cabc.MutableSet})
_MAPPINGS: frozenset[Any] = frozenset({dict, cabc.Mapping, cabc.MutableMapping})
MISSING: Any = dataclasses.MISSING
"""Returned by :func:`json_default` for a default JSON cannot hold."""


@record
class Field:
    """Metadata for ``Annotated[X, Field(...)]``: a description and JSON Schema constraints.

    Example:
        ``count: Annotated[int, Field("How many", ge=1, le=10)] = 3``
    """

    description: str | None = None
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    examples: tuple[JsonValue, ...] = ()

    def apply(self, schema: Schema) -> None:
        """Add this field's description and constraints to ``schema``."""
        if self.description:
            schema["description"] = self.description
        for key, value in (
            ("minimum", self.ge),
            ("maximum", self.le),
            ("exclusiveMinimum", self.gt),
            ("exclusiveMaximum", self.lt),
            ("pattern", self.pattern),
        ):
            if value is not None:
                schema[key] = value
        length_keys = (
            ("minItems", "maxItems") if schema.get("type") == "array" else ("minLength", "maxLength")
        )
        if self.min_length is not None:
            schema[length_keys[0]] = self.min_length
        if self.max_length is not None:
            schema[length_keys[1]] = self.max_length
        if self.examples:
            schema["examples"] = list(self.examples)


@record(frozen=False)
class TypeSpec:
    """The JSON Schema of an annotation and the function converting a validated JSON value to it."""

    schema: Schema
    convert: Convert


def _identity(value: JsonValue) -> Any:
    return value


# ---------------------------------------------------------------------------------------------
# docstrings

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params|Attributes|Fields)\s*:\s*$")
_OTHER_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The first paragraph and the ``Args:``/``Attributes:`` descriptions of a Google-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    first: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line) or _OTHER_SECTION.match(line):
            break
        first.append(line.strip())
    params: dict[str, str] = {}
    current: str | None = None
    base_indent: int | None = None
    in_section = False
    for line in lines:
        if _SECTION.match(line):
            in_section, current, base_indent = True, None, None
            continue
        if not in_section:
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0 and _OTHER_SECTION.match(line):
            in_section = False
            continue
        if base_indent is None:
            base_indent = indent
        m = _ARG_LINE.match(line)
        if indent <= base_indent and m:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current is not None and indent > base_indent:
            params[current] = (params[current] + " " + line.strip()).strip()
        elif indent < base_indent:
            in_section = False
    return " ".join(first), params


# ---------------------------------------------------------------------------------------------
# type -> schema + converter


def is_typeddict(tp: Any) -> bool:
    """Whether ``tp`` is a TypedDict class."""
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def is_namedtuple(tp: Any) -> bool:
    """Whether ``tp`` is a ``typing.NamedTuple`` class."""
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields") and hasattr(tp, "__annotations__")


def is_model_class(tp: Any) -> bool:
    """Whether ``tp`` is a pydantic (v2) model class, told by its methods, not by importing pydantic."""
    return isinstance(tp, type) and callable(getattr(tp, "model_json_schema", None)) and callable(
        getattr(tp, "model_validate", None)
    )


def _inline_refs(schema: JsonValue, defs: Mapping[str, JsonValue], seen: tuple[str, ...] = ()) -> JsonValue:
    """``schema`` with every ``{"$ref": "#/$defs/X"}`` replaced by ``X`` (tool schemas are sent
    nested in a request, where a reference to the root's ``$defs`` would not resolve)."""
    if isinstance(schema, list):
        return [_inline_refs(v, defs, seen) for v in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen:
            raise TypeError(f"recursive model {name} is not supported in a tool schema")
        target = _inline_refs(defs.get(name, {}), defs, (*seen, name))
        rest = {k: _inline_refs(v, defs, seen) for k, v in schema.items() if k != "$ref"}
        return {**target, **rest} if isinstance(target, dict) else target
    return {k: _inline_refs(v, defs, seen) for k, v in schema.items() if k != "$defs"}


def _to_decimal(value: JsonValue) -> decimal.Decimal:
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation as exc:
        raise ValueError(f"not a decimal number: {value!r}") from exc


def _describe_from(meta: Sequence[Any], schema: Schema) -> None:
    for m in meta:
        if isinstance(m, str):
            schema["description"] = m
        elif isinstance(m, Field):
            m.apply(schema)
        else:
            text = getattr(m, "description", None) or getattr(m, "documentation", None)
            if isinstance(text, str) and text:
                schema["description"] = text


def json_default(value: Any) -> JsonValue:
    """A default as JSON, or ``MISSING`` when it cannot be written as one."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, tuple | frozenset | set):
        value = list(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return MISSING
    return value


class _Builder:
    """Builds schemas, remembering the classes being expanded to refuse recursive types."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._stack: list[type] = []

    def spec(self, tp: Any) -> TypeSpec:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            inner, *meta = typing.get_args(tp)
            spec = self.spec(inner)
            schema = dict(spec.schema)
            _describe_from(meta, schema)
            return TypeSpec(schema, spec.convert)
        if tp is Any or tp is object or tp is inspect.Parameter.empty:
            return TypeSpec({}, _identity)
        if tp is None or tp is _NoneType:
            return TypeSpec({"type": "null"}, _identity)
        if origin is Union or origin is types.UnionType:
            return self._union(typing.get_args(tp))
        if origin is Literal:
            return self._literal(typing.get_args(tp))
        if origin is not None:
            return self._generic(tp, origin, typing.get_args(tp))
        return self._plain(tp)

    def _plain(self, tp: Any) -> TypeSpec:
        if tp is bool:
            return TypeSpec({"type": "boolean"}, _identity)
        if tp is int:
            return TypeSpec({"type": "integer"}, _identity)
        if tp is float:
            return TypeSpec({"type": "number"}, lambda v: float(v) if isinstance(v, int | float) else v)
        if tp is str:
            return TypeSpec({"type": "string"}, _identity)
        if tp is _dt.datetime:
            return TypeSpec(
                {"type": "string", "format": "date-time"}, lambda v: _dt.datetime.fromisoformat(v)
            )
        if tp is _dt.date:
            return TypeSpec({"type": "string", "format": "date"}, lambda v: _dt.date.fromisoformat(v))
        if tp is _dt.time:
            return TypeSpec({"type": "string", "format": "time"}, lambda v: _dt.time.fromisoformat(v))
        if tp is uuid.UUID:
            return TypeSpec({"type": "string", "format": "uuid"}, lambda v: uuid.UUID(v))
        if tp is decimal.Decimal:  # a string keeps every digit; a JSON number is accepted too
            return TypeSpec(
                {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$"}]},
                _to_decimal,
            )
        if is_model_class(tp):
            return self._model(tp)
        if is_namedtuple(tp):
            return self._namedtuple(tp)
        if isinstance(tp, type) and issubclass(tp, Path):
            return TypeSpec({"type": "string"}, lambda v: tp(v))
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self._enum(tp)
        if tp in (list, tuple, set, frozenset, dict):
            return self._generic(tp, tp, ())
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self._dataclass(tp)
        if is_typeddict(tp):
            return self._typeddict(tp)
        raise TypeError(f"{self.where}: unsupported type annotation {tp!r} for a tool parameter")

    def _enum(self, tp: type[enum.Enum]) -> TypeSpec:
        values = [m.value for m in tp]
        schema: Schema = {"enum": values}
        kinds = {type(v) for v in values}
        if kinds <= {str}:
            schema = {"type": "string", "enum": values}
        elif kinds <= {int}:
            schema = {"type": "integer", "enum": values}
        if tp.__doc__ and tp.__doc__ != enum.Enum.__doc__ and not tp.__doc__.startswith("An enumeration"):
            schema["description"] = parse_docstring(tp.__doc__)[0]
        return TypeSpec(schema, lambda v: tp(v))

    def _literal(self, values: tuple[Any, ...]) -> TypeSpec:
        plain = [v.value if isinstance(v, enum.Enum) else v for v in values]
        schema: Schema = {"enum": plain}
        kinds = {type(v) for v in plain}
        for py, name in ((str, "string"), (bool, "boolean"), (int, "integer")):
            if kinds == {py}:
                schema = {"type": name, "enum": plain}
        by_value = {p: v for p, v in zip(plain, values, strict=True)}
        return TypeSpec(schema, lambda v: by_value.get(v, v))

    def _union(self, args: tuple[Any, ...]) -> TypeSpec:
        nullable = any(a is _NoneType or a is None for a in args)
        rest = [a for a in args if a is not _NoneType and a is not None]
        specs = [self.spec(a) for a in rest]
        if len(specs) == 1 and nullable:
            inner = specs[0]
            t = inner.schema.get("type")
            if isinstance(t, str) and set(inner.schema) <= {"type", "description", "format"}:
                schema: Schema = {**inner.schema, "type": [t, "null"]}
            else:
                schema = {"anyOf": [inner.schema, {"type": "null"}]}
            convert = inner.convert
            return TypeSpec(schema, lambda v: None if v is None else convert(v))
        options = [s.schema for s in specs] + ([{"type": "null"}] if nullable else [])
        return TypeSpec({"anyOf": options}, self._union_convert(rest, specs))

    def _union_convert(self, types_: list[Any], specs: list[TypeSpec]) -> Convert:
        def convert(value: JsonValue) -> Any:
            if value is None:
                return None
            for tp, spec in zip(types_, specs, strict=True):
                if _matches_json(tp, value):
                    try:
                        return spec.convert(value)
                    except (TypeError, ValueError, KeyError):
                        continue
            return value

        return convert

    def _generic(self, tp: Any, origin: Any, args: tuple[Any, ...]) -> TypeSpec:
        if origin in _SEQUENCES or origin in _SETS:
            item = self.spec(args[0]) if args else TypeSpec({}, _identity)
            schema: Schema = {"type": "array", "items": item.schema}
            conv = item.convert
            if origin in _SETS:  # duplicates are merged, not refused
                make: Callable[[Any], Any] = frozenset if origin is frozenset else set
                return TypeSpec(schema, lambda v: make(conv(x) for x in v))
            if origin is list:
                return TypeSpec(schema, lambda v: [conv(x) for x in v])
            return TypeSpec(schema, lambda v: tuple(conv(x) for x in v))
        if origin is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                item = self.spec(args[0]) if args else TypeSpec({}, _identity)
                conv = item.convert
                return TypeSpec({"type": "array", "items": item.schema}, lambda v: tuple(conv(x) for x in v))
            items = [self.spec(a) for a in args]
            schema = {
                "type": "array",
                "prefixItems": [s.schema for s in items],
                "items": False,
                "minItems": len(items),
                "maxItems": len(items),
            }
            convs = [s.convert for s in items]
            return TypeSpec(schema, lambda v: tuple(c(x) for c, x in zip(convs, v, strict=True)))
        if origin in _MAPPINGS:
            if args and args[0] is not str:
                raise TypeError(f"{self.where}: dict keys must be str in a tool parameter, not {args[0]!r}")
            value = self.spec(args[1]) if len(args) == 2 else TypeSpec({}, _identity)
            conv = value.convert
            schema = {"type": "object", "additionalProperties": value.schema or True}
            return TypeSpec(schema, lambda v: {k: conv(x) for k, x in v.items()})
        raise TypeError(f"{self.where}: unsupported type annotation {tp!r} for a tool parameter")

    def _hints(self, cls: Any) -> dict[str, Any]:
        try:
            return typing.get_type_hints(cls, localns={cls.__name__: cls}, include_extras=True)
        except NameError as exc:
            raise TypeError(f"{self.where}: cannot resolve an annotation of {cls.__name__}: {exc}") from exc

    def _enter(self, cls: type) -> None:
        if cls in self._stack:
            raise TypeError(f"{self.where}: recursive type {cls.__name__} is not supported in a tool schema")
        self._stack.append(cls)

    def _dataclass(self, cls: type) -> TypeSpec:
        self._enter(cls)
        try:
            hints = self._hints(cls)
            docs = parse_docstring(cls.__doc__)[1]
            props: dict[str, JsonValue] = {}
            required: list[str] = []
            convs: dict[str, Convert] = {}
            for f in dataclasses.fields(cls):
                if not f.init:
                    continue
                spec = self.spec(hints.get(f.name, Any))
                schema = dict(spec.schema)
                desc = f.metadata.get("description") or docs.get(f.name)
                if desc and "description" not in schema:
                    schema["description"] = desc
                if f.default is MISSING and f.default_factory is MISSING:
                    required.append(f.name)
                elif f.default is not MISSING and (d := json_default(f.default)) is not MISSING:
                    schema["default"] = d
                props[f.name] = schema
                convs[f.name] = spec.convert
        finally:
            self._stack.pop()
        out: Schema = {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }
        doc = cls.__doc__ or ""
        if not doc.startswith(f"{cls.__name__}(") and (first := parse_docstring(doc)[0]):
            out["description"] = first
        return TypeSpec(out, lambda v: cls(**{k: convs[k](x) for k, x in v.items() if k in convs}))

    def _model(self, cls: Any) -> TypeSpec:
        """A pydantic model: its own JSON Schema (references inlined) and ``model_validate``."""
        raw = cls.model_json_schema()
        defs = raw.get("$defs", {}) if isinstance(raw, dict) else {}
        schema = _inline_refs(raw, defs)
        if not isinstance(schema, dict):
            raise TypeError(f"{self.where}: {cls.__name__}.model_json_schema() is not an object schema")
        schema.pop("title", None)
        return TypeSpec(schema, lambda v: cls.model_validate(v))

    def _namedtuple(self, cls: Any) -> TypeSpec:
        """A NamedTuple as an object with its fields (names read better than positions)."""
        self._enter(cls)
        try:
            hints = self._hints(cls)
            docs = parse_docstring(cls.__doc__)[1]
            defaults = getattr(cls, "_field_defaults", {})
            props: dict[str, JsonValue] = {}
            convs: dict[str, Convert] = {}
            for name in cls._fields:
                spec = self.spec(hints.get(name, Any))
                schema = dict(spec.schema)
                if name in docs and "description" not in schema:
                    schema["description"] = docs[name]
                if name in defaults and (d := json_default(defaults[name])) is not MISSING:
                    schema["default"] = d
                props[name] = schema
                convs[name] = spec.convert
        finally:
            self._stack.pop()
        out: Schema = {
            "type": "object",
            "properties": props,
            "required": [n for n in cls._fields if n not in defaults],
            "additionalProperties": False,
        }
        return TypeSpec(out, lambda v: cls(**{k: convs[k](x) for k, x in v.items() if k in convs}))

    def _typeddict(self, cls: Any) -> TypeSpec:
        self._enter(cls)
        try:
            hints = self._hints(cls)
            docs = parse_docstring(cls.__doc__)[1]
            props: dict[str, JsonValue] = {}
            convs: dict[str, Convert] = {}
            for name, hint in hints.items():
                spec = self.spec(_strip_required(hint))
                schema = dict(spec.schema)
                if name in docs and "description" not in schema:
                    schema["description"] = docs[name]
                props[name] = schema
                convs[name] = spec.convert
        finally:
            self._stack.pop()
        required = [k for k, h in hints.items() if _td_required(k, h, cls)]
        out: Schema = {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }
        if cls.__doc__ and (first := parse_docstring(cls.__doc__)[0]):
            out["description"] = first
        return TypeSpec(out, lambda v: {k: convs[k](x) if k in convs else x for k, x in v.items()})


def _td_required(key: str, hint: Any, cls: Any) -> bool:
    """Whether a TypedDict key is required (the wrapper wins: with string annotations,
    Python 3.11's ``__required_keys__`` does not see ``NotRequired``)."""
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    origin = typing.get_origin(hint)
    if origin is typing.NotRequired:
        return False
    if origin is typing.Required:
        return True
    return key in cls.__required_keys__


def _strip_required(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Required, typing.NotRequired):
        return typing.get_args(hint)[0]
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(hint)
        stripped = _strip_required(inner)
        return typing.Annotated[(stripped, *meta)] if meta else stripped
    return hint


def _matches_json(tp: Any, value: JsonValue) -> bool:
    """Whether a JSON value could be an instance of annotation ``tp`` (to pick a union member)."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp) or tp
    if origin is Literal:
        return value in typing.get_args(tp)
    if isinstance(origin, type):
        if issubclass(origin, enum.Enum):
            return value in [m.value for m in origin]
        if origin is bool:
            return isinstance(value, bool)
        if origin is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if origin is float:
            return isinstance(value, int | float) and not isinstance(value, bool)
        if origin in (str, Path, _dt.datetime, _dt.date, _dt.time, uuid.UUID) or issubclass(origin, Path):
            return isinstance(value, str)
        if origin is decimal.Decimal:
            return isinstance(value, str | int | float) and not isinstance(value, bool)
        if (
            dataclasses.is_dataclass(origin)
            or is_typeddict(origin)
            or is_namedtuple(origin)
            or is_model_class(origin)
            or issubclass(origin, Mapping)
        ):
            return isinstance(value, dict)
        if issubclass(origin, list | tuple | set | frozenset):
            return isinstance(value, list)
    return True


def type_spec(tp: Any, where: str = "tool") -> TypeSpec:
    """Schema and converter for ``tp``; ``where`` names the tool in error messages.

    Raises:
        TypeError: an annotation that has no JSON Schema here, or a recursive type.
    """
    return _Builder(where).spec(tp)


def type_schema(tp: Any) -> Schema:
    """The JSON Schema of one annotation (for tests and custom tools).

    Raises:
        TypeError: an annotation that has no JSON Schema here.
    """
    return _Builder(repr(tp)).spec(tp).schema
