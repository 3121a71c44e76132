"""Parse `python -X importtime` output and summarise where import time goes.

Python prints one line per module, children before their parent, indented two spaces per
level. A depth-0 row is a module imported by the program itself (at startup or lazily, from
inside a function), not by another module being imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ImportRow", "children", "parse_importtime", "top_level"]

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)")


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One line of ``-X importtime``: self and cumulative microseconds, nesting depth."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> list[ImportRow]:
    """Rows of ``python -X importtime`` output, in the order Python printed them."""
    rows: list[ImportRow] = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            depth = (len(m.group(3)) - 1) // 2
            rows.append(ImportRow(m.group(4), int(m.group(1)), int(m.group(2)), depth))
    return rows


def top_level(rows: list[ImportRow]) -> list[ImportRow]:
    """Depth-0 rows, heaviest (cumulative) first."""
    return sorted((r for r in rows if r.depth == 0), key=lambda r: r.cumulative_us, reverse=True)


def children(rows: list[ImportRow], parent: str) -> list[ImportRow]:
    """Direct children of the depth-0 import ``parent``, heaviest first."""
    out: list[ImportRow] = []
    for i, r in enumerate(rows):
        if r.depth == 0 and r.name == parent:
            j = i - 1
            while j >= 0 and rows[j].depth > 0:
                if rows[j].depth == 1:
                    out.append(rows[j])
                j -= 1
    return sorted(out, key=lambda r: r.cumulative_us, reverse=True)
