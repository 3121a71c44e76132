"""``opi models``: every provider opi accepts and every model it knows, rendered with rich.

The first table lists the catalogued models (built-ins and models.json entries) with
their limits and prices. The second lists every provider, so the ones without catalogued
models (OpenRouter, Groq, local servers, ...) are there too, with where they are reached,
the key they read and the model used when only the provider is given.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from opi_cli.ai.catalog import ModelRegistry, Provider
from opi_cli.cli.render import fmt_tokens
from opi_cli.cli.settings import load_settings

__all__ = ["print_models"]


def _price(v: float) -> str:
    return "-" if not v else f"${v:g}"


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, no_wrap=True)
    return table


def _matches(needle: str, *texts: str) -> bool:
    return not needle or any(needle in t.lower() for t in texts)


def _provider_row(p: Provider, registry: ModelRegistry) -> tuple[str, ...]:
    key = "none (local)" if p.local and not p.key_env else " or ".join(p.key_env) or "models.json apiKey"
    default = p.default_model or ("first model the server lists" if p.local else "pass --model ID")
    models = len(registry.models_of(p.name))
    return p.name, p.base_url, key, default, str(models) if models else "any id"


def print_models(search: str | None, console: Console | None = None) -> None:
    """Print the models and the providers (models.json included), filtered by ``search``."""
    settings = load_settings()
    registry = ModelRegistry.load(settings.models_json)
    if console is None:  # piped: do not squeeze the tables into 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=240)
    needle = (search or "").lower()
    models = _table("provider", "model", "context", "max out", "reasoning", "images", "$/M in", "$/M out",
                    "$/M cache r/w")
    for col in models.columns[2:]:
        col.justify = "right"
    for m in registry.all_models():
        if not _matches(needle, m.ref, m.display_name):
            continue
        c = m.cost
        models.add_row(
            m.provider, m.id, fmt_tokens(m.context_window), fmt_tokens(m.max_tokens),
            "yes" if m.reasoning else "no", "yes" if m.supports_images else "no",
            _price(c.input), _price(c.output), f"{_price(c.cache_read)}/{_price(c.cache_write)}",
        )
    providers = _table("provider", "endpoint", "API key from", "default model", "models")
    for p in registry.providers():
        if _matches(needle, p.name, p.base_url):
            providers.add_row(*_provider_row(p, registry))
    if not models.row_count and not providers.row_count:
        console.print(f"No models or providers match '{search}'.")
        return
    if models.row_count:
        console.print(models)
    if providers.row_count:
        if models.row_count:
            console.print()
        console.print(providers)
        console.print("Any model id of a provider works (`--model provider/id`); unknown ids get default "
                      "limits. Keys: the variables above, `opi login PROVIDER`, or --api-key.")
