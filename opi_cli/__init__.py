"""opi: a terminal coding agent and agent runtime.

The library surface (``Agent``, ``AgentBuilder``, ``Config``, ``ToolRegistry``, ``tool``,
errors, stores, token utilities, Realtime client) is re-exported lazily, so
``import opi_cli`` stays cheap: nothing heavy is imported until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from opi_cli.agent.function_tool import Field, FunctionTool, function_tool, tool
    from opi_cli.ai.tokens import count_tokens, truncate_text_to_tokens
    from opi_cli.errors import (
        AgentError,
        ConfigError,
        OpiError,
        ParseError,
        PersistenceError,
        RequestError,
        SessionError,
        ToolError,
        UsageError,
    )
    from opi_cli.realtime import ClientEvent, RealtimeClient, RealtimeEvent, ServerEvent
    from opi_cli.sdk import (
        Agent,
        AgentBuilder,
        AgentState,
        Config,
        ConversationMetadata,
        JsonlStore,
        MemoryStore,
        PersistenceStore,
        PostgresStore,
        RegisteredTool,
        SessionPersistence,
        ToolDefinition,
        ToolRegistry,
        generate_id,
    )

_EXPORTS: dict[str, str] = {
    "Agent": "opi_cli.sdk",
    "AgentBuilder": "opi_cli.sdk",
    "AgentState": "opi_cli.sdk",
    "Config": "opi_cli.sdk",
    "ConversationMetadata": "opi_cli.sdk",
    "JsonlStore": "opi_cli.sdk",
    "MemoryStore": "opi_cli.sdk",
    "PersistenceStore": "opi_cli.sdk",
    "PostgresStore": "opi_cli.sdk",
    "RegisteredTool": "opi_cli.sdk",
    "SessionPersistence": "opi_cli.sdk",
    "ToolDefinition": "opi_cli.sdk",
    "ToolRegistry": "opi_cli.sdk",
    "generate_id": "opi_cli.sdk",
    "Field": "opi_cli.agent.function_tool",
    "FunctionTool": "opi_cli.agent.function_tool",
    "function_tool": "opi_cli.agent.function_tool",
    "tool": "opi_cli.agent.function_tool",
    "count_tokens": "opi_cli.ai.tokens",
    "truncate_text_to_tokens": "opi_cli.ai.tokens",
    "AgentError": "opi_cli.errors",
    "ConfigError": "opi_cli.errors",
    "OpiError": "opi_cli.errors",
    "ParseError": "opi_cli.errors",
    "PersistenceError": "opi_cli.errors",
    "RequestError": "opi_cli.errors",
    "SessionError": "opi_cli.errors",
    "ToolError": "opi_cli.errors",
    "UsageError": "opi_cli.errors",
    "ClientEvent": "opi_cli.realtime",
    "RealtimeClient": "opi_cli.realtime",
    "RealtimeEvent": "opi_cli.realtime",
    "ServerEvent": "opi_cli.realtime",
}

__all__ = [
    "Agent",
    "AgentBuilder",
    "AgentError",
    "AgentState",
    "ClientEvent",
    "Config",
    "ConfigError",
    "ConversationMetadata",
    "Field",
    "FunctionTool",
    "JsonlStore",
    "MemoryStore",
    "OpiError",
    "ParseError",
    "PersistenceError",
    "PersistenceStore",
    "PostgresStore",
    "RealtimeClient",
    "RealtimeEvent",
    "RegisteredTool",
    "RequestError",
    "ServerEvent",
    "SessionError",
    "SessionPersistence",
    "ToolDefinition",
    "ToolError",
    "ToolRegistry",
    "UsageError",
    "__version__",
    "count_tokens",
    "function_tool",
    "generate_id",
    "tool",
    "truncate_text_to_tokens",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'opi_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
