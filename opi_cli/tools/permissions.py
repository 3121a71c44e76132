"""The permission policy: from an approval mode and allow/ask/deny rules to a verdict per tool call.

Order (Claude Code's): a matching ``deny`` rule refuses the call in every mode; then a
matching ``ask`` rule asks, even in ``yolo``; then the mode decides, where an ``allow``
rule can lift an ask:

- ``yolo``: everything runs (opi's behaviour before approval modes existed).
- ``auto``: ``read``/``grep``/``find``/``ls`` and ``edit``/``write`` run without asking
  inside the working folder; ``bash``, anything outside the folder and every other tool
  ask unless allow rules cover them. A bash line runs only when every simple command of
  it is allowed (a few builtins that change nothing, such as ``cd`` and ``echo``, need no
  rule), it redirects output only into the working or temp folder, and nothing in it is
  opaque (``$(…)``, a subshell, ``eval``, ...): otherwise it asks.
- ``read-only``: only ``read``/``grep``/``find``/``ls``; reads outside the working folder
  ask unless allowed; every other tool is refused.

Paths are judged as written and with symlinks resolved; a deny or ask rule matching
either form counts, an allow (or "inside the folder") needs both.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Literal

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.tools.bash_parse import ParsedBash, SimpleCommand, parse_bash
from opi_cli.tools.paths import resolve_path
from opi_cli.tools.permission_rules import (
    PATH_TOOLS,
    Rule,
    bash_spec_matches,
    parse_rule,
    path_spec_matches,
    rule_applies,
)
from opi_cli.tools.trust_modes import APPROVAL_MODES, ApprovalMode

__all__ = [
    "APPROVAL_MODES",
    "ApprovalMode",
    "Decision",
    "PermissionPolicy",
    "PermissionRules",
    "Verdict",
]

Verdict = Literal["allow", "ask", "deny"]

READ_TOOLS = frozenset({"read", "grep", "find", "ls"})
EDIT_TOOLS = frozenset({"edit", "write"})
_NO_RULE_NEEDED = frozenset({"cd", "pwd", "true", "false", ":", "echo", "printf", "test", "[", "[["})


@record
class PermissionRules:
    """The rules of every source, in the order they were read."""

    allow: tuple[Rule, ...] = ()
    ask: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()


@record
class Decision:
    """A verdict, why, the rule that decided it (if one did), and the rules that would
    allow this kind of call from now on (offered by "allow for this session")."""

    verdict: Verdict
    reason: str
    rule: Rule | None = None
    suggestions: tuple[str, ...] = ()


@record(frozen=False)
class _Call:
    tool: str
    paths: list[str] = field(default_factory=list)  # the call's path, as written and resolved
    bash: ParsedBash | None = None
    writes: list[list[str]] = field(default_factory=list)  # redirect targets, both forms


def _quote_path(path: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


class PermissionPolicy:
    """Decides each call from ``mode`` and ``rules``; ``remember`` adds session rules.

    Args:
        mode: the approval mode.
        rules: allow/ask/deny rules from the settings.
        cwd: the working folder (``auto`` lets edits inside it run).
        home: the folder ``~`` means.
        temp_dirs: folders output redirections may also write to without asking.
        readable: folders the read tools may read without asking, outside the working
            folder too (the discovered skills' folders: the model reads a skill's files).
    """

    def __init__(
        self,
        mode: ApprovalMode,
        rules: PermissionRules,
        *,
        cwd: str,
        home: str,
        temp_dirs: Iterable[str] = (),
        readable: Iterable[str] = (),
    ) -> None:
        self.mode: ApprovalMode = mode
        self.rules = rules
        self.session_allow: list[Rule] = []
        self.cwd = os.path.normpath(cwd)
        self.home = home
        self._roots = [(self.cwd, os.path.realpath(self.cwd))]
        self._temp = [(os.path.normpath(t), os.path.realpath(t)) for t in temp_dirs]
        self._readable = [(os.path.normpath(r), os.path.realpath(r)) for r in readable]

    # -- rules ----------------------------------------------------------------------------
    def remember(self, texts: Iterable[str]) -> None:
        """Allow calls matching these rules for the rest of this process."""
        for text in texts:
            self.session_allow.append(parse_rule(text, source="this session", base=self.cwd))

    @property
    def has_bash_restrictions(self) -> bool:
        return any(r.tool == "bash" for r in (*self.rules.deny, *self.rules.ask))

    def _first(self, rules: Iterable[Rule], call: _Call, *, strict: bool) -> Rule | None:
        """The first rule covering the call; ``strict`` (allow) needs every form of
        every part covered, otherwise (deny, ask) any part in any form is enough."""
        for rule in rules:
            if self._covers(rule, call, strict=strict):
                return rule
        return None

    def _covers(self, rule: Rule, call: _Call, *, strict: bool) -> bool:
        if not rule_applies(rule, call.tool):
            if not strict and rule.tool in ("edit", "write") and call.writes:
                return any(self._path_rule(rule, forms, strict=False) for forms in call.writes)
            return False
        if rule.spec is None:
            return True
        if call.bash is not None and rule.tool == "bash":
            cmds = call.bash.commands if strict else call.bash.commands + call.bash.inner
            test = (all if strict else any)
            return bool(cmds) and test(bash_spec_matches(rule.spec, c) for c in cmds)
        if rule.tool in PATH_TOOLS and call.paths:
            return self._path_rule(rule, call.paths, strict=strict)
        return False

    def _path_rule(self, rule: Rule, forms: list[str], *, strict: bool) -> bool:
        assert rule.spec is not None
        hits = [path_spec_matches(rule.spec, p, cwd=self.cwd, home=self.home, base=rule.base) for p in forms]
        return all(hits) if strict else any(hits)

    # -- the call -------------------------------------------------------------------------
    def _path_forms(self, raw: str) -> list[str]:
        lexical = resolve_path(raw, self.cwd, self.home)
        real = os.path.realpath(lexical)
        return [lexical] if real == lexical else [lexical, real]

    def _describe(self, tool: str, args: Mapping[str, JsonValue]) -> _Call:
        call = _Call(tool)
        if tool == "bash":
            command = args.get("command")
            call.bash = parse_bash(command if isinstance(command, str) else "")
            for cmd in call.bash.commands:
                for target in cmd.writes:
                    call.writes.append(self._path_forms(target))
        elif tool in READ_TOOLS or tool in EDIT_TOOLS:
            raw = args.get("path")
            call.paths = self._path_forms(raw if isinstance(raw, str) and raw else ".")
        return call

    def _inside(self, forms: list[str], roots: list[tuple[str, str]]) -> bool:
        def under(p: str, root: str) -> bool:
            return p == root or p.startswith(root.rstrip("/") + "/")

        lexical, real = forms[0], forms[-1]
        return any(under(lexical, a) and under(real, b) for a, b in roots)

    # -- deciding -------------------------------------------------------------------------
    def decide(self, tool: str, args: Mapping[str, JsonValue]) -> Decision:
        """The verdict for one call of ``tool`` with (validated) ``args``."""
        call = self._describe(tool, args)
        rule = self._first(self.rules.deny, call, strict=False)
        if rule is not None:
            return Decision("deny", f"denied by the rule {rule} ({rule.source})", rule)
        rule = self._first(self.rules.ask, call, strict=False)
        if rule is not None:
            return Decision("ask", f"the rule {rule} ({rule.source}) asks first", rule, self._suggest(call))
        allowed = self._first((*self.rules.allow, *self.session_allow), call, strict=True)
        if self.mode == "yolo":
            if call.bash is not None and call.bash.opaque and self.has_bash_restrictions:
                why = ", ".join(call.bash.opaque)
                return Decision("ask", f"the command cannot be checked against the Bash rules ({why})")
            return Decision("allow", "yolo mode")
        if self.mode == "read-only":
            if tool not in READ_TOOLS:
                return Decision("deny", f"read-only mode: only read, grep, find and ls run ({tool} is refused)")
            if self._inside(call.paths, self._roots):
                return Decision("allow", "a read inside the working folder")
            if self._inside(call.paths, self._readable):
                return Decision("allow", "a read of a skill's files")
            if allowed is not None:
                return Decision("allow", f"allowed by the rule {allowed} ({allowed.source})", allowed)
            return Decision("ask", "a read outside the working folder", None, self._suggest(call))
        return self._decide_auto(call, allowed)

    def _decide_auto(self, call: _Call, allowed: Rule | None) -> Decision:
        if call.bash is not None:
            return self._decide_bash(call)
        if allowed is not None:
            return Decision("allow", f"allowed by the rule {allowed} ({allowed.source})", allowed)
        if call.tool in READ_TOOLS or call.tool in EDIT_TOOLS:
            if self._inside(call.paths, self._roots):
                return Decision("allow", "inside the working folder")
            if call.tool in READ_TOOLS and self._inside(call.paths, self._readable):
                return Decision("allow", "a read of a skill's files")
            return Decision("ask", f"{call.tool} outside the working folder", None, self._suggest(call))
        return Decision("ask", f"{call.tool} asks in auto mode", None, self._suggest(call))

    def _decide_bash(self, call: _Call) -> Decision:
        assert call.bash is not None
        parsed = call.bash
        if parsed.opaque:
            return Decision("ask", f"the command contains {', '.join(parsed.opaque)}")
        rules = (*self.rules.allow, *self.session_allow)
        bare = next((r for r in rules if r.tool == "bash" and r.spec is None), None)
        if bare is not None:
            return Decision("allow", f"allowed by the rule {bare} ({bare.source})", bare)
        outside = self._writes_outside(call)
        if outside:
            return Decision("ask", f"the command writes outside the working folder ({', '.join(outside)})",
                            None, self._suggest(call))
        missing = [c for c in parsed.commands if not self._command_allowed(c, rules)]
        if not missing:
            return Decision("allow", "every command is allowed by a rule")
        shown = "; ".join(c.text for c in missing)
        return Decision("ask", f"no rule allows: {shown}", None, self._suggest(call))

    def _writes_outside(self, call: _Call) -> list[str]:
        return [f[0] for f in call.writes if not self._inside(f, self._roots + self._temp)]

    @staticmethod
    def _command_allowed(cmd: SimpleCommand, rules: Iterable[Rule]) -> bool:
        if cmd.words and cmd.words[0] in _NO_RULE_NEEDED:
            return True
        return any(r.tool == "bash" and r.spec is not None and bash_spec_matches(r.spec, cmd) for r in rules)

    def _suggest(self, call: _Call) -> tuple[str, ...]:
        if call.bash is not None:
            if call.bash.opaque or self._writes_outside(call):
                return ()  # no rule would let such a line run: only "allow once" is offered
            rules = (*self.rules.allow, *self.session_allow)
            texts = [
                "Bash(" + shlex.join(c.words) + ")"
                for c in call.bash.commands
                if c.words and not self._command_allowed(c, rules)
            ]
            return tuple(dict.fromkeys(texts))
        if call.paths:
            name = {"edit": "Edit", "write": "Write"}.get(call.tool, "Read")
            return (f"{name}(/{_quote_path(call.paths[0])})",)
        return (call.tool,)
