"""The OpenAI Realtime API over WebSocket: typed events and a client that runs the agent's tools.

``websockets`` is imported on the first connection, not with this package.
"""

from __future__ import annotations

from opi_cli.realtime.client import (
    DEFAULT_REALTIME_URL,
    Handler,
    RealtimeClient,
    RealtimeOptions,
    realtime_url,
)
from opi_cli.realtime.events import (
    ClientEvent,
    ConversationItemEvent,
    ErrorEvent,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    OutputItemEvent,
    RateLimitsUpdated,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    ServerEvent,
    SessionEvent,
    TextDelta,
    TextDone,
    ToolCallExecuted,
    parse_server_event,
)

__all__ = [
    "DEFAULT_REALTIME_URL",
    "ClientEvent",
    "ConversationItemEvent",
    "ErrorEvent",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "Handler",
    "OutputItemEvent",
    "RateLimitsUpdated",
    "RealtimeClient",
    "RealtimeEvent",
    "RealtimeOptions",
    "ResponseCreated",
    "ResponseDone",
    "ServerEvent",
    "SessionEvent",
    "TextDelta",
    "TextDone",
    "ToolCallExecuted",
    "parse_server_event",
    "realtime_url",
]
