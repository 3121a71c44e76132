"""An arrow-key picker with type-to-filter, drawn inside the REPL's running input.

The REPL's one prompt_toolkit application never stops, so a picker is not a second
application: it is a list drawn above the input line while the input's text is the
filter. Up/Down (and Ctrl+P/Ctrl+N, PageUp/PageDown) move, Enter picks, Escape cancels.
The filter keeps the items that contain every word typed, in any order, case-insensitively;
a number N picks the N-th item, as in a numbered list. A long title wraps.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from prompt_toolkit.formatted_text import StyleAndTextTuples

__all__ = ["Picker"]

HINT = "type to filter (or a number) · ↑↓ move · enter picks · esc cancels"
TITLE_LINES = 4


@dataclass(slots=True)
class Picker:
    """The state of one open picker.

    Args:
        title: what is being picked (``Switch to a model``).
        items: one line per choice.
        current: the item selected when the picker opens (the current model, ...).
    """

    title: str
    items: list[str]
    current: int | None = None
    query: str = ""
    _shown: list[int] = field(default_factory=list)
    _at: int = 0  # position in _shown

    def __post_init__(self) -> None:
        self._shown = list(range(len(self.items)))
        if self.current is not None and 0 <= self.current < len(self.items):
            self._at = self.current

    def filter(self, query: str) -> None:
        """Keep the items containing every word of ``query``; stay on the same item if it is kept."""
        if query == self.query:
            return
        keep = self.selected()
        self.query = query
        words = query.lower().split()
        self._shown = [i for i, item in enumerate(self.items) if all(w in item.lower() for w in words)]
        number = query.strip()
        if number.isdigit() and 1 <= int(number) <= len(self.items):
            # a number picks that line, as in a numbered list (its text matches follow it)
            first = int(number) - 1
            self._shown = [first, *(i for i in self._shown if i != first)]
            self._at = 0
            return
        self._at = self._shown.index(keep) if keep in self._shown else 0

    def move(self, delta: int) -> None:
        """Move the selection by ``delta`` rows (clamped to the list)."""
        if self._shown:
            self._at = max(0, min(len(self._shown) - 1, self._at + delta))

    def selected(self) -> int | None:
        """The index (in ``items``) of the selected item; None when the filter keeps nothing."""
        return self._shown[self._at] if self._shown else None

    def fragments(self, width: int, rows: int, *, pointer: str = "❯ ") -> StyleAndTextTuples:
        """The picker as formatted text: a title line, at most ``rows`` items, a count line."""
        rows = max(1, rows)
        out: StyleAndTextTuples = [("class:picker.title", line + "\n") for line in self._title_lines(width)]
        out.append(("class:picker.hint", _fit(HINT, width) + "\n"))
        if not self._shown:
            out.append(("class:picker.hint", _fit(f"  nothing matches '{self.query}'", width) + "\n"))
            return out
        start = min(max(0, self._at - rows // 2), max(0, len(self._shown) - rows))
        window = self._shown[start : start + rows]
        blank = " " * len(pointer)
        for pos, index in enumerate(window, start):
            chosen = pos == self._at
            line = _fit((pointer if chosen else blank) + self.items[index], width)
            out.append(("class:picker.selected" if chosen else "class:picker.item", line + "\n"))
        if len(window) < len(self._shown):
            out.append(("class:picker.hint",
                        f"  {start + 1}-{start + len(window)} of {len(self._shown)}\n"))
        return out

    def _title_lines(self, width: int) -> list[str]:
        lines = textwrap.wrap(self.title, max(10, width)) or [""]
        if len(lines) > TITLE_LINES:  # a title is a question, not a document
            lines = [*lines[: TITLE_LINES - 1], _fit(" ".join(lines[TITLE_LINES - 1 :]), width)]
        return lines

    def height(self, rows: int, width: int) -> int:
        """How many lines :meth:`fragments` draws for ``rows`` item rows, ``width`` columns."""
        shown = min(max(1, rows), len(self._shown)) if self._shown else 1
        return len(self._title_lines(width)) + 1 + shown + (1 if self._shown and shown < len(self._shown) else 0)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
