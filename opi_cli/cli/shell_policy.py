"""The ``shellEnvironmentPolicy`` setting, turned into the environment of the commands opi runs.

Keys (all optional; their types are checked when settings.json is read, see
:mod:`.settings_schema`): ``inherit`` (``all`` | ``core`` | ``none``),
``ignoreDefaultExcludes``, ``exclude`` / ``includeOnly`` / ``passThrough`` (lists of names or
globs), ``set`` (an object of strings). :mod:`opi_cli.tools.shell_env` says how they apply.
"""

from __future__ import annotations

from collections.abc import Mapping

from opi_cli.ai.catalog import ModelRegistry
from opi_cli.cli.settings import Settings
from opi_cli.tools.shell_env import ShellEnvPolicy, build_shell_env

__all__ = ["key_variables", "shell_env", "shell_policy"]


def key_variables(registry: ModelRegistry, env: Mapping[str, str]) -> tuple[str, ...]:
    """Every variable opi reads an API key from: the providers' key variables and the
    models.json ``apiKey`` values that name a variable."""
    names = {v for p in registry.providers() for v in p.key_env}
    names |= {p.api_key for p in registry.providers() if p.api_key and p.api_key in env}
    return tuple(sorted(names))


def shell_policy(settings: Settings, registry: ModelRegistry) -> ShellEnvPolicy:
    """The policy from settings (the defaults when the key is absent)."""
    raw = settings.section("shellEnvironmentPolicy")
    return ShellEnvPolicy(
        inherit=raw.get("inherit", "all"),
        ignore_default_excludes=bool(raw.get("ignoreDefaultExcludes", False)),
        exclude=tuple(raw.get("exclude", ())),
        set=dict(raw.get("set", {})),
        include_only=tuple(raw.get("includeOnly", ())),
        pass_through=tuple(raw.get("passThrough", ())),
        secret_names=key_variables(registry, settings.env),
    )


def shell_env(settings: Settings, registry: ModelRegistry) -> dict[str, str]:
    """The environment of the commands opi runs, from opi's own and the policy."""
    return build_shell_env(settings.env, shell_policy(settings, registry))
