"""Where Python extensions come from: ``opi.extensions`` entry points and ``.opi/extensions/*.py``.

Looking entry points up costs ~25 ms (importing ``importlib.metadata`` and reading every
installed distribution), which a run with no extensions must not pay. So the answer is
kept in ``OPI_HOME/cache/entry-points.json`` together with the modification times of the
folders on ``sys.path``: installing or removing a package changes its folder's time, and
only then are the entry points read again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Literal

from opi_cli._util.records import record

__all__ = ["ENTRY_POINT_GROUP", "ExtensionSource", "entry_point_sources", "file_sources", "find_sources"]

ENTRY_POINT_GROUP = "opi.extensions"
_CACHE_VERSION = 1


@record
class ExtensionSource:
    """One extension to load: an entry point (``target`` = ``module:attr``) or a project file."""

    name: str
    kind: Literal["package", "file"]
    target: str  # "module:attr" for a package, the file path for a file
    origin: str  # the distribution ("name version") or the folder, for `opi extensions`


def _path_key() -> list[list[object]]:
    key: list[list[object]] = []
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
        except OSError:
            continue
        if os.path.isdir(entry or "."):
            key.append([os.path.abspath(entry or "."), st.st_mtime_ns])
    return key


def _scan() -> list[list[str]]:
    from importlib.metadata import entry_points

    found: list[list[str]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else "installed package"
        found.append([ep.name, ep.value, origin])
    return found


def entry_point_sources(cache_dir: Path) -> list[ExtensionSource]:
    """The installed ``opi.extensions`` entry points (from the cache while ``sys.path`` is unchanged)."""
    cache = cache_dir / "entry-points.json"
    key = _path_key()
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("version") == _CACHE_VERSION and data.get("key") == key:
            return [ExtensionSource(n, "package", v, o) for n, v, o in data["entryPoints"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    found = _scan()
    try:
        from opi_cli._util.atomic import write_atomic

        write_atomic(cache, json.dumps({"version": _CACHE_VERSION, "key": key, "entryPoints": found}).encode())
    except OSError:
        pass  # a read-only home: look them up again next time
    return [ExtensionSource(n, "package", v, o) for n, v, o in found]


def file_sources(cwd: Path) -> list[ExtensionSource]:
    """``.opi/extensions/*.py`` of the project, in name order (files starting with ``_`` are helpers)."""
    folder = cwd / ".opi" / "extensions"
    try:
        files = sorted(p for p in folder.glob("*.py") if p.is_file() and not p.name.startswith("_"))
    except OSError:
        return []
    return [ExtensionSource(p.stem, "file", str(p), str(folder)) for p in files]


def find_sources(cwd: Path, cache_dir: Path) -> list[ExtensionSource]:
    """Every extension: installed packages first, then the project's files."""
    return entry_point_sources(cache_dir) + file_sources(cwd)
