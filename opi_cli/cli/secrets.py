"""The secrets opi knows of, for masking what it writes out (exports): keys in the environment,
in auth.json, and the session's own key.

Values of variables whose names look secret (:func:`~opi_cli.tools.shell_env.is_secret_name`,
which covers every ``*_API_KEY`` and token variable) and literal auth.json keys are masked
in every form :class:`~opi_cli._util.redact.Redactor` knows. ``!command`` entries are not run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from opi_cli._util.redact import Redactor
from opi_cli.cli.settings import Settings
from opi_cli.tools.shell_env import is_secret_name

__all__ = ["known_secrets", "redact_file"]


def _auth_keys(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keys: list[str] = []
    for entry in data.values() if isinstance(data, dict) else []:
        value = entry.get("key") if isinstance(entry, dict) else entry
        if isinstance(value, str) and not value.startswith("!"):
            keys.append(value)
    return keys


def known_secrets(settings: Settings, extra: Iterable[str | None] = ()) -> Redactor:
    """A redactor for every secret opi can see from ``settings`` plus ``extra``."""
    redactor = Redactor(extra)
    for name, value in settings.env.items():
        if is_secret_name(name):
            redactor.add(value)
    for key in _auth_keys(settings.auth_json):
        redactor.add(settings.env.get(key, key))
    return redactor


def redact_file(path: Path, redactor: Redactor) -> None:
    """Mask the secrets in a text file opi has just written (an export)."""
    if not redactor:
        return
    text = path.read_text(encoding="utf-8")
    cleaned = redactor.redact(text)
    if cleaned != text:
        path.write_text(cleaned, encoding="utf-8")
