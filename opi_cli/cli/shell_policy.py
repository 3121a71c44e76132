"""The ``shellEnvironmentPolicy`` setting: read, checked, and turned into the commands' environment.

Keys (all optional): ``inherit`` (``all`` | ``core`` | ``none``), ``ignoreDefaultExcludes``
(bool), ``exclude`` / ``includeOnly`` / ``passThrough`` (lists of names or globs), ``set``
(an object of strings). See :mod:`opi_cli.tools.shell_env` for how they apply. A wrong
value is a :class:`~opi_cli.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opi_cli.ai.catalog import ModelRegistry
from opi_cli.cli.http_settings import setting_file
from opi_cli.cli.settings import Settings
from opi_cli.errors import ConfigError
from opi_cli.tools.shell_env import ShellEnvPolicy, build_shell_env

__all__ = ["POLICY_KEY", "key_variables", "shell_env", "shell_policy"]

POLICY_KEY = "shellEnvironmentPolicy"
_FIELDS = ("inherit", "ignoreDefaultExcludes", "exclude", "set", "includeOnly", "passThrough")


def key_variables(registry: ModelRegistry, env: Mapping[str, str]) -> tuple[str, ...]:
    """Every variable opi reads an API key from: the providers' key variables and the
    models.json ``apiKey`` values that name a variable."""
    names = {v for p in registry.providers() for v in p.key_env}
    names |= {p.api_key for p in registry.providers() if p.api_key and p.api_key in env}
    return tuple(sorted(names))


def _bad(settings: Settings, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(
        f"{setting_file(settings, POLICY_KEY)}: {POLICY_KEY}.{key} must be {expected}, not {value!r}. "
        "Fix the file (it was not changed)."
    )


def _names(settings: Settings, raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(settings, key, "a list of variable names or globs", value)
    return tuple(value)


def shell_policy(settings: Settings, registry: ModelRegistry) -> ShellEnvPolicy:
    """The policy from settings (the defaults when the key is absent).

    Raises:
        ConfigError: a value of the wrong type, or an unknown key.
    """
    raw = settings.get(POLICY_KEY)
    if raw is None:
        return ShellEnvPolicy(secret_names=key_variables(registry, settings.env))
    if not isinstance(raw, dict):
        raise _bad(settings, "", "an object", raw)
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise _bad(settings, unknown[0], f"one of the keys {', '.join(_FIELDS)}", raw[unknown[0]])
    inherit = raw.get("inherit", "all")
    if inherit not in ("all", "core", "none"):
        raise _bad(settings, "inherit", '"all", "core" or "none"', inherit)
    ignore = raw.get("ignoreDefaultExcludes", False)
    if not isinstance(ignore, bool):
        raise _bad(settings, "ignoreDefaultExcludes", "true or false", ignore)
    assigned = raw.get("set", {})
    if not isinstance(assigned, dict) or not all(isinstance(v, str) for v in assigned.values()):
        raise _bad(settings, "set", "an object of string values", assigned)
    return ShellEnvPolicy(
        inherit=inherit,
        ignore_default_excludes=ignore,
        exclude=_names(settings, raw, "exclude"),
        set=dict(assigned),
        include_only=_names(settings, raw, "includeOnly"),
        pass_through=_names(settings, raw, "passThrough"),
        secret_names=key_variables(registry, settings.env),
    )


def shell_env(settings: Settings, registry: ModelRegistry) -> dict[str, str]:
    """The environment of the commands opi runs, from opi's own and the policy.

    Raises:
        ConfigError: the policy setting is malformed.
    """
    return build_shell_env(settings.env, shell_policy(settings, registry))
