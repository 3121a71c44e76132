"""Choosing the model, its API key and its thinking level from flags, settings and environment.

The lower layers never read ``os.environ``: every function here takes an ``env`` mapping.
Errors are :class:`~opi_cli.errors.ConfigError` (exit 2) with one line saying what to set.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path

from opi_cli._util.records import record
from opi_cli.ai import catalog_data
from opi_cli.ai.catalog import ModelRegistry, Provider, split_thinking_suffix
from opi_cli.ai.config_check import read_config
from opi_cli.ai.file_schemas import AUTH_SCHEMA
from opi_cli.ai.model import KNOWN_APIS, Model
from opi_cli.ai.types import THINKING_LEVELS, ThinkingLevel
from opi_cli.errors import ConfigError

__all__ = [
    "COMMAND_TIMEOUT_S",
    "LOCAL_SERVERS",
    "LocalServer",
    "ModelQuery",
    "NoModelError",
    "SwitchTarget",
    "clamp_thinking",
    "detect_local_server",
    "parse_thinking_level",
    "require_api_key",
    "resolve_api_key",
    "resolve_config_value",
    "resolve_model",
    "supports_xhigh",
    "switch_target",
]

COMMAND_TIMEOUT_S = 10.0
_XHIGH_MARKERS = ("gpt-5.2", "gpt-5.3", "gpt-5.4", "codex-max", "opus-4-6", "opus-4.6")
_SETUP_HINT = (
    "set OPENAI_API_KEY or ANTHROPIC_API_KEY, pass --provider NAME --api-key KEY, "
    "or --base-url URL --model ID for an OpenAI-compatible server"
)


class NoModelError(ConfigError):
    """Nothing selects a model: no flag, no settings default, no provider with a key.

    The CLI catches this to look for a local server (:func:`detect_local_server`) before
    giving up with the message.
    """


@record
class ModelQuery:
    """What the user asked for, from flags and settings (all optional).

    Attributes:
        model: ``--model`` pattern (``provider/id``, id, substring, optional ``:level``).
        provider: ``--provider``.
        base_url: ``--base-url``.
        api: ``--api``.
        default_provider / default_model: settings ``defaultProvider`` / ``defaultModel``.
        cli_key: ``--api-key``; makes the chosen provider count as configured.
        auth_path: ``OPI_HOME/auth.json`` (used to see which providers have a key).
    """

    model: str | None = None
    provider: str | None = None
    base_url: str | None = None
    api: str | None = None
    default_provider: str | None = None
    default_model: str | None = None
    cli_key: str | None = None
    auth_path: Path | None = None


# -- keys ------------------------------------------------------------------------------------


def resolve_config_value(value: str, env: Mapping[str, str], *, what: str = "value") -> str:
    """Resolve a models.json/auth.json value as pi does.

    ``"!cmd"`` runs ``cmd`` in a shell (10 s timeout) and returns its stripped stdout; a
    name of a variable present in ``env`` returns that variable; anything else is literal.

    Raises:
        ConfigError: the command fails, times out or prints nothing.
    """
    if value.startswith("!"):
        return _run_command(value[1:].strip(), env, what)
    if env.get(value, "").strip():
        return env[value].strip()
    return value


def _run_command(cmd: str, env: Mapping[str, str], what: str) -> str:
    try:
        proc = subprocess.run(
            cmd,
            shell=True,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            env=dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"{what}: command timed out after {COMMAND_TIMEOUT_S:g} s: {cmd}") from exc
    except OSError as exc:
        raise ConfigError(f"{what}: cannot run command {cmd!r}: {exc}") from exc
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out:
        detail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}, no output"]
        raise ConfigError(f"{what}: command {cmd!r} failed: {detail[0]}")
    return out


def _read_auth(auth_path: Path | None) -> dict[str, object]:
    """auth.json's entries (checked against :data:`AUTH_SCHEMA`); empty if there is no file."""
    if auth_path is None or not auth_path.is_file():
        return {}
    data = read_config(auth_path, AUTH_SCHEMA)
    return data if isinstance(data, dict) else {}


