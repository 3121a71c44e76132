"""opi: a terminal coding agent and agent runtime.

The library surface (``Agent``, ``AgentBuilder``, ``Config``, ``ToolRegistry``, ``tool``,
``create_coding_tools``, the hooks, errors, stores, token utilities, Realtime client) is
re-exported lazily, so
``import opi_cli`` stays cheap: nothing heavy is imported until a name is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opi_cli._util.lazy import lazy_exports

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
        AfterToolCallResult,
        Agent,
        AgentBuilder,
        AgentHooks,
        AgentState,
        BeforeToolCallResult,
        CompactionOutcome,
        Config,
        ConversationMetadata,
        JsonlStore,
        MemoryStore,
        PersistenceStore,
        PostgresStore,
        PrepareNextTurnUpdate,
        RegisteredTool,
        Summarizer,
        SummaryRequest,
        ToolCallContext,
        ToolDefinition,
        ToolRegistry,
        ToolResult,
        TurnContext,
        compose_hooks,
        create_coding_tools,
        generate_id,
    )

_EXPORTS: dict[str, str] = {
    "AfterToolCallResult": "opi_cli.sdk",
    "Agent": "opi_cli.sdk",
    "AgentBuilder": "opi_cli.sdk",
    "AgentHooks": "opi_cli.sdk",
    "AgentState": "opi_cli.sdk",
    "BeforeToolCallResult": "opi_cli.sdk",
    "CompactionOutcome": "opi_cli.sdk",
    "Config": "opi_cli.sdk",
    "ConversationMetadata": "opi_cli.sdk",
    "JsonlStore": "opi_cli.sdk",
    "MemoryStore": "opi_cli.sdk",
    "PersistenceStore": "opi_cli.sdk",
    "PostgresStore": "opi_cli.sdk",
    "PrepareNextTurnUpdate": "opi_cli.sdk",
    "RegisteredTool": "opi_cli.sdk",
    "Summarizer": "opi_cli.sdk",
    "SummaryRequest": "opi_cli.sdk",
    "ToolCallContext": "opi_cli.sdk",
    "ToolDefinition": "opi_cli.sdk",
    "ToolRegistry": "opi_cli.sdk",
    "ToolResult": "opi_cli.sdk",
    "TurnContext": "opi_cli.sdk",
    "compose_hooks": "opi_cli.sdk",
    "create_coding_tools": "opi_cli.sdk",
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
    "AfterToolCallResult",
    "Agent",
    "AgentBuilder",
    "AgentError",
    "AgentHooks",
    "AgentState",
    "BeforeToolCallResult",
    "ClientEvent",
    "CompactionOutcome",
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
    "PrepareNextTurnUpdate",
    "RealtimeClient",
    "RealtimeEvent",
    "RegisteredTool",
    "RequestError",
    "ServerEvent",
    "SessionError",
    "Summarizer",
    "SummaryRequest",
    "ToolCallContext",
    "ToolDefinition",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "TurnContext",
    "UsageError",
    "__version__",
    "compose_hooks",
    "count_tokens",
    "create_coding_tools",
    "function_tool",
    "generate_id",
    "tool",
    "truncate_text_to_tokens",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
