"""Ctrl+P / Shift+Ctrl+P: step to the next / previous model, as in pi.

The models cycled are the settings' ``enabledModels`` patterns when set (pi's scoped
models: ``anthropic/*``, ``*sonnet*``, ``gpt-5.1``; matched against ``provider/id`` and
the bare id, case-insensitively), else the models a switch would work for
(:func:`~opi_cli.cli.model_switch.available_models`: a key is configured for their provider).
A model reached at its own endpoint (``--base-url``) keeps its key to that endpoint: the
other models of its provider, which live elsewhere, are not in the cycle.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from rich.text import Text

from opi_cli.ai.catalog import ModelRegistry, split_thinking_suffix
from opi_cli.ai.model import Model
from opi_cli.cli.command_base import Host
from opi_cli.cli.commands import use_model
from opi_cli.cli.model_switch import available_models
from opi_cli.cli.settings import Settings

__all__ = ["cycle_model", "cycle_pool"]


def _scoped(registry: ModelRegistry, patterns: list[str]) -> list[Model]:
    globs = [split_thinking_suffix(p)[0].lower() for p in patterns if isinstance(p, str)]
    return [m for m in registry.all_models()
            if any(fnmatchcase(m.ref.lower(), g) or fnmatchcase(m.id.lower(), g) for g in globs)]


def cycle_pool(registry: ModelRegistry, settings: Settings, current: Model) -> list[Model]:
    """The models Ctrl+P steps through, in catalogue order, the current one included."""
    patterns = settings.get("enabledModels")
    if isinstance(patterns, list) and patterns:
        pool = _scoped(registry, patterns)
    else:
        pool = available_models(registry, settings, current)
        home = registry.provider(current.provider)
        if home is None or current.base_url.rstrip("/") != home.base_url.rstrip("/"):
            pool = [m for m in pool if m.provider != current.provider or m.ref == current.ref]
    refs = [m.ref for m in pool]
    if current.ref in refs:
        pool[refs.index(current.ref)] = current  # keep the endpoint the current model was given
    else:
        pool.insert(0, current)
    return pool


def cycle_model(host: Host, step: int) -> None:
    """Switch to the model ``step`` places after the current one (wrapping around)."""
    current = host.session.agent.model
    pool = cycle_pool(host.registry, host.settings, current)
    if len(pool) < 2:
        host.print(Text("Only one model available (set enabledModels in settings.json, or add keys: /login).",
                        style="yellow"))
        return
    here = next(i for i, m in enumerate(pool) if m.ref == current.ref)
    use_model(host, pool[(here + step) % len(pool)])