def _auth_entry(provider: str, auth_path: Path | None) -> str | None:
    entry = _read_auth(auth_path).get(provider)
    if entry is None:
        return None
    if isinstance(entry, str):
        return entry or None
    if isinstance(entry, dict) and entry.get("type", "api_key") == "api_key":
        key = entry.get("key")
        if isinstance(key, str) and key:
            return key
    if isinstance(entry, dict) and entry.get("type") == "oauth":
        return None  # OAuth logins are not supported; fall through to other sources.
    raise ConfigError(f'{auth_path}: entry "{provider}" must be {{"type": "api_key", "key": "..."}}')


def _key_env(provider: Provider | str) -> tuple[str, ...]:
    if isinstance(provider, Provider):
        return provider.key_env
    row = next((r for r in catalog_data.PROVIDERS if r.name == provider.lower()), None)
    return row.key_env if row else ()


def resolve_api_key(
    provider: Provider | str,
    *,
    cli_key: str | None = None,
    auth_path: Path | None = None,
    env: Mapping[str, str],
    models_json_key: str | None = None,
) -> str | None:
    """The API key for ``provider``: ``--api-key`` > auth.json > environment > models.json.

    auth.json and models.json values may be ``!command``, a variable name or a literal
    (:func:`resolve_config_value`). Returns None when no source has a key.

    Raises:
        ConfigError: auth.json is malformed, or a key command fails.
    """
    name = provider.name if isinstance(provider, Provider) else provider.lower()
    if models_json_key is None and isinstance(provider, Provider):
        models_json_key = provider.api_key
    return _clean_key(_find_key(name, provider, cli_key, auth_path, env, models_json_key))


def _clean_key(key: str | None) -> str | None:
    """A key without surrounding whitespace (a CRLF ``.env`` leaves ``\r`` on every value)."""
    if key is None:
        return None
    return key.strip() or None


def _find_key(
    name: str,
    provider: Provider | str,
    cli_key: str | None,
    auth_path: Path | None,
    env: Mapping[str, str],
    models_json_key: str | None,
) -> str | None:
    if cli_key and cli_key.strip():
        return cli_key
    stored = _auth_entry(name, auth_path)
    if stored:
        return resolve_config_value(stored.strip(), env, what=f"auth.json key for {name}")
    for var in _key_env(provider):
        if env.get(var, "").strip():
            return env[var]
    if models_json_key:
        return resolve_config_value(models_json_key.strip(), env, what=f"models.json apiKey for {name}")
    return None


def _has_key(prov: Provider, query: ModelQuery, auth: Mapping[str, object], env: Mapping[str, str]) -> bool:
    """Whether ``prov`` has a key somewhere, without running any ``!command``."""
    if query.cli_key and query.provider and query.provider.lower() == prov.name:
        return True
    return bool(auth.get(prov.name) or any(env.get(v) for v in prov.key_env) or prov.api_key)


def _needs_key(model: Model, registry: ModelRegistry) -> bool:
    prov = registry.provider(model.provider)
    if prov is not None and prov.local:
        return False
    host = model.base_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return host not in ("localhost", "127.0.0.1", "[::1]", "0.0.0.0")


def require_api_key(
    model: Model,
    registry: ModelRegistry,
    *,
    cli_key: str | None = None,
    auth_path: Path | None = None,
    env: Mapping[str, str],
) -> str | None:
    """The key to use for ``model``; None for local servers that need none.

    Raises:
        ConfigError: the provider needs a key and none is configured (says what to set).
    """
    prov = registry.provider(model.provider)
    key = resolve_api_key(prov or model.provider, cli_key=cli_key, auth_path=auth_path, env=env)
    if key or not _needs_key(model, registry):
        return key
    names = " or ".join(_key_env(prov or model.provider)) or "a key"
    raise ConfigError(
        f"No API key found for {model.provider}: set {names}, add it to auth.json, or pass --api-key."
    )


# -- models ----------------------------------------------------------------------------------


def _check_api(api: str | None) -> None:
    if api is not None and (api not in KNOWN_APIS or api == "faux"):
        allowed = ", ".join(a for a in KNOWN_APIS if a != "faux")
        raise ConfigError(f"Unknown --api '{api}': use one of {allowed}.")


def _unknown_provider(name: str, registry: ModelRegistry) -> ConfigError:
    known = ", ".join(p.name for p in registry.providers())
    return ConfigError(
        f"Unknown provider '{name}'. Known providers: {known}. Define it in models.json or pass --base-url."
    )


