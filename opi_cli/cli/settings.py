"""Settings: defaults < OPI_HOME/settings.json < .opi/settings.json < environment < flags.

This module is the only reader of ``os.environ``; everything below the CLI receives values
or an ``env`` mapping. A malformed settings file is a :class:`ConfigError` naming the file
and line; it is never reset or overwritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _strip_jsonc(text: str) -> str:
    """Drop // and /* */ comments and trailing commas outside strings (pi 0.73 accepts them)."""
    out: list[str] = []
    i, n, in_str = 0, len(text), False
    while i < n:
        ch = text[i]
        if in_str:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
            out.append(ch)
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            seg = text[i : (n if j < 0 else j + 2)]
            out.append("\n" * seg.count("\n"))
            i = n if j < 0 else j + 2
            continue
        elif ch in "}]":
            k = len(out) - 1
            while k >= 0 and out[k] in " \t\r\n":
                k -= 1
            if k >= 0 and out[k] == ",":
                out[k] = " "
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def load_json_file(path: Path) -> dict[str, Any] | None:
    """Parse a JSON(C) config file; ``None`` if it does not exist.

    Raises:
        ConfigError: unreadable or malformed, naming the file and the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    try:
        value = json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}. Fix the file (it was not changed)."
        ) from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: line 1: expected a JSON object at the top level")
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """One-level deep merge: nested objects are merged key by key, the rest replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


@dataclass(frozen=True, slots=True)
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
        ConfigError: a settings file is malformed.
    """
    environ = dict(os.environ if env is None else env)
    here = (cwd or Path.cwd()).resolve()
    home = opi_home(environ)
    values = dict(DEFAULTS)
    for path in (home / "settings.json", here / ".opi" / "settings.json"):
        loaded = load_json_file(path)
        if loaded:
            values = _merge(values, loaded)
    return Settings(home, here, values, environ)
