"""Tables for ``opi models`` (and later ``opi sessions``), rendered with rich."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from opi_cli.ai.catalog import ModelRegistry
from opi_cli.cli.render import fmt_tokens
from opi_cli.cli.settings import load_settings

__all__ = ["print_models"]


def _price(v: float) -> str:
    return "-" if not v else f"${v:g}"


def print_models(search: str | None, console: Console | None = None) -> None:
    """Print the catalogue plus models.json entries, filtered by ``search``."""
    settings = load_settings()
    registry = ModelRegistry.load(settings.models_json)
    if console is None:  # piped: do not squeeze the table into 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=200)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("provider", "model", "context", "max out", "reasoning", "images", "$/M in", "$/M out", "$/M cache r/w"):
        table.add_column(col, justify="right" if col not in ("provider", "model") else "left", no_wrap=True)
    needle = (search or "").lower()
    rows = 0
    for m in registry.all_models():
        if needle and needle not in m.ref.lower() and needle not in m.display_name.lower():
            continue
        rows += 1
        c = m.cost
        table.add_row(
            m.provider,
            m.id,
            fmt_tokens(m.context_window),
            fmt_tokens(m.max_tokens),
            "yes" if m.reasoning else "no",
            "yes" if m.supports_images else "no",
            _price(c.input),
            _price(c.output),
            f"{_price(c.cache_read)}/{_price(c.cache_write)}",
        )
    if rows == 0:
        console.print(f"No models match '{search}'.")
        return
    console.print(table)