def _with_endpoint(model: Model, base_url: str | None, api: str | None, prov: Provider | None) -> Model:
    """``model`` sent to ``base_url``; a custom endpoint speaks Chat Completions unless told.

    Anthropic endpoints follow the Anthropic SDK convention: ``/v1`` is appended to a base
    URL that does not end in it (``ANTHROPIC_BASE_URL=https://proxy`` -> ``https://proxy/v1``).
    """
    if base_url is None:
        return replace(model, api=api) if api else model
    base_url = base_url.rstrip("/")
    if api is None:
        api = "anthropic-messages" if model.api == "anthropic-messages" else "openai-completions"
        if prov is not None and prov.base_url.rstrip("/") == base_url:
            api = model.api
    if api == "anthropic-messages" and not base_url.endswith("/v1"):
        base_url += "/v1"
    return replace(model, base_url=base_url, api=api)


def _env_base_url(prov: Provider | None, env: Mapping[str, str]) -> str | None:
    if prov is None or prov.base_url_env is None:
        return None
    return env.get(prov.base_url_env) or None


def resolve_model(
    registry: ModelRegistry, query: ModelQuery, *, env: Mapping[str, str]
) -> tuple[Model, ThinkingLevel | None]:
    """The model to use and the thinking level from a ``:level`` suffix (or None).

    Order (pi §1.3): ``--model`` (with ``--provider``/``--base-url``), settings
    ``defaultProvider``/``defaultModel``, then the default model of the first provider
    that has a key. An unknown id with a known provider or a base URL gets default
    metadata (``known=False``). The provider's ``*_BASE_URL`` variable re-routes it.

    Raises:
        ConfigError: unknown provider, unknown ``--api``, or an unknown model without a
            provider; :class:`NoModelError` when nothing selects a model.
    """
    _check_api(query.api)
    if query.model or query.provider:
        prov_name, pattern = query.provider, query.model
        same = bool(
            query.provider
            and query.default_provider
            and query.provider.lower() == query.default_provider.lower()
        )
        if pattern is None and same:
            pattern = query.default_model  # --provider equal to the settings' one: its model too
    else:
        prov_name, pattern = query.default_provider, query.default_model
    prov = registry.provider(prov_name) if prov_name else None
    if prov_name and prov is None and query.base_url is None:
        raise _unknown_provider(prov_name, registry)
    if pattern:
        model, level = _by_pattern(registry, pattern, prov_name, query.base_url, query.api)
        mprov = registry.provider(model.provider)
        base_url = query.base_url or _env_base_url(mprov, env)
        return _with_endpoint(model, base_url, query.api, mprov), level
    if query.base_url and prov is None:
        raise ConfigError("--base-url needs a model: pass --model ID (the id the server expects).")
    if prov is not None:
        default = registry.default_for(prov.name)
        if default is None:
            raise ConfigError(f"No default model for provider '{prov.name}': pass --model ID.")
        return _with_endpoint(default, query.base_url or _env_base_url(prov, env), query.api, prov), None
    auth = _read_auth(query.auth_path)
    for cand in registry.providers():
        if cand.local or not _has_key(cand, query, auth, env):
            continue
        default = registry.default_for(cand.name)
        if default is not None:
            return _with_endpoint(default, _env_base_url(cand, env), query.api, cand), None
    raise NoModelError(f"No model configured: {_SETUP_HINT}.")


def _by_pattern(
    registry: ModelRegistry, pattern: str, prov_name: str | None, base_url: str | None, api: str | None
) -> tuple[Model, ThinkingLevel | None]:
    known_prov = prov_name is not None and registry.provider(prov_name) is not None
    if known_prov or prov_name is None:
        # A custom endpoint gets the id as typed: only exact matches bring known metadata.
        found = registry.find(pattern, prov_name, fuzzy=base_url is None)
        if found is not None:
            return found
    base, level = split_thinking_suffix(pattern)
    if prov_name is not None:
        return registry.unknown_model(prov_name, base, base_url=base_url, api=api), level
    head, sep, rest = base.partition("/")
    if sep and rest and registry.provider(head) is not None:
        return registry.unknown_model(head, rest, api=api), level
    if base_url is not None:
        return registry.unknown_model("custom", base, base_url=base_url, api=api), level
    raise ConfigError(
        f"Unknown model '{pattern}': use provider/id, add --provider NAME, or --base-url URL "
        "(`opi models` lists known models)."
    )


