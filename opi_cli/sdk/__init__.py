"""The library surface of the seed (PROTOCOL.md §8): composition root for Python programs.

``AgentBuilder`` + ``Config`` build an :class:`Agent` over the same loop, providers, tools
and session stores as the ``opi`` command; conversations saved here are opi sessions.
"""

from __future__ import annotations

from opi_cli.agent.function_tool import Field, FunctionTool, function_tool, tool
from opi_cli.ai.tokens import count_tokens, truncate_text_to_tokens
from opi_cli.errors import AgentError, ConfigError, OpiError, ParseError, RequestError, ToolError
from opi_cli.sdk.agent import Agent
from opi_cli.sdk.builder import AgentBuilder
from opi_cli.sdk.config import Config
from opi_cli.sdk.persistence import (
    AgentState,
    ConversationMetadata,
    JsonlStore,
    MemoryStore,
    PersistenceStore,
    PostgresStore,
    SessionPersistence,
    generate_id,
)
from opi_cli.sdk.tools import RegisteredTool, ToolDefinition, ToolRegistry

__all__ = [
    "Agent",
    "AgentBuilder",
    "AgentError",
    "AgentState",
    "Config",
    "ConfigError",
    "ConversationMetadata",
    "Field",
    "FunctionTool",
    "JsonlStore",
    "MemoryStore",
    "OpiError",
    "ParseError",
    "PersistenceStore",
    "PostgresStore",
    "RegisteredTool",
    "RequestError",
    "SessionPersistence",
    "ToolDefinition",
    "ToolError",
    "ToolRegistry",
    "count_tokens",
    "function_tool",
    "generate_id",
    "tool",
    "truncate_text_to_tokens",
]
