"""Tables for ``opi models`` (and later ``opi sessions``), rendered with rich."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from opi_cli.ai.catalog import ModelRegistry
from opi_cli.cli.settings import load_settings

__all__ = ["format_tokens", "print_models"]


def format_tokens(n: int) -> str:
    """pi's compact token counts: 999, 1.2k, 32k, 1.2M, 12M."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{round(n / 1000)}k"
    if n < 10_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{round(n / 1_000_000)}M"


def _price(v: float) -> str:
    return "-" if not v else f"${v:g}"


def print_models(search: str | None, console: Console | None = None) -> None:
    """Print the catalogue plus models.json entries, filtered by ``search``."""
    settings = load_settings()
    registry = ModelRegistry.load(settings.models_json)
    console = console or Console()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("provider", "model", "context", "max-out", "thinking", "images", "in $/M", "out $/M", "cache r/w $/M"):
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
            format_tokens(m.context_window),
            format_tokens(m.max_tokens),
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
