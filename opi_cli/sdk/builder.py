"""The seed's ``AgentBuilder``: collect config, system prompt, tools, store and Realtime, then ``build()``.

Every ``with_*`` returns the builder (fluent, like the seed); ``build()`` checks everything
and raises :class:`~opi_cli.errors.ConfigError` for what is wrong. The builder is the one
place of the library that reads the environment, and only the mapping it is given
(``AgentBuilder(env=...)``, ``os.environ`` by default): ``OPENAI_API_KEY`` (and the other
providers' key variables) when the config has no key, and ``OPENAI_BASE_URL`` (and the
like) when it has no base URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from opi_cli.agent.agent import Agent as LoopAgent
from opi_cli.agent.agent import AgentOptions
from opi_cli.agent.loop import RetrySettings
from opi_cli.agent.tool import Tool
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.provider import Provider
from opi_cli.ai.stream import ApiProvider
from opi_cli.errors import ConfigError
from opi_cli.realtime.client import DEFAULT_REALTIME_URL
from opi_cli.sdk.agent import Agent, ErrorRecordingProvider, RealtimeSettings
from opi_cli.sdk.config import Config, resolve_endpoint
from opi_cli.sdk.persistence import PersistenceStore
from opi_cli.sdk.tools import ToolLike, ToolRegistry

__all__ = ["AgentBuilder"]


class AgentBuilder:
    """Builds a library :class:`~opi_cli.sdk.agent.Agent`::

        agent = (
            AgentBuilder()
            .with_config(Config().with_api_key(key).with_model("gpt-4o"))
            .with_system_prompt("You are a helpful assistant.")
            .build()
        )

    Args:
        env: where a missing API key or base URL is looked up (default ``os.environ``);
            pass ``{}`` to use only what the config says.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._config = Config()
        self._system_prompt = ""
        self._tools = ToolRegistry()
        self._store: PersistenceStore | None = None
        self._websocket: tuple[str | None, int] | None = None
        self._max_turns: int | None = None
        self._registry: ModelRegistry | None = None
        self._provider: Provider | None = None
        self._retry = RetrySettings()

    def with_config(self, config: Config) -> AgentBuilder:
        if not isinstance(config, Config):
            raise ConfigError(f"with_config takes a Config, not {type(config).__name__}")
        self._config = config
        return self

    def with_system_prompt(self, prompt: str) -> AgentBuilder:
        self._system_prompt = prompt
        return self

    def with_tools(self, tools: ToolRegistry | Iterable[ToolLike]) -> AgentBuilder:
        """A registry, or tools to register (RegisteredTool objects, ``@tool`` functions, functions)."""
        self._tools = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
        return self

    def with_tool(self, tool: ToolLike) -> AgentBuilder:
        """Add one tool to the registry."""
        self._tools.register(tool)
        return self

    def with_persistence(self, store: PersistenceStore) -> AgentBuilder:
        """Where ``run_with_id`` and ``save/load/list/delete_conversation`` keep conversations."""
        self._store = store
        return self

    def with_websocket(self, url: str | None = None, *, reconnect_attempts: int = 1) -> AgentBuilder:
        """Enable the Realtime client (``url``: default ``wss://api.openai.com/v1/realtime``)."""
        self._websocket = (url, reconnect_attempts)
        return self

    def with_max_turns(self, max_turns: int | None) -> AgentBuilder:
        """Stop a run after this many model calls (a runaway tool loop ends with AgentError)."""
        self._max_turns = max_turns
        return self

    def with_model_registry(self, registry: ModelRegistry) -> AgentBuilder:
        """Look models up here instead of the built-in catalogue (e.g. ``ModelRegistry.load(models_json)``)."""
        self._registry = registry
        return self

    def with_provider(self, provider: Provider) -> AgentBuilder:
        """Stream from this provider instead of the wire adapters (a scripted fake in tests)."""
        self._provider = provider
        return self

    def with_retry(
        self, *, max_retries: int = 3, base_delay_ms: int = 2000, enabled: bool = True
    ) -> AgentBuilder:
        """Retries of rate limits, overloads, 5xx and dropped connections (the loop's one retry layer)."""
        self._retry = RetrySettings(enabled, max_retries, base_delay_ms)
        return self

    def _check(self) -> None:
        mt = self._max_turns
        if mt is not None and (isinstance(mt, bool) or not isinstance(mt, int) or mt < 1):
            raise ConfigError(f"max_turns must be a positive integer, got {mt!r}")
        if not isinstance(self._system_prompt, str):
            raise ConfigError("the system prompt must be a string")
        if self._websocket is not None:
            url, attempts = self._websocket
            if url is not None and not url.startswith(("ws://", "wss://")):
                raise ConfigError(f"the Realtime URL must start with ws:// or wss://, got {url!r}")
            if attempts < 0:
                raise ConfigError("reconnect_attempts must not be negative")
        if self._retry.max_retries < 0 or self._retry.base_delay_ms < 0:
            raise ConfigError("retry settings must not be negative")

    def build(self) -> Agent:
        """The agent.

        Raises:
            ConfigError: no model, an unknown model without a base URL, a missing API key,
                temperature outside 0..2, non-positive max tokens/timeout/max turns, bad URLs.
        """
        self._check()
        registry = self._registry or ModelRegistry.builtin()
        endpoint = resolve_endpoint(self._config, registry, self._env)
        recorder = ErrorRecordingProvider(self._provider or ApiProvider())
        tools: list[Tool] = self._tools.tools()
        loop = LoopAgent(
            AgentOptions(
                model=endpoint.model,
                provider=recorder,
                system_prompt=self._system_prompt,
                tools=tools,
                retry=self._retry,
                max_turns=self._max_turns,
                stream_options=endpoint.stream_options,
            )
        )
        realtime = None
        if self._websocket is not None:
            url, attempts = self._websocket
            key = self._config.api_key or self._env.get("OPENAI_API_KEY") or endpoint.api_key
            realtime = RealtimeSettings(url or DEFAULT_REALTIME_URL, key, attempts)
        return Agent(loop, recorder, store=self._store, realtime=realtime)

    def __repr__(self) -> str:
        extra: dict[str, Any] = {"config": self._config, "tools": self._tools.names()}
        return f"AgentBuilder({extra})"
