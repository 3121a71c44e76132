"""Prompt templates: Markdown files that ``/name args`` expands into a prompt.

Read from ``OPI_HOME/prompts/*.md`` (global), then ``.claude/commands/**/*.md`` and
``.opi/prompts/*.md`` in the current folder (project); the file name is the command. A
project file overrides a global one of the same name (and ``.opi/prompts`` wins over
``.claude/commands``). Frontmatter (optional): ``description`` (else the body's first
non-empty line) and ``argument-hint`` (pi's and Claude Code's fields; Claude Code's other
fields such as ``allowed-tools`` are read and ignored).

Arguments are split like a shell does, with quotes (``/fix "two words" b``), and fill
``$1``, ``$2``, ..., ``$@`` / ``$ARGUMENTS`` (all), ``${@:N}`` (from the Nth on) and
``${@:N:L}`` (L of them from the Nth). A template without any placeholder gets the
arguments appended after a blank line, so they are never lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

from opi_cli._util.frontmatter import FrontmatterError, parse_frontmatter
from opi_cli._util.records import record

__all__ = ["PromptTemplate", "discover_templates", "expand_template", "split_args", "substitute_args"]

Scope = Literal["global", "project"]

_PLACEHOLDER = re.compile(r"\$\{@:(\d+)(?::(\d+))?\}|\$ARGUMENTS\b|\$@|\$(\d+)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
_DESCRIPTION_CHARS = 80


@record
class PromptTemplate:
    """One template file: ``name`` is the command (lower case), ``body`` the text to expand."""

    name: str
    description: str
    argument_hint: str | None
    path: Path
    scope: Scope
    body: str
    overrides: Path | None = None  # the global file of the same name this one hides


def split_args(text: str) -> list[str]:
    """Words separated by whitespace; ``"..."`` or ``'...'`` keep spaces (an open quote runs to the end)."""
    out: list[str] = []
    word: list[str] = []
    quote: str | None = None
    in_word = False
    for ch in text:
        if quote is not None:
            if ch == quote:
                quote = None
            else:
                word.append(ch)
        elif ch in "\"'":
            quote, in_word = ch, True
        elif ch.isspace():
            if in_word:
                out.append("".join(word))
                word, in_word = [], False
        else:
            word.append(ch)
            in_word = True
    if in_word:
        out.append("".join(word))
    return out


def substitute_args(body: str, args: list[str]) -> str:
    """Fill the placeholders of ``body`` in one pass (substituted text is never re-read)."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            start = max(int(m.group(1)), 1) - 1
            if m.group(2) is not None:
                return " ".join(args[start : start + int(m.group(2))])
            return " ".join(args[start:])
        if m.group(3) is not None:
            i = int(m.group(3))
            return args[i - 1] if 1 <= i <= len(args) else ""
        return " ".join(args)

    return _PLACEHOLDER.sub(one, body)


def expand_template(template: PromptTemplate, args_text: str) -> str:
    """The prompt ``/name args_text`` stands for."""
    args = split_args(args_text)
    body = template.body.strip("\n")
    if _PLACEHOLDER.search(body) is None:
        return f"{body}\n\n{args_text.strip()}" if args_text.strip() else body
    return substitute_args(body, args)


def _files(folder: Path, recursive: bool) -> Iterator[Path]:
    try:
        if not folder.is_dir():
            return
        found = folder.rglob("*.md") if recursive else folder.glob("*.md")
        yield from sorted(p for p in found if p.is_file())
    except OSError:
        return


def _first_line(body: str) -> str:
    for line in body.splitlines():
        s = line.strip().lstrip("#").strip()
        if s:
            return s if len(s) <= _DESCRIPTION_CHARS else s[: _DESCRIPTION_CHARS - 1] + "…"
    return ""


def _load(path: Path, scope: Scope, warnings: list[str]) -> PromptTemplate | None:
    name = path.stem
    if not _NAME.match(name):
        warnings.append(f"Prompt template {path}: '{name}' cannot be a /command (use letters, digits, - _ .); skipped.")
        return None
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        doc = parse_frontmatter(text, raw_keys=("argument-hint",))
    except OSError as exc:
        warnings.append(f"Prompt template {path}: cannot read it ({exc.strerror}); skipped.")
        return None
    except FrontmatterError as exc:
        warnings.append(f"Prompt template {path}: invalid frontmatter, {exc}; skipped (fix the file).")
        return None
    description = doc.text("description") or _first_line(doc.body)
    return PromptTemplate(name.lower(), description, doc.text("argument-hint"), path, scope, doc.body)


def discover_templates(cwd: Path, home: Path) -> tuple[dict[str, PromptTemplate], list[str]]:
    """The templates by command name, and one warning per file that could not be used."""
    warnings: list[str] = []
    found: dict[str, PromptTemplate] = {}
    sources: list[tuple[Path, Scope, bool]] = [
        (home / "prompts", "global", False),
        (cwd / ".claude" / "commands", "project", True),
        (cwd / ".opi" / "prompts", "project", False),
    ]
    for folder, scope, recursive in sources:
        seen_here: dict[str, Path] = {}
        for path in _files(folder, recursive):
            t = _load(path, scope, warnings)
            if t is None:
                continue
            if t.name in seen_here:
                warnings.append(f"Prompt template {path}: /{t.name} is also {seen_here[t.name]}; the first one is used.")
                continue
            seen_here[t.name] = path
            earlier = found.get(t.name)
            if earlier is not None:
                t = replace(t, overrides=earlier.path if earlier.scope == "global" else earlier.overrides)
            found[t.name] = t
    return found, warnings