# -- switching -------------------------------------------------------------------------------


@record
class SwitchTarget:
    """Where a model switch sends requests, and with which key."""

    model: Model
    api_key: str | None
    key_endpoint: str | None


def switch_target(
    registry: ModelRegistry,
    current: Model,
    target: Model,
    *,
    api_key: str | None,
    key_endpoint: str | None,
    env: Mapping[str, str],
    auth_path: Path | None = None,
) -> SwitchTarget:
    """``target`` as a mid-session switch from ``current`` should send it: a key stays bound
    to the endpoint it was given for (``--base-url`` + ``--api-key`` is one pair).

    A model of the same provider keeps the session's endpoint (and its API), as ``--base-url``
    did at start. Another provider gets its own endpoint (``*_BASE_URL`` applies) and its own
    key (auth.json, environment, models.json; never ``--api-key``); the current key goes along
    only to the very endpoint it is bound to.

    Raises:
        ConfigError: the other provider needs a key and none is configured.
    """
    prov = registry.provider(target.provider)
    if target.provider == current.provider and key_endpoint == current.base_url:
        target = replace(target, base_url=current.base_url, api=current.api)
    else:
        target = _with_endpoint(target, _env_base_url(prov, env), None, prov)
    same_endpoint = key_endpoint is not None and target.base_url.rstrip("/") == key_endpoint.rstrip("/")
    if target.provider == current.provider and (same_endpoint or (key_endpoint is None and not api_key)):
        return SwitchTarget(target, api_key, key_endpoint)
    found = resolve_api_key(prov or target.provider, auth_path=auth_path, env=env)
    if found is None and same_endpoint:
        return SwitchTarget(target, api_key, key_endpoint)
    if found is None:
        found = require_api_key(target, registry, auth_path=auth_path, env=env)
    return SwitchTarget(target, found, target.base_url if found else None)


# -- thinking --------------------------------------------------------------------------------


def parse_thinking_level(value: str) -> ThinkingLevel | None:
    """``value`` as a thinking level (case-insensitive), or None if it is not one."""
    low = value.strip().lower()
    return low if low in THINKING_LEVELS else None


def supports_xhigh(model: Model) -> bool:
    """Whether ``model`` accepts the ``xhigh`` level (pi's list, by id)."""
    mid = model.id.lower()
    return model.reasoning and any(m in mid for m in _XHIGH_MARKERS)


def clamp_thinking(model: Model, level: ThinkingLevel) -> ThinkingLevel:
    """The level actually sent: ``off`` for non-reasoning models, ``xhigh`` -> ``high`` where unsupported."""
    if not model.reasoning:
        return "off"
    if level == "xhigh" and not supports_xhigh(model):
        return "high"
    return level


# -- local servers ---------------------------------------------------------------------------


@record
class LocalServer:
    """An OpenAI-compatible server found on this machine."""

    provider: str
    base_url: str


LOCAL_SERVERS: tuple[LocalServer, ...] = tuple(
    LocalServer(r.name, r.base_url) for r in catalog_data.PROVIDERS if r.local
)

Probe = Callable[[str], Awaitable[bool]]


async def detect_local_server(
    probe: Probe, candidates: tuple[LocalServer, ...] = LOCAL_SERVERS
) -> LocalServer | None:
    """The first of Ollama (11434), LM Studio (1234), llama.cpp (8080), vLLM (8000) that answers.

    Args:
        probe: ``await probe(base_url)`` -> True when a server answers there (e.g. a short
            ``GET {base_url}/models``); it owns its timeout and returns False on failure.
        candidates: servers to try, in order of preference. All are probed concurrently.
    """
    results = await asyncio.gather(*(probe(c.base_url) for c in candidates), return_exceptions=True)
    for cand, ok in zip(candidates, results, strict=True):
        if isinstance(ok, BaseException) and not isinstance(ok, OSError | TimeoutError):
            raise ok
        if ok is True:
            return cand
    return None
