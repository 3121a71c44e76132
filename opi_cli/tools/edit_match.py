"""Locating the text an ``edit`` replaces: exact match first, then a fuzzy match mapped back.

The fuzzy view of a text folds NFKC compatibility forms, curly quotes, Unicode dashes and
exotic spaces to ASCII and drops trailing whitespace per line; every character of the view
remembers the span of original characters it came from, so a fuzzy match is replaced in the
original text and nothing outside it changes (pi defect 10).
"""

from __future__ import annotations

import unicodedata

from opi_cli._util.records import record

__all__ = ["Match", "View", "build_view", "find_unique", "fold_text"]

_FOLD = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
}


def _fold_char(ch: str) -> str:
    out = unicodedata.normalize("NFKC", ch)
    return "".join(_FOLD.get(c, c) for c in out)


@record
class View:
    """A transformed text and, per character, the ``[start, end)`` span it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]


@record
class Match:
    """A unique match, as a span of the original text."""

    start: int
    end: int
    fuzzy: bool


def build_view(text: str, *, fuzzy: bool) -> View:
    """The LF view of ``text`` (``\\r\\n`` read as one ``\\n``), folded too when ``fuzzy``."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
            if fuzzy:
                _strip_trailing(chars, starts, ends)
            chars.append("\n")
            starts.append(i)
            ends.append(i + 2)
            i += 2
            continue
        if fuzzy and ch == "\n":
            _strip_trailing(chars, starts, ends)
        for c in _fold_char(ch) if fuzzy else ch:
            chars.append(c)
            starts.append(i)
            ends.append(i + 1)
        i += 1
    if fuzzy:
        _strip_trailing(chars, starts, ends)
    return View("".join(chars), tuple(starts), tuple(ends))


def _strip_trailing(chars: list[str], starts: list[int], ends: list[int]) -> None:
    while chars and chars[-1] != "\n" and chars[-1].isspace():
        chars.pop()
        starts.pop()
        ends.pop()


def fold_text(text: str) -> str:
    """The fuzzy view of a search text (CRLF read as LF)."""
    return build_view(text, fuzzy=True).text


def _count(haystack: str, needle: str) -> int:
    count, pos = 0, haystack.find(needle)
    while pos != -1:
        count += 1
        pos = haystack.find(needle, pos + 1)
    return count


def find_unique(original: str, old_text: str) -> Match | int:
    """The one place ``old_text`` (LF newlines) occurs in ``original``, or how often it occurs.

    Returns a :class:`Match` when there is exactly one occurrence (exact, else fuzzy), else the
    number of occurrences (0 or more than 1) in the space that was searched.
    """
    exact = build_view(original, fuzzy=False)
    idx = exact.text.find(old_text)
    if idx != -1:
        count = _count(exact.text, old_text)
        if count > 1:
            return count
        return Match(exact.starts[idx], exact.ends[idx + len(old_text) - 1], False)
    view = build_view(original, fuzzy=True)
    needle = fold_text(old_text)
    if not needle:
        return 0
    idx = view.text.find(needle)
    if idx == -1:
        return 0
    count = _count(view.text, needle)
    if count > 1:
        return count
    return Match(view.starts[idx], view.ends[idx + len(needle) - 1], True)
