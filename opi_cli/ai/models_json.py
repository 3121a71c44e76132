"""models.json: pi's format for custom providers and models, parsed and checked.

Comments (``//``, ``/* */``) and trailing commas are accepted. Every problem is a
:class:`~opi_cli.errors.ConfigError` naming the file and, where it can be found, the line;
the file is also checked against :data:`~opi_cli.ai.file_schemas.MODELS_SCHEMA`.
The result, :class:`RegistryAdditions`, is merged by ``ModelRegistry.apply``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from opi_cli._util.records import record
from opi_cli.ai.config_check import parse_config, validate_config
from opi_cli.ai.file_schemas import MODELS_SCHEMA
from opi_cli.ai.model import KNOWN_APIS, OpenAICompat
from opi_cli.errors import ConfigError

__all__ = [
    "ModelSpec",
    "ProviderSpec",
    "RegistryAdditions",
    "load_models_json",
    "parse_compat",
    "parse_models_json",
]


@record
class ModelSpec:
    """One ``models[]`` or ``modelOverrides`` entry: ``values`` holds only the fields given, by Model attribute name."""

    id: str
    values: dict[str, Any]
    compat: OpenAICompat | None = None


@record
class ProviderSpec:
    """One ``providers.NAME`` block of models.json."""

    name: str
    base_url: str | None = None
    api: str | None = None
    api_key: str | None = None
    headers: dict[str, str] | None = None
    auth_header: bool | None = None
    compat: OpenAICompat | None = None
    models: tuple[ModelSpec, ...] = ()
    overrides: tuple[ModelSpec, ...] = ()


@record
class RegistryAdditions:
    """What a models.json file adds to the built-in registry."""

    path: Path
    providers: tuple[ProviderSpec, ...] = ()


_COMPAT_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "supportsStore": ("supports_store", bool),
    "supportsDeveloperRole": ("supports_developer_role", bool),
    "supportsReasoningEffort": ("supports_reasoning_effort", bool),
    "supportsUsageInStreaming": ("supports_usage_in_streaming", bool),
    "maxTokensField": ("max_tokens_field", str),
    "requiresToolResultName": ("requires_tool_result_name", bool),
    "requiresAssistantAfterToolResult": ("requires_assistant_after_tool_result", bool),
    "requiresThinkingAsText": ("requires_thinking_as_text", bool),
    "thinkingFormat": ("thinking_format", str),
    "supportsStrictMode": ("supports_strict_mode", bool),
    "reasoningEffortMap": ("reasoning_effort_map", dict),
}
_ENUMS = {
    "maxTokensField": ("max_completion_tokens", "max_tokens"),
    "thinkingFormat": ("openai", "zai", "qwen", "qwen-chat-template"),
}


def load_models_json(path: Path) -> RegistryAdditions:
    """Read a models.json file in pi's format.

    Raises:
        ConfigError: the file cannot be read, is not valid JSON (with comments and trailing
            commas allowed), or holds a wrong value; the message names the file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_models_json(text, path)


def parse_models_json(text: str, path: Path) -> RegistryAdditions:
    """Parse models.json ``text`` (``path`` is only used in messages); see :func:`load_models_json`."""
    data = parse_config(text, path)
    where = _Where(path, text)
    if not isinstance(data, dict):
        raise where.error("top level must be an object", None)
    providers = data.get("providers", {})
    if not isinstance(providers, dict):
        raise where.error("'providers' must be an object", '"providers"')
    additions = RegistryAdditions(path, tuple(_parse_provider(str(k), v, where) for k, v in providers.items()))
    # The parser above words the common mistakes; the schema catches whatever it lets by
    # (a null where a value belongs, keys added to the schema later).
    validate_config(data, MODELS_SCHEMA, path, text)
    return additions


