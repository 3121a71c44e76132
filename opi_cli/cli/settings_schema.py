"""The JSON Schema of settings.json (``OPI_HOME/settings.json`` and a project's ``.opi/settings.json``).

One entry per top-level key in :data:`SETTINGS_PROPERTIES`: when opi starts reading a new
setting, add it here (with its documentation in README/docs), so a wrong type is an error
naming the file, the line and the key instead of being ignored. Keys not listed are allowed:
pi's settings files carry many keys opi does not use.
"""

from __future__ import annotations

from typing import Any

from opi_cli.ai.types import THINKING_LEVELS
from opi_cli.tools.trust_modes import APPROVAL_MODES, SANDBOX_MODES

__all__ = ["SETTINGS_PROPERTIES", "settings_schema"]

_QUEUE_MODE: dict[str, Any] = {"enum": ["one-at-a-time", "all"]}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_MILLISECONDS: dict[str, Any] = {"type": "number", "minimum": 0}
_HOOK_HANDLER: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "command": {"type": "string"},
                   "timeout": {"type": "number", "exclusiveMinimum": 0}},
}
_HOOK_MATCHER: dict[str, Any] = {
    "type": "object",
    "required": ["hooks"],
    "properties": {"matcher": {"type": "string"}, "hooks": {"type": "array", "items": _HOOK_HANDLER}},
}
_NAMES: dict[str, Any] = {"type": "array", "items": {"type": "string"}}

SETTINGS_PROPERTIES: dict[str, Any] = {
    "defaultProvider": {"type": "string"},
    "defaultModel": {"type": "string"},
    "defaultThinkingLevel": {"enum": list(THINKING_LEVELS)},
    "steeringMode": _QUEUE_MODE,
    "followUpMode": _QUEUE_MODE,
    "compaction": {
        "type": "object",
        "properties": {"enabled": {"type": "boolean"}, "reserveTokens": _COUNT, "keepRecentTokens": _COUNT},
    },
    "retry": {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean"},
            "maxRetries": _COUNT,
            "baseDelayMs": _COUNT,
            "maxDelayMs": _COUNT,
        },
    },
    "theme": {"type": "string"},
    "hideThinkingBlock": {"type": "boolean"},
    "enabledModels": {"type": "array", "items": {"type": "string"}},  # the models Ctrl+P cycles (cli/model_cycle.py)
    # trust (docs/trust.md); the rules themselves are parsed by cli/trust.py
    "defaultApproval": {"enum": list(APPROVAL_MODES)},
    "sandbox": {"enum": list(SANDBOX_MODES)},
    "maxCostUsd": {"type": "number", "exclusiveMinimum": 0},
    "permissions": {
        "type": "object",
        "properties": {k: {"type": "array", "items": {"type": "string"}} for k in ("allow", "ask", "deny")},
    },
    # MCP (docs/mcp.md): each server's own fields are checked when it starts, one line per server
    "mcpServers": {"type": "object", "additionalProperties": {"type": "object"}},
    "mcp": {
        "type": "object",
        "properties": {
            "startupWaitMs": _MILLISECONDS,
            "toolTimeoutMs": _MILLISECONDS,
            "connectTimeoutMs": _MILLISECONDS,
        },
    },
    "enableAllProjectMcpServers": {"type": "boolean"},  # read from OPI_HOME/settings.json only
    "enabledMcpjsonServers": {"type": "array", "items": {"type": "string"}},
    "disabledMcpjsonServers": {"type": "array", "items": {"type": "string"}},
    # docs/extending.md: Claude Code's hooks shape (events opi lacks are skipped with a warning)
    "hooks": {"type": "object", "additionalProperties": {"type": "array", "items": _HOOK_MATCHER}},
    "allowProjectCode": {"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}]},
    "http": {  # cli/http_settings.py
        "type": "object",
        "properties": {  # 0: no limit
            "connectTimeoutMs": _MILLISECONDS,
            "firstByteTimeoutMs": _MILLISECONDS,
            "idleTimeoutMs": _MILLISECONDS,
        },
    },
    "shellEnvironmentPolicy": {  # cli/shell_policy.py, after Codex's shell_environment_policy
        "type": "object",
        "properties": {
            "inherit": {"enum": ["all", "core", "none"]},
            "ignoreDefaultExcludes": {"type": "boolean"},
            "exclude": _NAMES,
            "set": {"type": "object", "additionalProperties": {"type": "string"}},
            "includeOnly": _NAMES,
            "passThrough": _NAMES,
        },
        "additionalProperties": False,
    },
}


def settings_schema() -> dict[str, Any]:
    """The whole schema (a fresh dict: callers may not change the shared one)."""
    return {"type": "object", "properties": dict(SETTINGS_PROPERTIES)}
