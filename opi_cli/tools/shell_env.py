"""The environment of the commands opi runs (the ``bash`` tool, ``!cmd``, ``rg``/``fd``): secrets stay out.

Modelled on Codex's ``shell_environment_policy`` (extension-formats.md §6). The environment is
built in this order:

1. ``inherit``: ``all`` of opi's environment, the ``core`` variables (HOME, LOGNAME, PATH,
   SHELL, USER, USERNAME, TMPDIR, TEMP, TMP, LANG, LC_*, TERM), or ``none``.
2. Unless ``ignoreDefaultExcludes``: drop every name matching ``*KEY*``, ``*SECRET*``,
   ``*TOKEN*``, ``*PASSWORD*`` or ``*CREDENTIAL*`` (case-insensitive), and the variables opi
   reads API keys from (``secret_names``), except the names listed in ``passThrough``.
3. ``exclude``: drop names matching these globs (case-insensitive).
4. ``set``: add or replace these variables.
5. ``includeOnly``: when not empty, keep only names matching these globs.

So by default a command sees everything opi sees except secrets: a key the model could
print with ``env`` would otherwise end up in the session and in the next request.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Literal

from opi_cli._util.records import record

__all__ = ["DEFAULT_EXCLUDES", "ShellEnvPolicy", "build_shell_env", "is_secret_name"]

Inherit = Literal["all", "core", "none"]
DEFAULT_EXCLUDES: tuple[str, ...] = ("*KEY*", "*SECRET*", "*TOKEN*", "*PASSWORD*", "*CREDENTIAL*")
_CORE = ("HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP", "LANG", "LC_*", "TERM")


def _matches(name: str, patterns: Iterable[str]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, p.upper()) for p in patterns)


def is_secret_name(name: str) -> bool:
    """Whether a variable name looks like it holds a secret (the default excludes)."""
    return _matches(name, DEFAULT_EXCLUDES)


@record
class ShellEnvPolicy:
    """What a command's environment keeps (see the module docstring for the order).

    Attributes:
        inherit: ``all``, ``core`` or ``none``.
        ignore_default_excludes: keep secret-looking names and key variables.
        exclude: globs of names to drop.
        set: variables to add or replace.
        include_only: globs; when not empty, only matching names are kept.
        pass_through: names kept although a default exclude matches them (``GITHUB_TOKEN``).
        secret_names: the variables opi reads API keys from (dropped like the defaults).
    """

    inherit: Inherit = "all"
    ignore_default_excludes: bool = False
    exclude: tuple[str, ...] = ()
    set: Mapping[str, str] = field(default_factory=dict)
    include_only: tuple[str, ...] = ()
    pass_through: tuple[str, ...] = ()
    secret_names: tuple[str, ...] = ()


def build_shell_env(env: Mapping[str, str], policy: ShellEnvPolicy) -> dict[str, str]:
    """The environment for commands, from opi's own ``env`` and ``policy``."""
    if policy.inherit == "all":
        out = dict(env)
    elif policy.inherit == "core":
        out = {k: v for k, v in env.items() if _matches(k, _CORE)}
    else:
        out = {}
    if not policy.ignore_default_excludes:
        keep = {n.upper() for n in policy.pass_through}
        secret = {n.upper() for n in policy.secret_names}
        out = {
            k: v for k, v in out.items()
            if k.upper() in keep or not (is_secret_name(k) or k.upper() in secret)
        }
    if policy.exclude:
        out = {k: v for k, v in out.items() if not _matches(k, policy.exclude)}
    out.update(policy.set)
    if policy.include_only:
        out = {k: v for k, v in out.items() if _matches(k, policy.include_only)}
    return out
