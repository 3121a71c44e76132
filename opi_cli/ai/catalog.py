"""The model registry: built-in providers and models, models.json additions, and model matching.

``ModelRegistry.builtin()`` holds the table of :mod:`opi_cli.ai.catalog_data`;
:func:`load_models_json` (from :mod:`opi_cli.ai.models_json`, re-exported here) reads
``OPI_HOME/models.json`` into :class:`RegistryAdditions`, which :meth:`ModelRegistry.apply` merges.
:meth:`ModelRegistry.find` implements pi's matching rules (reference/pi.md §8.5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import field, fields, replace
from pathlib import Path
from typing import Any, cast

from opi_cli._util.records import record
from opi_cli.ai import catalog_data
from opi_cli.ai.model import Model, ModelCost, OpenAICompat
from opi_cli.ai.models_json import (
    ModelSpec,
    ProviderSpec,
    RegistryAdditions,
    load_models_json,
    parse_compat,
    parse_models_json,
)
from opi_cli.ai.types import THINKING_LEVELS, ThinkingLevel
from opi_cli.errors import ConfigError

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MAX_TOKENS",
    "ModelRegistry",
    "ModelSpec",
    "Provider",
    "ProviderSpec",
    "RegistryAdditions",
    "load_models_json",
    "parse_compat",
    "parse_models_json",
    "split_thinking_suffix",
]

DEFAULT_CONTEXT_WINDOW = 128000
DEFAULT_MAX_TOKENS = 16384
_DATED_ID = re.compile(r"-\d{8}$")


@record
class Provider:
    """A provider opi can talk to.

    Attributes:
        name: lower-case key (``openai``, ``anthropic``, a models.json key).
        api: the wire API its models use unless they say otherwise.
        base_url: endpoint root.
        key_env: environment variables holding its API key, in order of preference.
        base_url_env: environment variable that overrides ``base_url``.
        default_model: id used when only the provider is chosen.
        api_key: models.json ``apiKey`` (unresolved: ``!cmd``, env var name or literal).
        headers: extra request headers (values unresolved, like ``api_key``).
        auth_header: models.json ``authHeader``: also send ``Authorization: Bearer <key>``.
        compat: provider-wide OpenAI-compat quirks.
        local: a server on this machine that needs no key.
    """

    name: str
    api: str
    base_url: str
    key_env: tuple[str, ...] = ()
    base_url_env: str | None = None
    default_model: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth_header: bool = False
    compat: OpenAICompat = field(default_factory=OpenAICompat)
    local: bool = False


class ModelRegistry:
    """Providers and models known to this process, with pi's matching rules.

    Built once per run (built-ins plus models.json); not shared between threads.
    """

    def __init__(self, providers: Iterable[Provider], models: Iterable[Model]) -> None:
        self._providers: dict[str, Provider] = {p.name: p for p in providers}
        self._models: list[Model] = list(models)

    @classmethod
    def builtin(cls) -> ModelRegistry:
        """The registry of built-in providers and models, nothing from disk."""
        providers = [
            Provider(
                name=row.name,
                api=row.api,
                base_url=row.base_url,
                key_env=row.key_env,
                base_url_env=row.base_url_env,
                default_model=row.default_model,
                local=row.local,
            )
            for row in catalog_data.PROVIDERS
        ]
        models = [
            _from_row(row, "openai", "openai-responses", "https://api.openai.com/v1")
            for row in catalog_data.OPENAI_MODELS
        ]
        models += [
            _from_row(row, "anthropic", "anthropic-messages", "https://api.anthropic.com/v1")
            for row in catalog_data.ANTHROPIC_MODELS
        ]
        return cls(providers, models)

    @classmethod
    def load(cls, models_json: Path | None) -> ModelRegistry:
        """Built-ins plus ``models_json`` when that file exists."""
        registry = cls.builtin()
        if models_json is not None and models_json.is_file():
            registry.apply(load_models_json(models_json))
        return registry

    # -- queries ---------------------------------------------------------------------------

    def providers(self) -> list[Provider]:
        """All providers, built-in ones first, in a stable order."""
        return list(self._providers.values())

    def provider(self, name: str) -> Provider | None:
        """The provider called ``name`` (case-insensitive), or None."""
        return self._providers.get(name.lower())

    def all_models(self) -> list[Model]:
        """Every known model, in catalogue order."""
        return list(self._models)

    def models_of(self, provider: str) -> list[Model]:
        """The models of one provider."""
        key = provider.lower()
        return [m for m in self._models if m.provider == key]

    def get(self, provider: str, model_id: str) -> Model | None:
        """Exact lookup by provider and id."""
        key = provider.lower()
        return next((m for m in self._models if m.provider == key and m.id == model_id), None)

    def default_for(self, provider: str) -> Model | None:
        """The model used when only ``provider`` is chosen, or None if it has no default."""
        prov = self.provider(provider)
        if prov is None:
            return None
        if prov.default_model:
            return self.get(prov.name, prov.default_model) or self.unknown_model(
                prov.name, prov.default_model
            )
        models = self.models_of(prov.name)
        return models[0] if models else None

    def unknown_model(
        self, provider: str, model_id: str, *, base_url: str | None = None, api: str | None = None
    ) -> Model:
        """A model opi has no metadata for, with default limits (``known=False``).

        ``provider`` may be a name not in the registry when ``base_url`` is given.

        Raises:
            ConfigError: the provider is unknown and no base URL was given.
        """
        prov = self.provider(provider)
        if prov is None and base_url is None:
            raise ConfigError(
                f"Unknown provider '{provider}'. Known providers: {', '.join(self._providers)}."
            )
        return Model(
            id=model_id,
            provider=provider.lower(),
            api=api or (prov.api if prov else "openai-completions"),
            base_url=(base_url or (prov.base_url if prov else "")).rstrip("/"),
            name=model_id,
            headers=dict(prov.headers) if prov else {},
            compat=prov.compat if prov else OpenAICompat(),
            known=False,
        )

    def find(
        self, pattern: str, provider: str | None = None, *, fuzzy: bool = True
    ) -> tuple[Model, ThinkingLevel | None] | None:
        """Match ``pattern`` as pi does: exact ``provider/id``, exact id, then substring.

        A trailing ``:level`` (a thinking level) is peeled off only when the whole pattern
        matches nothing, so ids with colons (``llama3.1:8b``) still work. ``fuzzy=False``
        skips the substring step (for custom endpoints, where the id is sent as typed).

        Returns:
            The model and the thinking level from the suffix (or None), or None if nothing matches.

        Raises:
            ConfigError: an exact id is shared by several providers and none was given.
        """
        found = self._match(pattern.strip(), provider, fuzzy)
        if found is not None:
            return found, None
        base, level = split_thinking_suffix(pattern.strip())
        if level is not None:
            found = self._match(base, provider, fuzzy)
            if found is not None:
                return found, level
        return None

    def _match(self, pattern: str, provider: str | None, fuzzy: bool) -> Model | None:
        if not pattern:
            return None
        low = pattern.lower()
        pool = self.models_of(provider) if provider else self._models
        for m in pool:
            if m.ref.lower() == low:
                return m
        exact = [m for m in pool if m.id.lower() == low]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            refs = ", ".join(m.ref for m in exact)
            raise ConfigError(f"Model '{pattern}' is ambiguous ({refs}); use provider/id or --provider.")
        if not fuzzy:
            return None
        hits = [m for m in pool if low in m.id.lower() or low in m.name.lower()]
        if not hits:
            return None
        aliases = [m for m in hits if m.id.endswith("-latest") or not _DATED_ID.search(m.id)]
        return max(aliases or hits, key=lambda m: (m.id, m.provider))

    # -- merging models.json ---------------------------------------------------------------

    def add_provider(self, provider: Provider) -> None:
        """Register (or replace) a provider."""
        self._providers[provider.name] = provider

    def upsert(self, model: Model) -> None:
        """Add ``model``, replacing one with the same provider and id."""
        for i, m in enumerate(self._models):
            if m.provider == model.provider and m.id == model.id:
                self._models[i] = model
                return
        self._models.append(model)

    def apply(self, additions: RegistryAdditions) -> None:
        """Merge a parsed models.json (pi's semantics: re-route, upsert, override).

        Raises:
            ConfigError: a new provider defines models without a ``baseUrl``.
        """
        for spec in additions.providers:
            self._apply_provider(spec, additions.path)

    def _apply_provider(self, spec: ProviderSpec, path: Path) -> None:
        old = self.provider(spec.name)
        if old is None and spec.base_url is None:
            raise ConfigError(f"{path}: provider '{spec.name}' needs a baseUrl")
        base = old or Provider(
            name=spec.name, api=spec.api or "openai-completions", base_url=spec.base_url or ""
        )
        prov = replace(
            base,
            api=spec.api or base.api,
            base_url=(spec.base_url or base.base_url).rstrip("/"),
            api_key=spec.api_key if spec.api_key is not None else base.api_key,
            headers={**base.headers, **(spec.headers or {})},
            auth_header=spec.auth_header if spec.auth_header is not None else base.auth_header,
            compat=_merge_compat(base.compat, spec.compat),
        )
        self.add_provider(prov)
        # Re-route the provider's existing models to its (possibly new) endpoint.
        for i, m in enumerate(self._models):
            if m.provider == prov.name:
                self._models[i] = replace(
                    m,
                    base_url=prov.base_url,
                    api=spec.api or m.api,
                    headers={**m.headers, **(spec.headers or {})},
                    compat=_merge_compat(m.compat, spec.compat),
                )
        for ms in spec.models:
            self.upsert(_model_from_spec(ms, prov))
        for ov in spec.overrides:
            current = self.get(prov.name, ov.id)
            if current is None:
                raise ConfigError(f"{path}: modelOverrides of '{prov.name}' names unknown model '{ov.id}'")
            self.upsert(_patch_model(current, ov))


def split_thinking_suffix(pattern: str) -> tuple[str, ThinkingLevel | None]:
    """``"sonnet:high"`` -> ``("sonnet", "high")``; anything else -> ``(pattern, None)``."""
    base, sep, suffix = pattern.rpartition(":")
    if sep and base and suffix.lower() in THINKING_LEVELS:
        return base, cast(ThinkingLevel, suffix.lower())
    return pattern, None


def _from_row(row: catalog_data.ModelRow, provider: str, api: str, base_url: str) -> Model:
    return Model(
        id=row.id,
        provider=provider,
        api=api,
        base_url=base_url,
        name=row.name,
        reasoning=row.reasoning,
        input=("text", "image") if row.images else ("text",),
        cost=ModelCost(row.input, row.output, row.cache_read, row.cache_write),
        context_window=row.context_window,
        max_tokens=row.max_tokens,
    )


def _merge_compat(base: OpenAICompat, over: OpenAICompat | None) -> OpenAICompat:
    if over is None:
        return base
    changes = {
        f.name: getattr(over, f.name) for f in fields(OpenAICompat) if getattr(over, f.name) is not None
    }
    return replace(base, **changes)


def _model_from_spec(spec: ModelSpec, prov: Provider) -> Model:
    v = spec.values
    model = Model(
        id=spec.id,
        provider=prov.name,
        api=v.get("api") or prov.api,
        base_url=(v.get("base_url") or prov.base_url).rstrip("/"),
        name=v.get("name") or spec.id,
        headers=dict(prov.headers),
        compat=prov.compat,
    )
    return _patch_model(model, spec)


def _patch_model(model: Model, spec: ModelSpec) -> Model:
    v = spec.values
    changes: dict[str, Any] = {
        k: v[k] for k in ("name", "api", "reasoning", "input", "context_window", "max_tokens") if k in v
    }
    if "base_url" in v:
        changes["base_url"] = v["base_url"].rstrip("/")
    if "cost" in v:
        changes["cost"] = replace(model.cost, **v["cost"])
    if "headers" in v:
        changes["headers"] = {**model.headers, **v["headers"]}
    if spec.compat is not None:
        changes["compat"] = _merge_compat(model.compat, spec.compat)
    return replace(model, **changes)
