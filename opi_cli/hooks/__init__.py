"""Hooks configured as data: Claude Code's ``hooks`` setting (shell commands) and extensions' functions.

:func:`parse_hooks` checks the setting, :class:`HookRunner` runs it at the loop's hook
points (an :class:`~opi_cli.agent.hooks.AgentHooks` layer) and the session's (a
:class:`~opi_cli.session.session_hooks.SessionHooks` layer). The CLI and the library
build their hooks the same way.
"""

from __future__ import annotations

from opi_cli.hooks.config import HOOK_EVENTS, CommandHook, HookConfig, HookMatcher, PythonHook, parse_hooks
from opi_cli.hooks.runner import HookOutcome, HookRunner

__all__ = [
    "HOOK_EVENTS",
    "CommandHook",
    "HookConfig",
    "HookMatcher",
    "HookOutcome",
    "HookRunner",
    "PythonHook",
    "parse_hooks",
]
