"""Walking a folder the way ripgrep and fd do: ``.gitignore`` honoured, ``.git`` skipped, links not followed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from opi_cli._util.records import record
from opi_cli.tools.gitignore import IgnoreRules, parse_gitignore
from opi_cli.tools.ops import FileOps

__all__ = ["WalkEntry", "load_ancestor_rules", "walk"]


@record
class WalkEntry:
    """A path found by :func:`walk`: ``rel`` is ``/``-separated and relative to the root."""

    rel: str
    abs_path: str
    is_dir: bool
    is_symlink: bool


async def _read_ignore(file_ops: FileOps, folder: str) -> str | None:
    path = os.path.join(folder, ".gitignore")
    if await file_ops.kind(path) != "file":
        return None
    try:
        return (await file_ops.read_bytes(path)).decode("utf-8", "replace")
    except OSError:
        return None


async def _git_top(file_ops: FileOps, start: str) -> str | None:
    probe = start
    while True:
        if await file_ops.kind(os.path.join(probe, ".git")) is not None:
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


async def load_ancestor_rules(file_ops: FileOps, root: str) -> IgnoreRules:
    """The ``.gitignore`` rules of the folders above ``root`` up to its git repository's top.

    Outside a git repository there are none; the rules apply to paths relative to ``root``.
    """
    top = await _git_top(file_ops, root)
    if top is None or top == root:
        return IgnoreRules()
    chain: list[str] = []
    folder = os.path.dirname(root)
    while True:
        chain.append(folder)
        if folder == top or os.path.dirname(folder) == folder:
            break
        folder = os.path.dirname(folder)
    rules = IgnoreRules()
    for folder in reversed(chain):
        text = await _read_ignore(file_ops, folder)
        if text is not None:
            above = os.path.relpath(root, folder).replace(os.sep, "/")
            rules = rules.extended(parse_gitignore(text, "", above))
    return rules


async def walk(file_ops: FileOps, root: str, rules: IgnoreRules | None = None) -> AsyncIterator[WalkEntry]:
    """Every path below ``root`` that is not ignored, depth first, sorted by name per folder.

    Ignored folders are not entered; symlinked folders are listed but not entered.
    """
    async for entry in _walk(file_ops, root, "", rules or IgnoreRules()):
        yield entry


async def _walk(
    file_ops: FileOps, folder: str, rel_folder: str, inherited: IgnoreRules
) -> AsyncIterator[WalkEntry]:
    try:
        entries = await file_ops.list_dir(folder)
    except OSError:
        return
    text = await _read_ignore(file_ops, folder) if any(e.name == ".gitignore" for e in entries) else None
    active = inherited.extended(parse_gitignore(text, rel_folder)) if text else inherited
    for entry in sorted(entries, key=lambda e: e.name):
        rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
        is_dir = entry.kind == "dir"
        if (is_dir and entry.name == ".git") or active.ignored(rel, is_dir):
            continue
        item = WalkEntry(rel, os.path.join(folder, entry.name), is_dir, entry.is_symlink)
        yield item
        if is_dir and not entry.is_symlink:
            async for sub in _walk(file_ops, item.abs_path, rel, active):
                yield sub
