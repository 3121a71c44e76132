"""Settings: defaults < OPI_HOME/settings.json < .opi/settings.json < environment < flags.

This module is the only reader of ``os.environ``; everything below the CLI receives values
or an ``env`` mapping. A malformed settings file, or a value of the wrong type (checked
against :mod:`~opi_cli.cli.settings_schema`), is a :class:`ConfigError` naming the file,
line and key; it is never reset or overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from opi_cli._util.records import record
from opi_cli.ai.config_check import read_config
from opi_cli.cli.settings_schema import settings_schema
from opi_cli.errors import ConfigError

__all__ = ["Settings", "load_json_file", "load_settings", "opi_home"]

DEFAULTS: dict[str, Any] = {
    "defaultThinkingLevel": "medium",
    "steeringMode": "one-at-a-time",
    "followUpMode": "one-at-a-time",
    "compaction": {"enabled": True, "reserveTokens": 16384, "keepRecentTokens": 20000},
    "retry": {"enabled": True, "maxRetries": 3, "baseDelayMs": 2000, "maxDelayMs": 60000},
    "theme": "dark",
    "hideThinkingBlock": False,
}


def opi_home(env: Mapping[str, str]) -> Path:
    raw = env.get("OPI_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".opi"


def load_json_file(path: Path, schema: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Parse a JSON(C) config file (checked against ``schema`` if given); ``None`` if it does not exist.

    Raises:
        ConfigError: unreadable, malformed or not matching ``schema``, naming the file and the
            line (and the key); the file is never changed.
    """
    value = read_config(path, schema if schema is not None else {"type": "object"})
    return None if value is None else dict(value)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """One-level deep merge: nested objects are merged key by key, the rest replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


@record
class Settings:
    """The merged settings plus the paths and environment they came from."""

    home: Path
    cwd: Path
    values: dict[str, Any]
    env: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def section(self, key: str) -> dict[str, Any]:
        v = self.values.get(key)
        return dict(v) if isinstance(v, dict) else {}

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    @property
    def models_json(self) -> Path:
        return self.home / "models.json"

    @property
    def auth_json(self) -> Path:
        return self.home / "auth.json"


def load_settings(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings for ``cwd`` (default: the process cwd) from ``env`` (default: os.environ).

    Raises:
        ConfigError: a settings file is malformed or has a wrong value, or the current folder
            was deleted.
    """
    environ = dict(os.environ if env is None else env)
    try:
        here = (cwd or Path.cwd()).resolve()
    except FileNotFoundError as exc:
        raise ConfigError(
            "the current folder no longer exists (it was deleted or moved); cd to an existing folder"
        ) from exc
    home = opi_home(environ)
    values = dict(DEFAULTS)
    schema = settings_schema()
    for path in (home / "settings.json", here / ".opi" / "settings.json"):
        loaded = load_json_file(path, schema)
        if loaded:
            values = _merge(values, loaded)
    return Settings(home, here, values, environ)
