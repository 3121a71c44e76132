"""The Realtime part of the library agent: what ``with_websocket()`` configured, and the client made from it."""

from __future__ import annotations

from opi_cli._util.records import record
from opi_cli.agent.agent import AgentOptions
from opi_cli.errors import ConfigError
from opi_cli.realtime.client import Handler, RealtimeClient, RealtimeOptions

__all__ = ["Handler", "RealtimeSettings", "realtime_client"]


@record
class RealtimeSettings:
    """What ``with_websocket()`` configured: endpoint, key and reconnects."""

    url: str
    api_key: str | None
    reconnect_attempts: int = 1


def realtime_client(settings: RealtimeSettings | None, options: AgentOptions) -> RealtimeClient:
    """A Realtime client declaring the agent's system prompt and tools.

    Raises:
        ConfigError: the agent was built without ``with_websocket()``.
    """
    if settings is None:
        raise ConfigError("Realtime is not enabled: build the agent with .with_websocket()")
    return RealtimeClient(
        RealtimeOptions(
            url=settings.url,
            api_key=settings.api_key,
            instructions=options.system_prompt,
            tools=tuple(options.tools),
            reconnect_attempts=settings.reconnect_attempts,
        )
    )
