"""Permission rules in Claude Code's shape (``Tool`` or ``Tool(specifier)``) and how one matches.

- ``Bash(git status)`` matches that exact command (words compared after quote removal);
  ``Bash(npm run test:*)`` matches commands starting with those words; a ``*`` elsewhere
  matches any text (``Bash(git * --dry-run)``). A rule is judged against one simple
  command: :mod:`~opi_cli.tools.bash_parse` splits a line into them.
- ``Read(…)``, ``Edit(…)``, ``Write(…)`` take gitignore-style paths: ``//p`` absolute,
  ``~/p`` under home, ``/p`` absolute *or* under the project folder (Claude Code reads it
  as relative to the settings file; both are matched, so a deny rule never misses),
  ``./p`` or ``p/q`` under the working folder, and a bare name (``.env``, ``*.pem``) at
  any depth below it. ``*`` stays within a path segment, ``**`` spans segments, and a
  pattern that matches a folder covers everything inside it.
- ``Edit`` covers ``edit`` and ``write``; ``Read`` covers ``read`` and (by their ``path``)
  ``grep``, ``find`` and ``ls``; ``Glob`` is ``find``; other names match the tool of that
  name, case-insensitively; ``mcp__server`` covers every tool of a server and
  ``mcp__server__tool`` one tool.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from opi_cli._util.records import record
from opi_cli.tools.bash_parse import SimpleCommand, split_words

__all__ = ["PATH_TOOLS", "Rule", "bash_spec_matches", "parse_rule", "path_spec_matches", "rule_applies"]

_COVERS: dict[str, tuple[str, ...]] = {
    "bash": ("bash",),
    "read": ("read", "grep", "find", "ls"),
    "edit": ("edit", "write"),
    "multiedit": ("edit",),
    "write": ("write",),
    "grep": ("grep",),
    "glob": ("find",),
    "find": ("find",),
    "ls": ("ls",),
}
PATH_TOOLS = frozenset({"read", "edit", "multiedit", "write", "grep", "glob", "find", "ls"})
_RULE = re.compile(r"\A([A-Za-z_][\w\-.]*)(?:\((.*)\))?\Z", re.DOTALL)


@record
class Rule:
    """One parsed rule.

    Attributes:
        text: the rule as written.
        tool: the tool part, lowercased (``mcp__…`` names keep their case).
        spec: the part in parentheses, or None for every use of the tool.
        source: where the rule came from (a settings file, ``session``), for messages.
        base: the project folder ``/p`` patterns are also read against.
    """

    text: str
    tool: str
    spec: str | None = None
    source: str = ""
    base: str | None = None

    def __str__(self) -> str:
        return self.text


def parse_rule(text: str, *, source: str = "", base: str | None = None) -> Rule:
    """Parse ``Tool`` or ``Tool(specifier)``.

    Raises:
        ValueError: the text is not a rule (the message says what shape is expected).
    """
    stripped = text.strip()
    m = _RULE.match(stripped)
    if m is None:
        raise ValueError(
            f"'{text}' is not a permission rule: write a tool name, or Tool(specifier) "
            "such as Bash(npm run test:*), Edit(src/**) or Read(~/.ssh/**)"
        )
    name, spec = m.group(1), m.group(2)
    tool = name if name.startswith("mcp__") else name.lower()
    if spec is not None:
        spec = spec.strip()
        if not spec or spec in ("*", "**"):
            spec = None  # Bash() / Bash(*): every use
    if spec is not None and tool == "bash" and spec.endswith(":*") and ":*" in spec[:-2]:
        raise ValueError(f"'{text}': ':*' may only end a Bash rule (use * for a wildcard elsewhere)")
    return Rule(stripped, tool, spec, source, base)


def rule_applies(rule: Rule, tool_name: str) -> bool:
    """Whether ``rule`` is about ``tool_name`` at all (its specifier aside)."""
    if rule.tool.startswith("mcp__"):
        if "*" in rule.tool:
            return re.fullmatch(re.escape(rule.tool).replace(r"\*", ".*"), tool_name) is not None
        return tool_name == rule.tool or tool_name.startswith(rule.tool + "__")
    return tool_name.lower() in _COVERS.get(rule.tool, (rule.tool,))


# -- bash ----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _spec_words(spec: str) -> tuple[str, ...] | None:
    return split_words(spec)


@lru_cache(maxsize=512)
def _wildcard(spec: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in spec.split("*")), re.DOTALL)


def bash_spec_matches(spec: str, command: SimpleCommand) -> bool:
    """Whether a ``Bash(spec)`` rule covers one simple command."""
    if spec.endswith(":*"):
        words = _spec_words(spec[:-2].rstrip())
        return words is not None and command.words[: len(words)] == words
    if "*" in spec:
        return _wildcard(" ".join(spec.split())).fullmatch(command.text) is not None
    words = _spec_words(spec)
    return words is not None and words == command.words


# -- paths ---------------------------------------------------------------------------------


def _anchored(pattern: str, cwd: str, home: str, base: str | None) -> list[str]:
    p = pattern.rstrip("/") or "/"
    if p.startswith("//"):
        return [p[1:]]
    if p == "~" or p.startswith("~/"):
        return [home.rstrip("/") + p[1:]]
    if p.startswith("/"):
        roots = [p]
        if base:
            roots.append(base.rstrip("/") + p)
        return roots
    if p.startswith("./"):
        p = p[2:]
    elif "/" not in p:
        return [cwd.rstrip("/") + "/**/" + p]
    return [cwd.rstrip("/") + "/" + p]


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("/**/", i):
            out.append("(?:/.*)?/")
            i += 4
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _ancestors(path: str) -> list[str]:
    out = [path]
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return out
        out.append(parent)
        path = parent


def path_spec_matches(spec: str, path: str, *, cwd: str, home: str, base: str | None = None) -> bool:
    """Whether the path pattern ``spec`` covers the absolute, normalised ``path``."""
    candidates = _ancestors(path)
    for root in _anchored(spec, cwd, home, base):
        regex = _glob_regex(os.path.normpath(root) if "**" not in root else root)
        if any(regex.fullmatch(c) for c in candidates):
            return True
    return False
