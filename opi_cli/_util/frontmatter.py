"""Parse the YAML frontmatter of Markdown files (prompt templates, commands, skills), strictly.

Only the subset these files use is accepted, and anything else is a
:class:`FrontmatterError` naming the line, never a guess:

- ``key: value`` pairs at the top level (keys of letters, digits, ``_``, ``-``, ``.``);
- plain values (continued on more-indented lines, folded with spaces; ``true``/``false``
  become booleans, ``null``/``~`` and an empty value become ``None``; a colon inside a
  plain value is kept as text, as these files' descriptions often have one);
- ``"double"`` (with ``\\`` escapes) and ``'single'`` (``''`` for a quote) quoted values;
- block values ``|`` (lines kept) and ``>`` (lines folded), with ``-``/``+`` chomping;
- lists, as ``[a, b]`` on the line or ``- item`` lines below the key;
- one level of nested ``key: value`` pairs below a key (e.g. ``metadata``);
- ``#`` comments and blank lines.

Anchors, tags, flow maps and deeper nesting are refused. Keys in ``raw_keys`` keep the
text after the colon as it is (only outer quotes removed): Claude Code writes
``argument-hint: [pr] [priority]``, which is not valid YAML but is meant as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import field

from opi_cli._util.records import record

__all__ = ["FrontValue", "Frontmatter", "FrontmatterError", "parse_frontmatter"]

FrontValue = str | bool | list[str] | dict[str, str | bool | None] | None

_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*:(?:\s+(.*))?$")
_BLOCK = re.compile(r"([|>])([+-]?)(\d?)\s*(#.*)?$")
_DELIMS = ("---", "...")


class FrontmatterError(ValueError):
    """Malformed frontmatter; ``line`` is the 1-based line in the whole file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@record
class Frontmatter:
    """A file split into its metadata and its body (the text after the closing ``---``)."""

    meta: dict[str, FrontValue] = field(default_factory=dict)
    body: str = ""
    has_frontmatter: bool = False

    def text(self, key: str) -> str | None:
        """``key`` as a string (lists joined by spaces), or ``None`` when absent or empty."""
        value = self.meta.get(key)
        if isinstance(value, list):
            value = " ".join(value)
        if value is None or isinstance(value, dict):
            return None
        s = str(value).lower() if isinstance(value, bool) else value.strip()
        return s or None

    def flag(self, key: str) -> bool:
        value = self.meta.get(key)
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _indent(line: str, lineno: int) -> int:
    stripped = line.lstrip(" ")
    if stripped.startswith("\t"):
        raise FrontmatterError(lineno, "tabs cannot indent YAML; use spaces")
    return len(line) - len(stripped)


def _strip_comment(text: str) -> str:
    """Drop a `` #...`` comment from a plain value (``#`` inside a word stays)."""
    m = re.search(r"(^|\s)#", text)
    return (text[: m.start()] if m else text).rstrip()


def _quoted(text: str, lineno: int) -> tuple[str, str]:
    """A quoted scalar at the start of ``text`` -> (value, what follows it)."""
    quote = text[0]
    if quote == "'":
        i, out = 1, []
        while i < len(text):
            if text[i] == "'":
                if text.startswith("''", i):
                    out.append("'")
                    i += 2
                    continue
                return "".join(out), text[i + 1 :]
            out.append(text[i])
            i += 1
        raise FrontmatterError(lineno, "a single-quoted value is not closed on its line")
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            try:
                value = json.loads(text[: i + 1].replace("\\'", "'").replace("\\/", "/"))
            except json.JSONDecodeError as exc:
                raise FrontmatterError(lineno, f"bad escape in a double-quoted value: {exc.msg}") from exc
            return str(value), text[i + 1 :]
        i += 1
    raise FrontmatterError(lineno, "a double-quoted value is not closed on its line")


def _scalar(text: str, lineno: int) -> str | bool | None:
    """One value on one line: quoted, or plain (typed true/false/null)."""
    text = text.strip()
    if not text:
        return None
    if text[0] in "\"'":
        value, rest = _quoted(text, lineno)
        if _strip_comment(rest):
            raise FrontmatterError(lineno, f"unexpected text after the quoted value: {rest.strip()!r}")
        return value
    if text[0] in "&*!{%@`":
        raise FrontmatterError(lineno, f"unsupported YAML here ({text[0]!r}); quote the value")
    plain = _strip_comment(text)
    low = plain.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "~", ""):
        return None
    return plain


def _flow_list(text: str, lineno: int) -> list[str] | None:
    """``[a, "b", c]`` -> list; ``None`` when ``text`` is not one whole flow list."""
    body = _strip_comment(text)
    if not (body.startswith("[") and body.endswith("]")):
        return None
    inner, items = body[1:-1].strip(), []
    while inner:
        if inner[0] in "\"'":
            value, inner = _quoted(inner, lineno)
            inner = inner.strip()
            items.append(value)
        else:
            head, _, inner = inner.partition(",")
            if "[" in head or "]" in head:
                return None
            items.append(head.strip())
            inner = "," + inner if _ else ""
        inner = inner.strip()
        if inner.startswith(","):
            inner = inner[1:].strip()
        elif inner:
            return None
    return [s for s in items if s != ""]


def _item_text(value: str | bool | None) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value).lower())


