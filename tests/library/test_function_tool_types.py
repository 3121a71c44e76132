"""Tools from type hints with UUID, Decimal, NamedTuple, datetime, Literal, nested models and
pydantic models: the schema the model sees, and the values the function receives."""

from __future__ import annotations

import datetime as dt
import decimal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import pydantic
import pytest

from opi_cli import ToolError, ToolRegistry, tool
from opi_cli.agent.validation import validate_arguments
from tests.conftest import ROOT


class Point(NamedTuple):
    """A point.

    Attributes:
        x: across.
        y: down.
    """

    x: int
    y: int = 0


@dataclass
class Address:
    street: str
    city: str


@dataclass
class Person:
    name: str
    address: Address
    tags: list[Literal["a", "b"]]


class Item(pydantic.BaseModel):
    sku: str = pydantic.Field(description="Stock keeping unit")
    qty: int = pydantic.Field(ge=1)


class Order(pydantic.BaseModel):
    id: uuid.UUID
    items: list[Item]
    note: str | None = None


received: dict[str, Any] = {}


@tool
def book(
    id: uuid.UUID,
    price: decimal.Decimal,
    at: dt.datetime,
    on: dt.date,
    start: dt.time,
    where: Point,
    who: Person,
    mode: Literal["fast", "slow"] = "fast",
) -> str:
    """Book something."""
    received.update(id=id, price=price, at=at, on=on, start=start, where=where, who=who, mode=mode)
    return "ok"


@tool
def place(order: Order) -> Order:
    """Place an order (the whole argument object is the model)."""
    received["order"] = order
    return order


@tool
def ship(order: Order, express: bool = False) -> str:
    """Ship an order."""
    received["ship"] = (order, express)
    return "shipped"


async def run(t: Any, args: dict[str, Any]) -> str:
    checked, problem = validate_arguments(t.name, t.parameters, args)
    assert problem is None, problem
    return (await t.execute("c1", checked, None, None)).text  # type: ignore[arg-type]


def test_schemas() -> None:
    props = book.parameters["properties"]
    assert props["id"] == {"type": "string", "format": "uuid"}
    assert props["price"]["anyOf"][0] == {"type": "number"}
    assert props["at"] == {"type": "string", "format": "date-time"}
    assert props["on"] == {"type": "string", "format": "date"}
    assert props["start"] == {"type": "string", "format": "time"}
    assert props["where"]["properties"]["x"] == {"type": "integer", "description": "across."}
    assert props["where"]["required"] == ["x"] and props["where"]["properties"]["y"]["default"] == 0
    assert props["who"]["properties"]["address"]["required"] == ["street", "city"]
    assert props["who"]["properties"]["tags"]["items"] == {"type": "string", "enum": ["a", "b"]}
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"], "default": "fast"}
    assert book.parameters["required"] == ["id", "price", "at", "on", "start", "where", "who"]


def test_pydantic_model_schema_is_inlined() -> None:
    schema = place.parameters
    assert set(schema["properties"]) == {"id", "items", "note"}
    item = schema["properties"]["items"]["items"]
    assert item["properties"]["sku"]["description"] == "Stock keeping unit"
    assert item["properties"]["qty"]["minimum"] == 1
    assert "$ref" not in str(schema) and "$defs" not in str(schema)
    nested = ship.parameters["properties"]["order"]
    assert nested["properties"]["id"]["format"] == "uuid" and "$ref" not in str(nested)


async def test_values_arrive_converted() -> None:
    oid = uuid.uuid4()
    args = {
        "id": str(oid),
        "price": "19.99",
        "at": "2026-01-02T03:04:05",
        "on": "2026-01-02",
        "start": "09:30:00",
        "where": {"x": 3},
        "who": {"name": "Ada", "address": {"street": "Main", "city": "Paris"}, "tags": ["a"]},
    }
    assert await run(book, args) == "ok"
    assert received["id"] == oid
    assert received["price"] == decimal.Decimal("19.99") and isinstance(received["price"], decimal.Decimal)
    assert received["at"] == dt.datetime(2026, 1, 2, 3, 4, 5)
    assert received["on"] == dt.date(2026, 1, 2) and received["start"] == dt.time(9, 30)
    assert received["where"] == Point(3, 0)
    assert received["who"] == Person("Ada", Address("Main", "Paris"), ["a"])
    assert received["mode"] == "fast"


async def test_pydantic_values_and_results() -> None:
    oid = uuid.uuid4()
    out = await run(place, {"id": str(oid), "items": [{"sku": "A1", "qty": 2}]})
    assert isinstance(received["order"], Order) and received["order"].items[0].qty == 2
    assert f'"id": "{oid}"' in out  # a model returned is written as JSON
    assert await run(ship, {"order": {"id": str(oid), "items": []}, "express": True}) == "shipped"
    assert received["ship"][1] is True and isinstance(received["ship"][0], Order)


async def test_invalid_values_are_tool_errors() -> None:
    with pytest.raises(ToolError, match="Invalid arguments for tool place"):
        await place.call({"id": str(uuid.uuid4()), "items": [{"sku": "A1", "qty": 0}]})
    with pytest.raises(ToolError, match="not a decimal number"):
        await book.call({"id": str(uuid.uuid4()), "price": "abc", "at": "2026-01-02T00:00:00", "on": "2026-01-02",
                         "start": "09:00", "where": {"x": 1}, "who": {"name": "a", "address": {"street": "s", "city": "c"},
                                                                        "tags": []}})


async def test_registry_runs_them() -> None:
    reg = ToolRegistry([place])
    out = await reg.execute("place", {"id": str(uuid.uuid4()), "items": [{"sku": "B", "qty": 1}]})
    assert '"sku": "B"' in out


def test_import_opi_cli_never_imports_pydantic() -> None:
    code = "import sys, opi_cli; from opi_cli import tool, AgentBuilder; assert 'pydantic' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
