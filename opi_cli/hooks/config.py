"""The ``hooks`` setting in Claude Code's shape, checked, and the handlers it names.

::

    {"hooks": {"PreToolUse": [{"matcher": "bash|edit",
                               "hooks": [{"type": "command", "command": "./check.sh", "timeout": 30}]}]}}

Events: ``SessionStart``, ``UserPromptSubmit``, ``PreToolUse``, ``PostToolUse``, ``Stop``,
``PreCompact``. A matcher is a regular expression that must match the whole value
(case-sensitive): the tool name for tool events (opi's name, or Claude Code's name of the
same built-in tool: ``Bash`` for ``bash``, ``Glob`` for ``find``, ...), the source for
``SessionStart``, the trigger for ``PreCompact``; ``*``, ``""`` or no matcher match all.
``timeout`` is in seconds (default 60). Claude Code's other events and handler types are
skipped with a warning; a malformed entry is a :class:`~opi_cli.errors.ConfigError`
naming it. Python extensions add :class:`PythonHook` handlers to the same table.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import field

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.errors import ConfigError

__all__ = [
    "CLAUDE_TOOL_NAMES",
    "DEFAULT_TIMEOUT_S",
    "HOOK_EVENTS",
    "CommandHook",
    "Handler",
    "HookConfig",
    "HookMatcher",
    "PythonHook",
    "parse_hooks",
]

HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "PreCompact")
TOOL_EVENTS = ("PreToolUse", "PostToolUse")
DEFAULT_TIMEOUT_S = 60.0

CLAUDE_TOOL_NAMES = {
    "bash": "Bash", "read": "Read", "write": "Write", "edit": "Edit", "grep": "Grep", "find": "Glob", "ls": "LS",
}
"""opi's built-in tools by the names Claude Code gives the same tools, so that an existing
matcher such as ``Edit|Write`` keeps working."""


@record
class CommandHook:
    """A shell command; ``where`` names it in messages (``hooks.PreToolUse[0].hooks[1]``)."""

    command: str
    timeout: float = DEFAULT_TIMEOUT_S
    where: str = ""

    @property
    def label(self) -> str:
        return f"`{self.command}`"


@record
class PythonHook:
    """A Python function of an extension: it gets the event dict (the same as a command's
    stdin) and returns ``None``, a dict shaped like a command's JSON output, or a string
    (context, as a command's plain stdout). ``on_error`` is told when it raises."""

    fn: Callable[[dict[str, JsonValue]], object | Awaitable[object]]
    owner: str
    on_error: Callable[[BaseException], None] | None = None

    @property
    def label(self) -> str:
        return f"extension {self.owner}"


Handler = CommandHook | PythonHook


@record
class HookMatcher:
    """The handlers to run when ``pattern`` matches (empty pattern: always)."""

    pattern: str
    handlers: tuple[Handler, ...]
    regex: re.Pattern[str] | None = None

    def matches(self, value: str | None) -> bool:
        if self.regex is None:
            return True
        if value is None:
            return False
        alias = CLAUDE_TOOL_NAMES.get(value)
        return self.regex.fullmatch(value) is not None or (alias is not None and self.regex.fullmatch(alias) is not None)


@record(frozen=False)
class HookConfig:
    """Matchers by event, in the order they were configured; ``warnings`` for what was skipped."""

    events: dict[str, list[HookMatcher]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.events.values())

    def add(self, event: str, handler: Handler, matcher: str = "") -> None:
        """Add one handler (a Python extension's) under ``event`` and ``matcher``.

        Raises:
            ConfigError: an unknown event or an invalid matcher.
        """
        if event not in HOOK_EVENTS:
            raise ConfigError(f"unknown hook event {event!r} (use one of {', '.join(HOOK_EVENTS)})")
        self.events.setdefault(event, []).append(HookMatcher(matcher, (handler,), _compile(matcher, event)))

    def extend(self, other: HookConfig) -> None:
        for event, matchers in other.events.items():
            self.events.setdefault(event, []).extend(matchers)
        self.warnings.extend(other.warnings)

    def handlers(self, event: str, value: str | None) -> list[Handler]:
        """Every handler of ``event`` whose matcher matches ``value``, in configured order."""
        return [h for m in self.events.get(event, ()) if m.matches(value) for h in m.handlers]


def _compile(pattern: str, where: str) -> re.Pattern[str] | None:
    if pattern in ("", "*"):
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: matcher {pattern!r} is not a valid regular expression ({exc}).") from exc


def _command(raw: JsonValue, where: str, warnings: list[str]) -> CommandHook | None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object like {{\"type\": \"command\", \"command\": \"...\"}}.")
    kind = raw.get("type", "command")
    if kind != "command":
        warnings.append(f"{where}: hook type {kind!r} is not supported by opi (only \"command\"); skipped.")
        return None
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{where}: 'command' must be a non-empty string.")
    timeout = raw.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: 'timeout' must be a positive number of seconds, got {timeout!r}.")
    return CommandHook(command, float(timeout), where)


def parse_hooks(value: JsonValue, source: str) -> HookConfig:
    """Check a ``hooks`` setting read from ``source`` (a file name, for messages).

    Raises:
        ConfigError: the setting is not in Claude Code's shape (the message names the entry).
    """
    config = HookConfig()
    if value is None:
        return config
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: 'hooks' must be an object of event names, e.g. {{\"PreToolUse\": [...]}}.")
    for event, entries in value.items():
        where = f"{source}: hooks.{event}"
        if event not in HOOK_EVENTS:
            config.warnings.append(f"{where}: opi has no {event!r} event (it has {', '.join(HOOK_EVENTS)}); skipped.")
            continue
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: expected a list of {{\"matcher\": ..., \"hooks\": [...]}} objects.")
        for i, entry in enumerate(entries):
            here = f"{where}[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("hooks"), list):
                raise ConfigError(f"{here}: expected {{\"matcher\": \"...\", \"hooks\": [{{\"type\": \"command\", ...}}]}}.")
            pattern = entry.get("matcher", "")
            if not isinstance(pattern, str):
                raise ConfigError(f"{here}: 'matcher' must be a string (a tool name or a regular expression).")
            regex = _compile(pattern, here)
            handlers = [_command(h, f"{here}.hooks[{j}]", config.warnings) for j, h in enumerate(entry["hooks"])]
            kept = tuple(h for h in handlers if h is not None)
            if kept:
                config.events.setdefault(event, []).append(HookMatcher(pattern, kept, regex))
    return config
