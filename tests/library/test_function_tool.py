"""Tools from type hints: one schema test per supported form, conversion, sync/async, and the loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Optional, Required, TypedDict

import pytest

from opi_cli import AgentBuilder, Config, Field, FunctionTool, ToolRegistry, tool
from opi_cli._util.abort import AbortSignal
from opi_cli.agent.function_tool import function_schema
from opi_cli.agent.type_schema import parse_docstring, type_schema
from opi_cli.agent.validation import validate_arguments
from opi_cli.errors import ToolError
from tests.mock_llm import MockLLM


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Point:
    """A point on the plane.

    Attributes:
        x: Horizontal position.
        y: Vertical position.
    """

    x: float
    y: float = 0.0


@dataclass
class Shape:
    name: str
    points: list[Point]
    color: Color = Color.RED
    tags: list[str] = field(default_factory=list)


class Options(TypedDict):
    """Search options.

    Attributes:
        mode: How to search.
    """

    mode: Literal["fast", "exact"]
    depth: NotRequired[int]


class Partial(TypedDict, total=False):
    limit: int
    query: Required[str]


@dataclass
class ReverseArgs:
    text: Annotated[str, "The string to reverse"]


@dataclass
class Node:
    value: int
    children: list[Node]


# -- schemas, one per form ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (Any, {}),
        (Optional[int], {"type": ["integer", "null"]}),  # noqa: UP045 - the typing form is tested on purpose
        (int | None, {"type": ["integer", "null"]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (set[int], {"type": "array", "items": {"type": "integer"}}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[str, int],
            {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "items": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Color, {"type": "string", "enum": ["red", "blue"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (dt.datetime, {"type": "string", "format": "date-time"}),
        (Path, {"type": "string"}),
        (Annotated[str, "A name"], {"type": "string", "description": "A name"}),
        (
            Annotated[int, Field("How many", ge=1, le=10)],
            {"type": "integer", "description": "How many", "minimum": 1, "maximum": 10},
        ),
        (
            Annotated[list[str], Field(min_length=1)],
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_type_schema(annotation: Any, schema: dict[str, Any]) -> None:
    assert type_schema(annotation) == schema


def test_dataclass_schema_with_docstring_attributes_defaults_and_nesting() -> None:
    assert type_schema(Shape) == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "A point on the plane.",
                    "properties": {
                        "x": {"type": "number", "description": "Horizontal position."},
                        "y": {"type": "number", "description": "Vertical position.", "default": 0.0},
                    },
                    "required": ["x"],
                    "additionalProperties": False,
                },
            },
            "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "points"],
        "additionalProperties": False,
    }


def test_typeddict_required_keys_follow_total_and_markers() -> None:
    opts = type_schema(Options)
    assert opts["required"] == ["mode"]
    assert opts["description"] == "Search options."
    assert opts["properties"]["mode"] == {
        "type": "string",
        "enum": ["fast", "exact"],
        "description": "How to search.",
    }
    assert opts["properties"]["depth"] == {"type": "integer"}
    assert type_schema(Partial)["required"] == ["query"]


def test_field_like_objects_with_a_description_attribute() -> None:
    class Doc:
        description = "From a foreign Field"

    assert type_schema(Annotated[str, Doc()]) == {"type": "string", "description": "From a foreign Field"}


def test_unsupported_and_recursive_types_fail_when_decorating() -> None:
    with pytest.raises(TypeError, match="recursive type Node"):
        type_schema(Node)
    with pytest.raises(TypeError, match="unsupported type annotation"):

        @tool
        def bad(x: complex) -> str:
            return ""

    with pytest.raises(TypeError, match=r"\*args"):

        @tool
        def variadic(*items: str) -> str:
            return ""

    with pytest.raises(TypeError, match="dict keys must be str"):
        type_schema(dict[int, str])

    @dataclass
    class Local:
        inner: Point

    def uses_local(arg: Local, other: int) -> str:
        return ""

    with pytest.raises(TypeError, match="cannot resolve a type annotation"):
        tool(uses_local)


def test_docstring_description_and_google_args() -> None:
    def fn(city: str, days: int = 3, unit: Literal["c", "f"] = "c") -> str:
        """Get the forecast for a city.

        Uses the national service.

        Args:
            city: The city, e.g. Paris.
            days (int): How many days
                to forecast.

        Returns:
            The forecast text.
        """
        return ""

    t = FunctionTool(fn)
    assert t.name == "fn"
    assert t.description == "Get the forecast for a city."
    assert t.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris."},
            "days": {"type": "integer", "description": "How many days to forecast.", "default": 3},
            "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    assert parse_docstring(None) == ("", {})


def test_decorator_forms_and_explicit_names() -> None:
    @tool(name="lookup", description="Look it up")
    async def fn(q: str) -> str:
        return q

    assert (fn.name, fn.description) == ("lookup", "Look it up")
    assert tool(lambda: "x", name="anon").parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    with pytest.raises(ValueError, match="tool name"):
        tool(lambda: "x", name="has space")


def test_single_dataclass_parameter_is_the_whole_argument_object() -> None:
    # (annotations name module-level classes: with postponed evaluation, classes local to a
    # function cannot be resolved, and decorating says so)
    def reverse(args: ReverseArgs) -> str:
        return args.text[::-1]

    assert function_schema(reverse) == {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The string to reverse"}},
        "required": ["text"],
        "additionalProperties": False,
    }
    assert asyncio.run(FunctionTool(reverse).call({"text": "abc"})) == "cba"

    def with_td(opts: Options) -> str:
        return json.dumps(opts, sort_keys=True)

    assert function_schema(with_td)["required"] == ["mode"]
    assert asyncio.run(FunctionTool(with_td).call({"mode": "fast"})) == '{"mode": "fast"}'


# -- conversion and calling ---------------------------------------------------------------------


async def test_arguments_are_converted_to_the_annotated_types() -> None:
    seen: dict[str, Any] = {}

    @tool
    async def draw(
        shape: Shape,
        color: Color,
        level: Level,
        when: dt.date,
        corner: tuple[int, int],
        ids: set[int],
        maybe: Point | None = None,
        either: int | Point = 0,
        weights: dict[str, float] | None = None,
    ) -> str:
        seen.update(locals())
        return "ok"

    args = {
        "shape": {"name": "tri", "points": [{"x": 1, "y": 2}, {"x": 3}], "color": "blue"},
        "color": "red",
        "level": 2,
        "when": "2025-01-02",
        "corner": [1, 2],
        "ids": [3, 3, 4],
        "maybe": {"x": 5},
        "either": {"x": 1, "y": 1},
        "weights": {"a": 1},
    }
    checked, problem = validate_arguments("draw", draw.parameters, args)
    assert problem is None
    result = await draw.execute("c1", checked, AbortSignal(), None)
    assert result.text == "ok" and not result.is_error
    assert seen["shape"] == Shape("tri", [Point(1.0, 2.0), Point(3.0, 0.0)], Color.BLUE)
    assert isinstance(seen["shape"].points[0].x, float)
    assert seen["color"] is Color.RED and seen["level"] is Level.HIGH
    assert seen["when"] == dt.date(2025, 1, 2)
    assert seen["corner"] == (1, 2) and seen["ids"] == {3, 4}
    assert seen["maybe"] == Point(5.0) and seen["either"] == Point(1.0, 1.0)
    assert seen["weights"] == {"a": 1.0} and isinstance(seen["weights"]["a"], float)


async def test_sync_functions_run_in_a_worker_thread_and_async_ones_on_the_loop() -> None:
    threads: list[str] = []

    @tool
    def sync_fn(n: int) -> int:
        threads.append(threading.current_thread().name)
        return n * 2

    @tool
    async def async_fn(n: int) -> dict[str, int]:
        threads.append(threading.current_thread().name)
        return {"double": n * 2}

    assert (await sync_fn.execute("a", {"n": 2}, AbortSignal(), None)).text == "4"
    assert (await async_fn.execute("b", {"n": 2}, AbortSignal(), None)).text == '{"double": 4}'
    assert threads[0] != threading.main_thread().name
    assert threads[1] == threading.main_thread().name
    assert sync_fn(5) == 10  # the decorated function stays callable


async def test_abort_signal_parameter_is_injected_and_not_in_the_schema() -> None:
    @tool
    async def slow(seconds: float, signal: AbortSignal) -> str:
        return f"aborted={signal.aborted}"

    assert list(slow.parameters["properties"]) == ["seconds"]
    assert (await slow.execute("c", {"seconds": 1}, AbortSignal(), None)).text == "aborted=False"


async def test_conversion_failure_is_a_tool_error() -> None:
    @tool
    def pick(color: Color) -> str:
        return color.value

    with pytest.raises(ToolError, match="Invalid arguments for tool pick"):
        await pick.call({"color": "green"})


async def test_registry_execute_validates_and_reports_errors() -> None:
    reg = ToolRegistry()

    @tool
    def add(a: int, b: int = 1) -> int:
        """Add two numbers."""
        return a + b

    reg.register(add)
    reg.register_fn("shout", "Upper-case a text", lambda text: text.upper())
    assert await reg.execute("add", {"a": "2", "b": 3}) == "5"  # "2" coerced by validation
    with pytest.raises(ToolError, match="must have required property 'a'"):
        await reg.execute("add", {"b": 3})
    with pytest.raises(ToolError, match="Tool nope not found"):
        await reg.execute("nope", {})
    assert [d.name for d in reg.definitions()] == ["add", "shout"]
    assert reg.definitions()[0].description == "Add two numbers."


# -- through the agent loop ---------------------------------------------------------------------


def test_invalid_arguments_from_the_model_become_an_error_result_and_the_loop_goes_on() -> None:
    calls: list[Shape] = []

    @tool
    def save_shape(shape: Shape) -> str:
        """Save a shape."""
        calls.append(shape)
        return f"saved {shape.name} with {len(shape.points)} points"

    script = {
        "responses": [
            {"steps": [{"tool_call": {"name": "save_shape", "arguments": {"name": 5, "points": "none"}}}]},
            {
                "steps": [
                    {"tool_call": {"name": "save_shape", "arguments": {"name": "sq", "points": [{"x": 1}]}}}
                ]
            },
            {"steps": [{"text": "Saved it."}]},
        ]
    }
    with MockLLM(script) as srv:
        agent = (
            AgentBuilder(env={})
            .with_config(Config().with_api_key("k").with_model("m").with_base_url(srv.base_url + "/v1"))
            .with_tools([save_shape])
            .build()
        )
        assert asyncio.run(agent.run("save a square")) == "Saved it."
        second = srv.requests[1]["body"]["messages"][-1]
        third = srv.requests[2]["body"]["messages"][-1]
    assert second["role"] == "tool"
    assert 'Validation failed for tool "save_shape"' in second["content"]
    assert "name: must be string" in second["content"] and "points: must be array" in second["content"]
    assert third["content"] == "saved sq with 1 points"
    assert calls == [Shape("sq", [Point(1.0)])]
