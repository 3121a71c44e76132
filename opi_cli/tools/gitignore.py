"""A small ``.gitignore`` matcher: globs, ``**``, negation, directory-only and anchored patterns.

Rules from several files stack: each :class:`Rule` belongs to the folder of its file and
the last rule that matches a path decides, so deeper files override shallower ones.
"""

from __future__ import annotations

import re

from opi_cli._util.records import record

__all__ = ["IgnoreRules", "Rule", "glob_to_regex", "parse_gitignore"]


def _char_class(pat: str, i: int) -> tuple[str, int] | None:
    """Translate ``[...]`` starting at ``pat[i] == '['``; ``None`` if it is not closed."""
    j = i + 1
    negate = j < len(pat) and pat[j] in "!^"
    if negate:
        j += 1
    if j < len(pat) and pat[j] == "]":
        j += 1
    while j < len(pat) and pat[j] != "]":
        j += 1
    if j >= len(pat):
        return None
    body = pat[i + 1 + (1 if negate else 0) : j].replace("\\", "\\\\")
    if body.startswith("^"):
        body = "\\" + body
    return ("[^/" if negate else "[") + body + "]", j + 1


def glob_to_regex(pat: str) -> str:
    """A regex (for ``fullmatch``) of a git-style glob over ``/``-separated paths."""
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if (
                pat.startswith("**", i)
                and (i == 0 or pat[i - 1] == "/")
                and (i + 2 == n or pat[i + 2] == "/")
            ):
                if i + 2 == n:
                    out.append(".*")
                    i += 2
                else:
                    out.append("(?:.*/)?")
                    i += 3
                continue
            while i < n and pat[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            cls = _char_class(pat, i)
            if cls is not None:
                out.append(cls[0])
                i = cls[1]
                continue
            out.append(re.escape(c))
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pat[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@record
class Rule:
    """One pattern of a file in folder ``base`` (a ``/``-path below the search root, ``""`` for
    the root); ``above`` is the root's path seen from a file that lies above the root."""

    base: str
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    anchored: bool
    above: str = ""

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether this rule matches ``path`` (``/``-separated, relative to the search root)."""
        if self.dir_only and not is_dir:
            return False
        if self.above:
            path = f"{self.above}/{path}"
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        if self.anchored:
            return self.regex.fullmatch(path) is not None
        return self.regex.fullmatch(path.rsplit("/", 1)[-1]) is not None


def _strip_trailing_spaces(line: str) -> str:
    end = len(line)
    while end > 0 and line[end - 1] == " " and not (end > 1 and line[end - 2] == "\\"):
        end -= 1
    return line[:end]


def parse_gitignore(text: str, base: str = "", above: str = "") -> list[Rule]:
    """The rules of one ``.gitignore`` file that lives in folder ``base`` (see :class:`Rule`)."""
    rules: list[Rule] = []
    for raw in text.splitlines():
        line = _strip_trailing_spaces(raw)
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate or line.startswith(("\\!", "\\#")):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        try:
            regex = re.compile(glob_to_regex(line), re.DOTALL)
        except re.error:
            continue
        rules.append(Rule(base, regex, negate, dir_only, anchored, above))
    return rules


@record
class IgnoreRules:
    """An immutable stack of rules; :meth:`extended` adds a deeper file's rules."""

    rules: tuple[Rule, ...] = ()

    def extended(self, more: list[Rule]) -> IgnoreRules:
        return IgnoreRules(self.rules + tuple(more)) if more else self

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` (relative to the search root) is ignored: the last match decides."""
        for rule in reversed(self.rules):
            if rule.matches(path, is_dir):
                return not rule.negate
        return False