class _Parser:
    def __init__(self, lines: list[str], first_lineno: int, raw_keys: frozenset[str]) -> None:
        self.lines = lines
        self.base = first_lineno  # file line number of lines[0]
        self.raw_keys = raw_keys
        self.i = 0

    def lineno(self, i: int | None = None) -> int:
        return self.base + (self.i if i is None else i)

    def _blank(self, line: str) -> bool:
        s = line.strip()
        return not s or s.startswith("#")

    def parse(self) -> dict[str, FrontValue]:
        meta: dict[str, FrontValue] = {}
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if self._blank(line):
                self.i += 1
                continue
            n = self.lineno()
            if _indent(line, n):
                raise FrontmatterError(n, "unexpected indentation (only one level below a key is supported)")
            m = _KEY.match(line)
            if m is None:
                raise FrontmatterError(n, f"expected 'key: value', got {line.strip()!r}")
            key, rest = m.group(1), (m.group(2) or "")
            if key in meta:
                raise FrontmatterError(n, f"duplicate key {key!r}")
            self.i += 1
            meta[key] = self._value(key, rest, n)
        return meta

    def _value(self, key: str, rest: str, n: int) -> FrontValue:
        rest = rest.strip()
        if key in self.raw_keys and rest:
            if rest[0] in "\"'" and rest[-1] == rest[0] and len(rest) > 1:
                return _item_text(_scalar(rest, n))
            return _strip_comment(rest)
        block = _BLOCK.match(rest)
        if block:
            return self._block(block.group(1), block.group(2), n)
        if rest[:1] in ("|", ">"):
            raise FrontmatterError(n, f"text after '{rest[0]}' must go on the following, indented lines")
        if rest.startswith("["):
            items = _flow_list(rest, n)
            if items is None:
                raise FrontmatterError(n, f"{key}: not a valid [a, b] list; quote the value if it is text")
            return items
        if not _strip_comment(rest):
            return self._nested(key, n)
        value = _scalar(rest, n)
        if isinstance(value, str) and rest[0] not in "\"'":
            more = self._continuation()
            if more:
                value = " ".join([value, *more])
        return value

    def _continuation(self) -> list[str]:
        """Indented lines that continue a plain value (folded with spaces)."""
        out: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip() or not _indent(line, self.lineno()):
                break
            out.append(_strip_comment(line.strip()))
            self.i += 1
        return [s for s in out if s]

    def _indented_block(self) -> list[tuple[int, str]]:
        """The following lines indented more than a top-level key (blank lines kept)."""
        out: list[tuple[int, str]] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() and not _indent(line, self.lineno()):
                break
            out.append((self.lineno(), line))
            self.i += 1
        while out and not out[-1][1].strip():
            out.pop()
        return out

    def _block(self, style: str, chomp: str, n: int) -> str:
        rows = self._indented_block()
        content = [line for _, line in rows]
        width = min((len(s) - len(s.lstrip(" ")) for s in content if s.strip()), default=0)
        lines = [s[width:] if s.strip() else "" for s in content]
        if style == "|":
            text = "\n".join(lines)
        else:
            text = ""
            for s in lines:
                if not s:
                    text += "\n"
                elif s.startswith(" "):  # more-indented lines keep their line breaks
                    text += ("\n" if text and not text.endswith("\n") else "") + s + "\n"
                else:
                    text += (" " if text and not text.endswith("\n") else "") + s
        if chomp == "-" or not text:
            return text.rstrip("\n")
        return text if chomp == "+" and text.endswith("\n") else text.rstrip("\n") + "\n"

    def _nested(self, key: str, n: int) -> FrontValue:
        rows = [(no, line) for no, line in self._indented_block() if not self._blank(line)]
        if not rows:
            return None
        if rows[0][1].strip().startswith("- ") or rows[0][1].strip() == "-":
            items: list[str] = []
            for no, line in rows:
                s = line.strip()
                if not (s.startswith("- ") or s == "-"):
                    raise FrontmatterError(no, f"{key}: every list line must start with '- '")
                value = s[1:].strip()
                if value.startswith(("- ", "[", "{")) or (_KEY.match(value) and value[0] not in "\"'"):
                    raise FrontmatterError(no, f"{key}: only plain or quoted list items are supported")
                items.append(_item_text(_scalar(value, no)))
            return items
        depth = _indent(rows[0][1], rows[0][0])
        mapping: dict[str, str | bool | None] = {}
        for no, line in rows:
            if _indent(line, no) != depth:
                raise FrontmatterError(no, f"{key}: nesting deeper than one level is not supported")
            m = _KEY.match(line.strip())
            if m is None:
                raise FrontmatterError(no, f"{key}: expected 'name: value', got {line.strip()!r}")
            sub, rest = m.group(1), (m.group(2) or "")
            if sub in mapping:
                raise FrontmatterError(no, f"{key}: duplicate key {sub!r}")
            if rest.strip().startswith(("[", "|", ">")):
                raise FrontmatterError(no, f"{key}.{sub}: only plain or quoted values are supported here")
            mapping[sub] = _scalar(rest, no)
        return mapping


def parse_frontmatter(text: str, *, raw_keys: Iterable[str] = ()) -> Frontmatter:
    """Split ``text`` into frontmatter and body; no leading ``---`` line means no frontmatter.

    Raises:
        FrontmatterError: the frontmatter is not closed or not in the supported subset.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return Frontmatter({}, text, False)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in _DELIMS), None)
    if end is None:
        raise FrontmatterError(1, "the frontmatter has no closing '---' line")
    inner = [s.rstrip("\r") for s in lines[1:end]]
    meta = _Parser(inner, 2, frozenset(raw_keys)).parse()
    body = "\n".join(lines[end + 1 :])
    return Frontmatter(meta, body, True)
