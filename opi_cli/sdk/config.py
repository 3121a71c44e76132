"""The seed's fluent ``Config``: request settings, each ``with_*`` returning a new frozen value.

``Config`` only holds values; :func:`check_config` says what is wrong with one and
:func:`resolve_endpoint` turns it into the model, key and stream options the agent uses
(the builder calls both when it builds).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import field, replace
from datetime import timedelta

from opi_cli._util.records import record
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.model import Model
from opi_cli.ai.provider import StreamOptions
from opi_cli.ai.resolve import ModelQuery, require_api_key, resolve_api_key, resolve_model
from opi_cli.errors import ConfigError

__all__ = ["Config", "Endpoint", "check_config", "resolve_endpoint"]


@record
class Config:
    """Request settings for the library agent (all optional but ``model``).

    Build one fluently; every ``with_*`` returns a new ``Config``::

        Config().with_api_key(key).with_model("gpt-4o").with_max_tokens(1024)

    Attributes:
        api_key: the provider key (else the builder's ``env``: ``OPENAI_API_KEY`` etc.).
        model: ``id``, ``provider/id`` or a substring, as ``opi --model`` takes it.
        temperature: 0.0 to 2.0; not sent when None.
        max_tokens: output cap per reply.
        timeout: read timeout in seconds for each streamed chunk.
        base_url: an OpenAI-compatible endpoint (spoken to with Chat Completions).
        organization: sent as ``OpenAI-Organization``.
        stream: ``False`` asks a Chat Completions endpoint for whole replies instead of
            streams (``"stream": false``); subscribers then get each reply's events at once.
            Other APIs always stream. ``run`` returns the whole text either way.
        json_mode: ask for a JSON object answer (``response_format``).
        context_window: the model's context window in tokens, when the catalogue does not
            know it or a server runs it smaller (a local model's ``num_ctx``); compaction
            keeps the conversation within it.
    """

    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    base_url: str | None = None
    organization: str | None = None
    stream: bool = True
    json_mode: bool = False
    context_window: int | None = None

    def with_api_key(self, api_key: str) -> Config:
        return replace(self, api_key=api_key.strip() or None)

    def with_model(self, model: str) -> Config:
        return replace(self, model=model)

    def with_temperature(self, temperature: float) -> Config:
        return replace(self, temperature=temperature)

    def with_max_tokens(self, max_tokens: int) -> Config:
        return replace(self, max_tokens=max_tokens)

    def with_timeout(self, timeout: float | timedelta) -> Config:
        """Seconds, or a ``timedelta``."""
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        return replace(self, timeout=seconds)

    def with_base_url(self, base_url: str | None) -> Config:
        """An OpenAI-compatible endpoint root such as ``http://localhost:11434/v1`` (None: the provider's)."""
        return replace(self, base_url=base_url or None)

    def with_organization(self, organization: str) -> Config:
        return replace(self, organization=organization)

    def with_stream(self, stream: bool) -> Config:
        return replace(self, stream=stream)

    def with_json_mode(self, json_mode: bool) -> Config:
        return replace(self, json_mode=json_mode)

    def with_context_window(self, tokens: int) -> Config:
        """The model's context window (see the attribute)."""
        return replace(self, context_window=tokens)


def check_config(config: Config) -> None:
    """Raise ConfigError naming the first invalid setting.

    Raises:
        ConfigError: no model, temperature outside 0..2, a non-positive max tokens or
            timeout, a context window under 1,000 tokens, or a base URL that is not http(s).
    """
    if not config.model or not config.model.strip():
        raise ConfigError('No model configured: use Config().with_model("gpt-4o") (or "provider/id").')
    t = config.temperature
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 2.0):
        raise ConfigError(f"temperature must be between 0.0 and 2.0, got {t!r}")
    m = config.max_tokens
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m <= 0):
        raise ConfigError(f"max_tokens must be a positive integer, got {m!r}")
    s = config.timeout
    if s is not None and (not isinstance(s, int | float) or not math.isfinite(s) or s <= 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {s!r}")
    w = config.context_window
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 1000):
        raise ConfigError(f"context_window must be an integer of at least 1000 tokens, got {w!r}")
    url = config.base_url
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url must start with http:// or https://, got {url!r}")


@record
class Endpoint:
    """What a config resolves to: the model, its key, and the per-request options."""

    model: Model
    api_key: str | None
    stream_options: StreamOptions


def resolve_endpoint(config: Config, registry: ModelRegistry, env: Mapping[str, str]) -> Endpoint:
    """The model (from the registry, or default metadata for an unknown id with a base URL) and key.

    The key is ``config.api_key``, else the provider's variable in ``env`` (``OPENAI_API_KEY``
    for OpenAI and any OpenAI-compatible base URL); local servers need none.

    Raises:
        ConfigError: invalid settings, an unknown model without a base URL, or a missing key.
    """
    check_config(config)
    assert config.model is not None
    model, _level = resolve_model(
        registry, ModelQuery(model=config.model.strip(), base_url=config.base_url), env=env
    )
    if config.context_window is not None:
        window = config.context_window  # replies must leave room for the context: at most a quarter
        model = dataclasses.replace(model, context_window=window, max_tokens=min(model.max_tokens, window // 4))
    key = config.api_key or resolve_api_key(registry.provider(model.provider) or model.provider, env=env)
    if not key and model.api.startswith("openai"):
        key = env.get("OPENAI_API_KEY") or None
    if not key:
        key = require_api_key(model, registry, env=env)
    headers = {"OpenAI-Organization": config.organization} if config.organization else {}
    options = StreamOptions(
        api_key=key,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        json_mode=config.json_mode,
        headers=headers,
        timeout_s=config.timeout if config.timeout is not None else 600.0,
        stream=config.stream,
    )
    return Endpoint(model, key, options)
