"""Tools from plain Python functions: ``@tool`` and :class:`FunctionTool`.

``@tool`` (or :func:`function_tool`) turns a sync or async function into a
:class:`FunctionTool`, which implements the loop's :class:`~opi_cli.agent.tool.Tool`
protocol. The description is the docstring's first paragraph; Google-style ``Args:``
lines describe the parameters; the JSON Schema comes from the type hints
(:mod:`opi_cli.agent.type_schema` lists the supported forms). A function whose only
parameter is a dataclass, ``NamedTuple``, ``TypedDict`` or pydantic model takes the whole
argument object as that type.
A parameter annotated :class:`~opi_cli._util.abort.AbortSignal` receives the run's abort
signal and is not part of the schema.

The loop validates the model's arguments against the schema before ``execute``; here they
are converted to the annotated types (dicts to dataclasses, strings to enums, lists to
tuples) and the function is called. Sync functions run in a worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import decimal
import enum
import inspect
import json
import re
import typing
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, overload

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, text_result
from opi_cli.agent.type_schema import (
    MISSING,
    Convert,
    Field,
    Schema,
    is_model_class,
    is_namedtuple,
    is_typeddict,
    json_default,
    parse_docstring,
    type_spec,
)
from opi_cli.errors import ToolError

__all__ = ["Field", "FunctionTool", "function_schema", "function_tool", "to_tool_result", "tool"]

# ---------------------------------------------------------------------------------------------
# functions


@record
class _Param:
    name: str
    kind: Any
    convert: Convert


@record
class _Plan:
    """How to call the function with a validated argument object."""

    params: tuple[_Param, ...]
    whole: _Param | None  # the one dataclass/TypedDict parameter that takes the whole object
    signal_param: str | None


def _analyse(fn: Callable[..., Any], name: str) -> tuple[Schema, _Plan, str]:
    where = f"tool {name!r}"
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise TypeError(f"{where}: cannot resolve a type annotation: {exc}") from exc
    description, docs = parse_docstring(fn.__doc__)
    signal_param: str | None = None
    candidates: list[inspect.Parameter] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{where}: *args and **kwargs cannot be tool parameters ({p.name})")
        if hints.get(p.name) is AbortSignal:
            signal_param = p.name
            continue
        candidates.append(p)
    if len(candidates) == 1:
        only = candidates[0]
        tp = _strip_annotated(hints.get(only.name, Any))
        if isinstance(tp, type) and (
            dataclasses.is_dataclass(tp) or is_typeddict(tp) or is_model_class(tp) or is_namedtuple(tp)
        ):
            spec = type_spec(hints[only.name], where)
            schema = dict(spec.schema)
            schema.pop("description", None)
            whole = _Param(only.name, only.kind, spec.convert)
            return schema, _Plan((), whole, signal_param), description
    props: dict[str, JsonValue] = {}
    required: list[str] = []
    params: list[_Param] = []
    for p in candidates:
        spec = type_spec(hints.get(p.name, Any), where)
        schema = dict(spec.schema)
        if p.name in docs and "description" not in schema:
            schema["description"] = docs[p.name]
        if p.default is p.empty:
            required.append(p.name)
        elif (d := json_default(p.default)) is not MISSING:
            schema["default"] = d
        props[p.name] = schema
        params.append(_Param(p.name, p.kind, spec.convert))
    schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    return schema, _Plan(tuple(params), None, signal_param), description


def _strip_annotated(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def function_schema(fn: Callable[..., Any]) -> Schema:
    """The JSON Schema of ``fn``'s arguments object.

    Raises:
        TypeError: an unsupported annotation, ``*args``/``**kwargs``, or a recursive type.
    """
    return _analyse(fn, getattr(fn, "__name__", "tool"))[0]


class FunctionTool:
    """A Python function as a tool of the agent loop (see the module docstring).

    Calling the object calls the function unchanged, so a decorated function stays usable.

    Attributes:
        name / description / parameters: what the model sees.
        execution_mode: ``parallel`` (default) or ``sequential``.
        fn: the wrapped function.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        execution_mode: ExecutionMode = "parallel",
    ) -> None:
        self.fn = fn
        self._name = name or getattr(fn, "__name__", "") or "tool"
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self._name):
            raise ValueError(f"tool name {self._name!r} must be 1-64 letters, digits, '_' or '-'")
        schema, plan, doc_description = _analyse(fn, self._name)
        self._parameters = schema
        self._plan = plan
        self._description = description if description is not None else doc_description
        self._execution_mode: ExecutionMode = execution_mode
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    @property
    def parameters(self) -> dict[str, JsonValue]:
        return self._parameters

    @property
    def execution_mode(self) -> ExecutionMode:
        return self._execution_mode

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool(name={self._name!r})"

    def bind(
        self, args: Mapping[str, JsonValue], signal: AbortSignal | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Convert validated JSON arguments to the call's positional and keyword arguments.

        Raises:
            ToolError: a value that cannot be converted to its annotated type.
        """
        plan = self._plan
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        try:
            if plan.whole is not None:
                _place(plan.whole, plan.whole.convert(dict(args)), positional, keywords)
            for p in plan.params:
                if p.name in args:
                    _place(p, p.convert(args[p.name]), positional, keywords)
        except (TypeError, ValueError, KeyError) as exc:
            raise ToolError(f"Invalid arguments for tool {self._name}: {exc}") from exc
        if plan.signal_param is not None:
            keywords[plan.signal_param] = signal if signal is not None else AbortSignal()
        return positional, keywords

    async def call(self, args: Mapping[str, JsonValue], signal: AbortSignal | None = None) -> Any:
        """Convert ``args`` and call the function (sync ones in a worker thread); returns its value."""
        positional, keywords = self.bind(args, signal)
        if self._is_async:
            return await self.fn(*positional, **keywords)
        result = await asyncio.to_thread(self.fn, *positional, **keywords)
        if inspect.isawaitable(result):
            return await result
        return result

    async def execute(
        self,
        call_id: str,
        args: dict[str, JsonValue],
        signal: AbortSignal,
        on_update: UpdateCallback | None,
    ) -> ToolResult:
        """Run the tool for the agent loop: the return value becomes the result text."""
        return to_tool_result(await self.call(args, signal))


def _place(p: _Param, value: Any, positional: list[Any], keywords: dict[str, Any]) -> None:
    if p.kind is inspect.Parameter.POSITIONAL_ONLY:
        positional.append(value)
    else:
        keywords[p.name] = value


def _jsonable(value: Any) -> JsonValue:
    if is_model_class(type(value)):
        dumped: JsonValue = value.model_dump(mode="json")
        return dumped
    if is_namedtuple(type(value)):
        return {k: _jsonable(v) for k, v in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, Path | uuid.UUID | decimal.Decimal | _dt.time):
        return str(value)
    return value


def to_tool_result(value: Any) -> ToolResult:
    """A function's return value as a tool result: text as is, a ToolResult unchanged, the rest as JSON."""
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, str):
        return text_result(value)
    return text_result(json.dumps(_jsonable(value), ensure_ascii=False, default=str))


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    fn: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    execution_mode: ExecutionMode = "parallel",
) -> FunctionTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, execution_mode: ExecutionMode = "parallel"
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    execution_mode: ExecutionMode = "parallel",
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool from a function: ``@tool``, ``@tool(name=..., description=...)`` or ``tool(fn, name=...)``.

    Raises:
        TypeError: an annotation with no JSON Schema (raised when decorating, not when called).
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(f, name=name, description=description, execution_mode=execution_mode)

    return wrap(fn) if fn is not None else wrap


def function_tool(name: str, description: str, fn: Callable[..., Any]) -> FunctionTool:
    """The seed's ``tool_fn!(name, description, fn)``: a :class:`FunctionTool` with an explicit name and description."""
    return FunctionTool(fn, name=name, description=description)
