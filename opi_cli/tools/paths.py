"""Turning the paths a model writes into absolute paths: cwd-relative, ``~`` expanded, ``@`` stripped."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["changed_paths", "display_path", "resolve_path"]

_UNICODE_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")


def resolve_path(path: str, cwd: str, home: str | None = None) -> str:
    """The absolute, normalized form of ``path`` as pi resolves it.

    A leading ``@`` is stripped, odd Unicode spaces become plain spaces, ``~`` and ``~/``
    expand to ``home`` (default: the user's home folder), and relative paths are taken
    relative to ``cwd``.
    """
    p = path[1:] if path.startswith("@") else path
    p = _UNICODE_SPACES.sub(" ", p)
    if p == "~" or p.startswith("~/"):
        p = (home if home is not None else str(Path.home())) + p[1:]
    if not os.path.isabs(p):
        p = os.path.join(cwd, p)
    return os.path.normpath(p)


def display_path(abs_path: str, base: str) -> str:
    """``abs_path`` relative to ``base`` with ``/`` separators (for grep/find output)."""
    rel = os.path.relpath(abs_path, base)
    return rel.replace(os.sep, "/")


def changed_paths(tool: str, args: Mapping[str, object], cwd: str, home: str | None = None) -> list[str]:
    """The absolute paths a call of a built-in tool would change (``edit``/``write``), else []."""
    raw = args.get("path")
    if tool in ("edit", "write") and isinstance(raw, str) and raw:
        return [resolve_path(raw, cwd, home)]
    return []
