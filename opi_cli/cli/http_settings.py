"""The ``http`` settings (connect, first-byte and idle timeouts) and ``--timeout``, read and checked.

A wrong value is a :class:`~opi_cli.errors.ConfigError` naming the settings file and the
key; it is never silently replaced by the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opi_cli.ai.timeouts import DEFAULT_TIMEOUTS, HttpTimeouts
from opi_cli.cli.settings import Settings, load_json_file
from opi_cli.errors import ConfigError, UsageError

__all__ = ["HTTP_KEYS", "http_timeouts", "setting_file"]

HTTP_KEYS = ("connectTimeoutMs", "firstByteTimeoutMs", "idleTimeoutMs")
"""The keys of the ``http`` section; each a positive number of milliseconds, or 0 for no limit."""


def setting_file(settings: Settings, section: str) -> Path:
    """The settings file a section's value comes from (the project file wins, as in the merge)."""
    project = settings.cwd / ".opi" / "settings.json"
    try:
        loaded = load_json_file(project)
    except ConfigError:
        loaded = None
    if loaded and section in loaded:
        return project
    return settings.home / "settings.json"


def _millis(settings: Settings, section: dict[str, Any], key: str, default: float | None) -> float | None:
    if key not in section:
        return default
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(
            f"{setting_file(settings, 'http')}: http.{key} must be a number of milliseconds "
            f"(0 for no limit), not {value!r}. Fix the file (it was not changed)."
        )
    return None if value == 0 else value / 1000


def http_timeouts(settings: Settings, cli_timeout: float | None) -> HttpTimeouts:
    """The request limits from the ``http`` settings and ``--timeout`` (seconds).

    Raises:
        ConfigError: an ``http`` value is not a non-negative number.
        UsageError: ``--timeout`` is not positive.
    """
    raw = settings.get("http")
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{setting_file(settings, 'http')}: http must be an object, not {raw!r}.")
    section = raw or {}
    if cli_timeout is not None and cli_timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {cli_timeout:g}.")
    d = DEFAULT_TIMEOUTS
    return HttpTimeouts(
        connect_s=_millis(settings, section, "connectTimeoutMs", d.connect_s),
        first_byte_s=_millis(settings, section, "firstByteTimeoutMs", d.first_byte_s),
        idle_s=_millis(settings, section, "idleTimeoutMs", d.idle_s),
        total_s=cli_timeout,
        connect_name="http.connectTimeoutMs",
        first_byte_name="http.firstByteTimeoutMs",
        idle_name="http.idleTimeoutMs",
        total_name="--timeout",
    )
