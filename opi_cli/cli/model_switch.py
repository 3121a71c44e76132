"""Switching the model and the thinking level of a running session (the REPL's /model and
Shift+Tab, and the RPC commands ``set_model``, ``cycle_model`` and ``cycle_thinking_level``)."""

from __future__ import annotations

from dataclasses import replace

from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.model import Model
from opi_cli.ai.resolve import clamp_thinking, parse_thinking_level, require_api_key, switch_target
from opi_cli.ai.types import THINKING_LEVELS, ThinkingLevel
from opi_cli.cli.settings import Settings
from opi_cli.errors import ConfigError
from opi_cli.session.agent_session import AgentSession

__all__ = ["available_models", "next_thinking_level", "switch_model"]


def switch_model(session: AgentSession, registry: ModelRegistry, settings: Settings, model: Model) -> ThinkingLevel:
    """Use ``model`` from the next request on; returns the thinking level it runs at.

    The session's key stays bound to its endpoint: a model of the same provider keeps the
    endpoint (``--base-url``), another provider brings its own key (:func:`switch_target`).

    Raises:
        ConfigError: ``model``'s provider has no key (the message says what to set).
    """
    agent = session.agent
    options = agent.options.stream_options
    target = switch_target(registry, agent.model, model, api_key=options.api_key, key_endpoint=options.key_endpoint,
                           env=settings.env, auth_path=settings.auth_json)
    model = target.model  # a key stays with its endpoint (see switch_target)
    agent.options.stream_options = replace(options, api_key=target.api_key, key_endpoint=target.key_endpoint)
    was_reasoning = agent.model.reasoning
    session.set_model(model)
    # a reasoning model reached from one that does not reason starts at the default level, not off
    default = parse_thinking_level(str(settings.get("defaultThinkingLevel", "medium"))) or "medium"
    level = clamp_thinking(model, agent.thinking_level if was_reasoning else default)
    if level != agent.thinking_level:
        session.set_thinking_level(level)
    return level


def next_thinking_level(model: Model, current: ThinkingLevel) -> ThinkingLevel | None:
    """The level after ``current`` among those ``model`` supports; None without reasoning."""
    if not model.reasoning:
        return None
    order = [lv for lv in THINKING_LEVELS if clamp_thinking(model, lv) == lv]
    return order[(order.index(current) + 1) % len(order)] if current in order else order[0]


def available_models(registry: ModelRegistry, settings: Settings, current: Model) -> list[Model]:
    """The known models a switch would work for: the current provider's and those with a key."""
    out: list[Model] = []
    for m in registry.all_models():
        if m.provider != current.provider:
            try:
                require_api_key(m, registry, auth_path=settings.auth_json, env=settings.env)
            except ConfigError:
                continue
        out.append(m)
    if all(m.ref != current.ref for m in out):
        out.insert(0, current)
    return out
