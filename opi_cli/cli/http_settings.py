"""The ``http`` settings (connect, first-byte and idle timeouts) and ``--timeout``, as request limits.

The settings' types are checked when settings.json is read (:mod:`.settings_schema`); a
value of ``0`` means no limit.
"""

from __future__ import annotations

from opi_cli.ai.timeouts import DEFAULT_TIMEOUTS, HttpTimeouts
from opi_cli.cli.settings import Settings
from opi_cli.errors import UsageError

__all__ = ["http_timeouts"]


def _seconds(section: dict[str, float], key: str, default: float | None) -> float | None:
    if key not in section:
        return default
    value = section[key]
    return None if value == 0 else value / 1000


def http_timeouts(settings: Settings, cli_timeout: float | None) -> HttpTimeouts:
    """The request limits from the ``http`` settings and ``--timeout`` (seconds).

    Raises:
        UsageError: ``--timeout`` is not positive.
    """
    if cli_timeout is not None and cli_timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {cli_timeout:g}.")
    section = settings.section("http")
    d = DEFAULT_TIMEOUTS
    return HttpTimeouts(
        connect_s=_seconds(section, "connectTimeoutMs", d.connect_s),
        first_byte_s=_seconds(section, "firstByteTimeoutMs", d.first_byte_s),
        idle_s=_seconds(section, "idleTimeoutMs", d.idle_s),
        total_s=cli_timeout,
        connect_name="http.connectTimeoutMs",
        first_byte_name="http.firstByteTimeoutMs",
        idle_name="http.idleTimeoutMs",
        total_name="--timeout",
    )
