"""Whether a project's own code may run: ``.opi/extensions/*.py`` and ``hooks`` in ``.opi/settings.json``.

A cloned repository must not run code when ``opi`` starts in it. So project code runs only
in a folder the user allowed: asked once in the REPL and remembered in
``OPI_HOME/trusted-projects.json`` (``{"/abs/folder": true|false}``), or allowed for every
folder (``true``) or some (a list of folders) by ``allowProjectCode`` in the user's own
``OPI_HOME/settings.json``. The same key in a project's settings is ignored: a repository
cannot allow itself. Headless runs never ask; they refuse what is not allowed, and say so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opi_cli._util.atomic import write_atomic
from opi_cli.cli.settings import Settings, load_json_file

__all__ = ["TRUST_FILE", "is_allowed", "project_code", "remember", "remembered"]

TRUST_FILE = "trusted-projects.json"


def project_code(settings: Settings) -> list[str]:
    """What code this folder would run, one short description each (empty: nothing)."""
    out: list[str] = []
    folder = settings.cwd / ".opi" / "extensions"
    try:
        files = sorted(p.name for p in folder.glob("*.py") if not p.name.startswith("_"))
    except OSError:
        files = []
    if files:
        out.append(f"extensions in {folder}: {', '.join(files)}")
    path = settings.cwd / ".opi" / "settings.json"
    if "hooks" in settings.values:
        raw = load_json_file(path) or {}
        hooks = raw.get("hooks")
        if isinstance(hooks, dict) and hooks:
            out.append(f"hooks in {path}: {', '.join(str(k) for k in hooks)}")
    return out


def _read(home: Path) -> dict[str, Any]:
    try:
        data = json.loads((home / TRUST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered(settings: Settings) -> bool | None:
    """The answer given for this folder in the REPL, or ``None`` if never asked."""
    value = _read(settings.home).get(str(settings.cwd))
    return value if isinstance(value, bool) else None


def _setting_allows(settings: Settings) -> bool:
    user = load_json_file(settings.home / "settings.json") or {}
    value = user.get("allowProjectCode")
    if value is True:
        return True
    if isinstance(value, list):
        cwd = settings.cwd.resolve()
        return any(isinstance(p, str) and Path(p).expanduser().resolve() == cwd for p in value)
    return False


def is_allowed(settings: Settings) -> bool:
    """May this folder's own code run (remembered answer first, then the user's setting)?"""
    answer = remembered(settings)
    if answer is not None:
        return answer
    return _setting_allows(settings)


def remember(settings: Settings, allowed: bool) -> None:
    """Store the answer for this folder (a private file, replaced whole)."""
    data = _read(settings.home)
    data[str(settings.cwd)] = allowed
    target = settings.home / TRUST_FILE
    write_atomic(target, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)
