"""Tools from type hints: opi's own ``type_schema`` against pydantic, to decide whether pydantic should replace it.

Three costs for the same function (a UUID, a Decimal, a date-time, a Literal, a nested
dataclass/model and a list of models):

- importing pydantic at all (a fresh interpreter, ``import pydantic`` minus ``pass``);
- making the tool (schema from the hints): ``FunctionTool(fn)`` against pydantic's
  ``TypeAdapter`` of a model built from the same fields, schema included;
- one call's argument conversion: ``FunctionTool.bind`` against ``model_validate``.

Run alone: ``python3 benchmarks/bench_function_tool.py``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import Figure, Report, quick, repeat_for, stats

from opi_cli.agent.function_tool import FunctionTool


@dataclass
class Line:
    sku: str
    qty: int


def order(id: uuid.UUID, total: decimal.Decimal, at: dt.datetime, mode: Literal["fast", "slow"], lines: list[Line]) -> str:
    """Place an order."""
    return "ok"


ARGS = {
    "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "total": "19.99",
    "at": "2026-01-02T03:04:05",
    "mode": "fast",
    "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}],
}


def _import_ms(module: str, runs: int) -> float:
    def once(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t0

    base = stats([once("pass") for _ in range(runs)]).minimum
    full = stats([once(f"import {module}") for _ in range(runs)]).minimum
    return (full - base) * 1000


def main() -> None:
    report = Report("function tools: type_schema vs pydantic")
    runs = 3 if quick() else 7
    report.add(Figure("import pydantic (fresh process, net)", _import_ms("pydantic", runs), "ms"))
    report.add(Figure("import opi_cli.agent.function_tool (net)", _import_ms("opi_cli.agent.function_tool", runs), "ms"))

    import pydantic

    def pydantic_tool() -> object:
        line = pydantic.create_model("Line", sku=(str, ...), qty=(int, ...))
        model = pydantic.create_model(
            "Order", id=(uuid.UUID, ...), total=(decimal.Decimal, ...), at=(dt.datetime, ...),
            mode=(Literal["fast", "slow"], ...), lines=(list[line], ...),  # type: ignore[valid-type]
        )
        model.model_json_schema()
        return model

    make_ours = repeat_for(lambda: FunctionTool(order)).minimum
    make_pyd = repeat_for(pydantic_tool).minimum
    report.add(Figure("make the tool: type_schema", make_ours * 1e6, "µs"))
    report.add(Figure("make the tool: pydantic", make_pyd * 1e6, "µs"))
    ours, model = FunctionTool(order), pydantic_tool()
    n = 2000
    call_ours = repeat_for(lambda: [ours.bind(ARGS) for _ in range(n)]).minimum / n
    call_pyd = repeat_for(lambda: [model.model_validate(ARGS) for _ in range(n)]).minimum / n  # type: ignore[attr-defined]
    report.add(Figure("convert one call's arguments: type_schema", call_ours * 1e6, "µs"))
    report.add(Figure("convert one call's arguments: pydantic", call_pyd * 1e6, "µs"))
    report.finish()


if __name__ == "__main__":
    main()
