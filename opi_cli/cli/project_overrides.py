"""Which trust keys of a project's ``.opi/settings.json`` apply: a project never loosens what the user set.

A cloned repository could ship ``defaultApproval: "yolo"``, ``sandbox: "off"`` or
``permissions.allow`` rules that make its own commands run without a question. So those
keys apply only in a folder the user trusts, the same trust as for a project's own code
(:mod:`opi_cli.cli.project_trust`: the REPL's remembered answer, or ``allowProjectCode`` in
the user's settings). Elsewhere a project may only tighten: a stricter approval mode or
sandbox than the user's (or the default) still applies, and so do its ``ask`` and ``deny``
rules; what it would loosen is ignored, with one notice naming the file and the keys.

Rules the user saves from the REPL's "always allow" go into the project's file (where the
issue puts them) and are also remembered in ``OPI_HOME/allowed-rules.json``
(``{"/abs/folder": ["Bash(make)", ...]}``), so those exact rules keep applying in that folder
without trusting the rest of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opi_cli._util.atomic import write_atomic
from opi_cli._util.records import record
from opi_cli.cli.project_trust import is_allowed
from opi_cli.cli.settings import Settings, load_json_file

__all__ = ["APPROVAL_ORDER", "SANDBOX_ORDER", "ProjectOverrides", "mode_keys", "remember_allow_rules"]

APPROVAL_ORDER = ("yolo", "auto", "read-only")
"""Approval modes, loosest first."""
SANDBOX_ORDER = ("off", "workspace-write", "read-only")
"""Sandbox modes, loosest first."""
RULES_FILE = "allowed-rules.json"

ModeKeys = dict[str, tuple[str, tuple[str, ...]]]
"""Setting key -> (its default, its values loosest first)."""


def mode_keys(*, interactive: bool, approval_given: bool = False, sandbox_given: bool = False) -> ModeKeys:
    """The mode keys a project's settings could loosen (one set on the command line does not count)."""
    keys: ModeKeys = {}
    if not approval_given:
        keys["defaultApproval"] = ("auto" if interactive else "yolo", APPROVAL_ORDER)
    if not sandbox_given:
        keys["sandbox"] = ("off", SANDBOX_ORDER)
    return keys


def _saved_rules(home: Path) -> dict[str, Any]:
    try:
        data = json.loads((home / RULES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged file only means: no saved rules
    return data if isinstance(data, dict) else {}


def remember_allow_rules(home: Path, cwd: Path, texts: tuple[str, ...]) -> None:
    """Remember that the user saved ``texts`` as "always allow" rules for ``cwd`` (a private file)."""
    data = _saved_rules(home)
    rules = data.get(str(cwd))
    rules = [r for r in rules if isinstance(r, str)] if isinstance(rules, list) else []
    rules += [t for t in texts if t not in rules]
    data[str(cwd)] = rules
    write_atomic(home / RULES_FILE, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)


@record(frozen=False)
class ProjectOverrides:
    """The user's and the project's settings files, read separately, and whether the folder is trusted.

    Attributes:
        path: the project's settings file.
        user: the user's settings file's values.
        project: the project's settings file's values (empty when it is the user's file).
        trusted: the user trusts this folder.
        saved: the ``allow`` rules the user saved for this folder ("always allow").
    """

    path: Path
    user: dict[str, Any]
    project: dict[str, Any]
    trusted: bool
    saved: frozenset[str]

    @classmethod
    def read(cls, settings: Settings) -> ProjectOverrides:
        user_path = settings.home / "settings.json"
        path = settings.cwd / ".opi" / "settings.json"
        user = load_json_file(user_path) or {}
        same = path.exists() and user_path.exists() and path.resolve() == user_path.resolve()
        project = {} if same else load_json_file(path) or {}
        loosening = bool(project.get("defaultApproval") or project.get("sandbox")
                         or (project.get("permissions") or {}).get("allow"))
        trusted = loosening and is_allowed(settings)  # no trust file is read for plain folders
        saved = _saved_rules(settings.home).get(str(settings.cwd))
        return cls(path, user, project, trusted,
                   frozenset(r for r in saved if isinstance(r, str)) if isinstance(saved, list) else frozenset())

    def mode(self, key: str, default: str, order: tuple[str, ...]) -> str:
        """``key`` (``defaultApproval``, ``sandbox``): the project's value when the folder is
        trusted or the value is at least as strict as the user's (or ``default``), else the user's."""
        base = str(self.user.get(key, default))  # both files were checked against the settings schema
        value = self.project.get(key)
        if value is None:
            return base
        return str(value) if self.trusted or order.index(value) >= order.index(base) else base

    def allow_rules(self) -> list[str]:
        """The project's ``allow`` rules that apply (all when trusted, else those the user saved)."""
        rules = (self.project.get("permissions") or {}).get("allow") or []
        return [r for r in rules if self.trusted or r in self.saved]

    def ignored(self, keys: ModeKeys) -> str | None:
        """The notice for what the project would loosen, or None.

        Args:
            keys: the mode keys in play (:func:`mode_keys`).
        """
        names = [k for k, (default, order) in keys.items()
                 if k in self.project and self.mode(k, default, order) != self.project[k]]
        allow = (self.project.get("permissions") or {}).get("allow") or []
        if len(self.allow_rules()) < len(allow):
            names.append("permissions.allow")
        if not names:
            return None
        return (f"Ignored {', '.join(names)} in {self.path}: a project's settings cannot loosen yours until you "
                "trust the folder (answer yes when the REPL asks, or see allowProjectCode in docs/trust.md).")

    def loosening(self, keys: ModeKeys) -> list[str]:
        """What this project's settings would loosen if the folder were trusted, for the REPL's question."""
        untrusted = ProjectOverrides(self.path, self.user, self.project, False, self.saved)
        out = [f"{k}: {self.project[k]}" for k, (default, order) in keys.items()
               if k in self.project and untrusted.mode(k, default, order) != self.project[k]]
        extra = [r for r in (self.project.get("permissions") or {}).get("allow") or [] if r not in self.saved]
        if extra:
            out.append(f"permissions.allow: {', '.join(extra)}")
        return [f"settings in {self.path} that loosen yours: {'; '.join(out)}"] if out else []

