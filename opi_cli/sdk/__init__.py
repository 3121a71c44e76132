"""The library surface of the seed (PROTOCOL.md §8): composition root for Python programs.

``AgentBuilder`` + ``Config`` build an :class:`Agent` that runs the same ``AgentSession`` as
the ``opi`` command (one factory: :func:`~opi_cli.session.factory.create_agent_session`);
conversations saved here are opi sessions, in the same stores.
"""

from __future__ import annotations

from opi_cli.agent.function_tool import Field, FunctionTool, function_tool, tool
from opi_cli.agent.hooks import (
    AfterToolCallResult,
    AgentHooks,
    BeforeToolCallResult,
    PrepareNextTurnUpdate,
    ToolCallContext,
    TurnContext,
    compose_hooks,
)
from opi_cli.agent.tool import ToolResult
from opi_cli.ai.tokens import count_tokens, truncate_text_to_tokens
from opi_cli.errors import AgentError, ConfigError, OpiError, ParseError, RequestError, ToolError
from opi_cli.sdk.agent import Agent
from opi_cli.sdk.builder import AgentBuilder
from opi_cli.sdk.config import Config
from opi_cli.sdk.tools import RegisteredTool, ToolDefinition, ToolRegistry, create_coding_tools
from opi_cli.session.compaction import CompactionOutcome, Summarizer, SummaryRequest
from opi_cli.session.conversations import (
    AgentState,
    ConversationMetadata,
    PersistenceStore,
    generate_id,
)
from opi_cli.session.stores import JsonlStore, MemoryStore
from opi_cli.session.stores.postgres import PostgresStore

__all__ = [
    "AfterToolCallResult",
    "Agent",
    "AgentBuilder",
    "AgentError",
    "AgentHooks",
    "AgentState",
    "BeforeToolCallResult",
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
    "PersistenceStore",
    "PostgresStore",
    "PrepareNextTurnUpdate",
    "RegisteredTool",
    "RequestError",
    "Summarizer",
    "SummaryRequest",
    "ToolCallContext",
    "ToolDefinition",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "TurnContext",
    "compose_hooks",
    "count_tokens",
    "create_coding_tools",
    "function_tool",
    "generate_id",
    "tool",
    "truncate_text_to_tokens",
]