@record
class _Where:
    path: Path
    text: str

    def error(self, message: str, needle: str | None, after: str | None = None) -> ConfigError:
        """``message`` prefixed with the file and the line of ``needle`` (first after ``after``)."""
        line = 0
        if needle:
            start = self.text.find(after) if after else 0
            pos = self.text.find(needle, max(start, 0))
            pos = pos if pos >= 0 else self.text.find(needle)
            line = self.text.count("\n", 0, pos) + 1 if pos >= 0 else 0
        return ConfigError(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")


def _parse_provider(name: str, raw: object, where: _Where) -> ProviderSpec:
    needle = json.dumps(name)
    if not isinstance(raw, dict):
        raise where.error(f"provider '{name}' must be an object", needle)
    api = _opt(raw, "api", str, f"provider '{name}'", where, needle)
    _check_api(api, f"provider '{name}'", where, needle)
    models = raw.get("models", [])
    if not isinstance(models, list):
        raise where.error(f"provider '{name}': 'models' must be a list", needle)
    overrides = raw.get("modelOverrides", {})
    if not isinstance(overrides, dict):
        raise where.error(f"provider '{name}': 'modelOverrides' must be an object", needle)
    return ProviderSpec(
        name=name.lower(),
        base_url=_opt(raw, "baseUrl", str, f"provider '{name}'", where, needle),
        api=api,
        api_key=_opt(raw, "apiKey", str, f"provider '{name}'", where, needle),
        headers=_headers(raw.get("headers"), f"provider '{name}'", where),
        auth_header=_opt(raw, "authHeader", bool, f"provider '{name}'", where, needle),
        compat=parse_compat(raw.get("compat"), f"provider '{name}'", where.path) if "compat" in raw else None,
        models=tuple(_parse_model(m, name, where) for m in models),
        overrides=tuple(
            _parse_model({**v, "id": k} if isinstance(v, dict) else v, name, where)
            for k, v in overrides.items()
        ),
    )


def _parse_model(raw: object, provider: str, where: _Where) -> ModelSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise where.error(f"provider '{provider}': every model needs a string 'id'", json.dumps(provider))
    mid: str = raw["id"]
    ctx = f"model '{provider}/{mid}'"
    values: dict[str, Any] = {}
    for key, attr, typ in (
        ("name", "name", str),
        ("api", "api", str),
        ("baseUrl", "base_url", str),
        ("reasoning", "reasoning", bool),
        ("contextWindow", "context_window", int),
        ("maxTokens", "max_tokens", int),
    ):
        val = _opt(raw, key, typ, ctx, where, json.dumps(mid))
        if val is not None:
            values[attr] = val
    _check_api(values.get("api"), ctx, where, json.dumps(mid))
    if "input" in raw:
        inp = raw["input"]
        if not isinstance(inp, list) or not all(x in ("text", "image") for x in inp):
            raise where.error(f'{ctx}: \'input\' must be a list of "text"/"image"', json.dumps(mid))
        values["input"] = ("text", "image") if "image" in inp else ("text",)
    if "cost" in raw:
        values["cost"] = _cost(raw["cost"], ctx, where, mid)
    if "headers" in raw:
        values["headers"] = _headers(raw["headers"], ctx, where) or {}
    compat = parse_compat(raw["compat"], ctx, where.path) if "compat" in raw else None
    return ModelSpec(mid, values, compat)


def _cost(raw: object, ctx: str, where: _Where, mid: str) -> dict[str, float]:
    keys = {"input": "input", "output": "output", "cacheRead": "cache_read", "cacheWrite": "cache_write"}
    if not isinstance(raw, dict):
        raise where.error(f"{ctx}: 'cost' must be an object", json.dumps(mid))
    out: dict[str, float] = {}
    for key, attr in keys.items():
        if key in raw:
            val = raw[key]
            if isinstance(val, bool) or not isinstance(val, int | float) or val < 0:
                raise where.error(f"{ctx}: cost.{key} must be a non-negative number", json.dumps(mid))
            out[attr] = float(val)
    return out


def _headers(raw: object, ctx: str, where: _Where) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise where.error(f"{ctx}: 'headers' must map names to strings", '"headers"', ctx.split("'")[1])
    return {str(k): v for k, v in raw.items()}


def _opt(
    raw: Mapping[str, object], key: str, typ: type, ctx: str, where: _Where, after: str | None = None
) -> Any:
    val = raw.get(key)
    if val is None:
        return None
    ok = isinstance(val, typ) and not (typ is int and isinstance(val, bool))
    if typ is int and ok and cast(int, val) <= 0:
        ok = False
    if not ok:
        kind = {str: "a string", bool: "true or false", int: "a positive integer"}[typ]
        raise where.error(f"{ctx}: '{key}' must be {kind}", json.dumps(key), after)
    return val


def _check_api(api: str | None, ctx: str, where: _Where, after: str) -> None:
    if api is not None and api not in KNOWN_APIS:
        raise where.error(
            f"{ctx}: unknown api '{api}' (supported: {', '.join(a for a in KNOWN_APIS if a != 'faux')})",
            json.dumps(api),
            after,
        )


def parse_compat(raw: object, ctx: str, path: Path) -> OpenAICompat:
    """A models.json ``compat`` object as :class:`OpenAICompat`; unknown keys are ignored.

    Raises:
        ConfigError: a known key has a value of the wrong type.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {ctx}: 'compat' must be an object")
    values: dict[str, Any] = {}
    for key, (attr, typ) in _COMPAT_KEYS.items():
        if key not in raw or raw[key] is None:
            continue
        val = raw[key]
        if not isinstance(val, typ) or (key in _ENUMS and val not in _ENUMS[key]):
            allowed = " | ".join(_ENUMS[key]) if key in _ENUMS else typ.__name__  # type: ignore[union-attr]
            raise ConfigError(f"{path}: {ctx}: compat.{key} must be {allowed}")
        values[attr] = dict(val) if isinstance(val, dict) else val
    return OpenAICompat(**values)
