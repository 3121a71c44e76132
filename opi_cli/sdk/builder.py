"""The seed's ``AgentBuilder``: collect config, system prompt, tools, hooks, store, compaction, Realtime and MCP servers, then ``build()``.

Every ``with_*`` returns the builder (fluent, like the seed); ``build()`` checks everything
and raises :class:`~opi_cli.errors.ConfigError` for what is wrong. The builder is the one
place of the library that reads the environment, and only the mapping it is given
(``AgentBuilder(env=...)``, ``os.environ`` by default): ``OPENAI_API_KEY`` (and the other
providers' key variables) when the config has no key, and ``OPENAI_BASE_URL`` (and the
like) when it has no base URL.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import AgentOptions, LoopAgent
from opi_cli.agent.hooks import (
    AfterToolCallResult,
    AgentHooks,
    BeforeToolCallResult,
    PrepareNextTurnUpdate,
    ToolCallContext,
    TurnContext,
    compose_hooks,
)
from opi_cli.agent.loop import RetrySettings
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import Tool, ToolResult
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.provider import Provider
from opi_cli.ai.stream import ApiProvider
from opi_cli.ai.types import Message
from opi_cli.errors import ConfigError
from opi_cli.realtime.client import DEFAULT_REALTIME_URL
from opi_cli.sdk.agent import Agent, AgentSetup, ErrorRecordingProvider
from opi_cli.sdk.config import Config, resolve_endpoint
from opi_cli.sdk.realtime import RealtimeSettings
from opi_cli.sdk.tools import ToolLike, ToolRegistry
from opi_cli.session.compaction import CompactionSettings, Summarizer
from opi_cli.session.conversations import PersistenceStore
from opi_cli.session.session_hooks import SessionHooks, compose_session_hooks
from opi_cli.session.store import SessionStore

if TYPE_CHECKING:
    from opi_cli.hooks.config import HookConfig
    from opi_cli.hooks.runner import HookRunner
    from opi_cli.mcp.config import McpServerConfig

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
        self._store: PersistenceStore | SessionStore | None = None
        self._websocket: tuple[str | None, int] | None = None
        self._max_turns: int | None = None
        self._registry: ModelRegistry | None = None
        self._provider: Provider | None = None
        self._retry = RetrySettings()
        self._hooks: list[AgentHooks] = []
        self._compaction: tuple[bool, int | None, int | None] = (True, None, None)
        self._summarizer: Summarizer | None = None
        self._cwd: str | None = None
        self._mcp: list[McpServerConfig] = []
        self._mcp_timeouts = (5.0, 120.0)
        self._session_hooks: list[SessionHooks] = []
        self._settings_hooks: list[HookConfig] = []

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

    def with_persistence(self, store: PersistenceStore | SessionStore) -> AgentBuilder:
        """Where ``run_with_id`` and ``save/load/list/delete_conversation`` keep conversations:
        ``MemoryStore()``, ``JsonlStore()``, ``PostgresStore(dsn)``, any opi session store, or
        your own ``PersistenceStore``."""
        if not isinstance(store, PersistenceStore | SessionStore):
            raise ConfigError(
                f"with_persistence takes a store (MemoryStore, JsonlStore, PostgresStore or a "
                f"PersistenceStore), not {type(store).__name__}"
            )
        self._store = store
        return self

    # -- hooks (seed 001): each optional; several calls combine in call order

    def with_hooks(self, hooks: AgentHooks) -> AgentBuilder:
        """Add a set of hooks; sets added earlier run first (see ``compose_hooks``)."""
        if not isinstance(hooks, AgentHooks):
            raise ConfigError(f"with_hooks takes an AgentHooks, not {type(hooks).__name__}")
        self._hooks.append(hooks)
        return self

    def with_transform_context(
        self, fn: Callable[[list[AgentMessage], AbortSignal], Awaitable[list[AgentMessage]]]
    ) -> AgentBuilder:
        """``async fn(messages, signal) -> messages``: change the context before each model call."""
        return self.with_hooks(AgentHooks(transform_context=fn))

    def with_convert_to_llm(self, fn: Callable[[list[AgentMessage]], list[Message]]) -> AgentBuilder:
        """``fn(messages) -> llm_messages``: replaces the conversion of agent messages for the model."""
        return self.with_hooks(AgentHooks(convert_to_llm=fn))

    def with_before_tool_call(
        self, fn: Callable[[ToolCallContext], Awaitable[BeforeToolCallResult | None]]
    ) -> AgentBuilder:
        """``async fn(ctx) -> BeforeToolCallResult | None``: ``block=True`` refuses the call."""
        return self.with_hooks(AgentHooks(before_tool_call=fn))

    def with_after_tool_call(
        self, fn: Callable[[ToolCallContext, ToolResult], Awaitable[AfterToolCallResult | None]]
    ) -> AgentBuilder:
        """``async fn(ctx, result) -> AfterToolCallResult | None``: change what the model reads."""
        return self.with_hooks(AgentHooks(after_tool_call=fn))

    def with_should_stop_after_turn(self, fn: Callable[[TurnContext], Awaitable[bool]]) -> AgentBuilder:
        """``async fn(ctx) -> bool``: True ends the run after this turn."""
        return self.with_hooks(AgentHooks(should_stop_after_turn=fn))

    def with_prepare_next_turn(
        self, fn: Callable[[TurnContext], Awaitable[PrepareNextTurnUpdate | None]]
    ) -> AgentBuilder:
        """``async fn(ctx) -> PrepareNextTurnUpdate | None``: change prompt, model, level or tools."""
        return self.with_hooks(AgentHooks(prepare_next_turn=fn))

    def with_session_hooks(self, hooks: SessionHooks) -> AgentBuilder:
        """Add the session's own hook points (start, prompt submitted, stop, before a compaction);
        sets added earlier run first (see ``compose_session_hooks``)."""
        if not isinstance(hooks, SessionHooks):
            raise ConfigError(f"with_session_hooks takes a SessionHooks, not {type(hooks).__name__}")
        self._session_hooks.append(hooks)
        return self

    def with_settings_hooks(self, hooks: Mapping[str, Any], source: str = "with_settings_hooks") -> AgentBuilder:
        """Hooks in Claude Code's settings shape (``{"PreToolUse": [{"matcher": ..., "hooks": [...]}]}``),
        run as the ``opi`` command runs its settings' ``hooks`` (docs/extending.md); commands
        run in ``with_cwd``'s folder with the builder's environment. After the other hooks.

        Raises:
            ConfigError: not in that shape (the message names the entry).
        """
        from opi_cli.hooks.config import parse_hooks

        self._settings_hooks.append(parse_hooks(dict(hooks), source))
        return self

    def _hook_runner(self) -> HookRunner | None:
        if not self._settings_hooks:
            return None
        from opi_cli.hooks.config import HookConfig
        from opi_cli.hooks.runner import HookRunner

        config = HookConfig()
        for c in self._settings_hooks:
            config.extend(c)
        return HookRunner(config, cwd=self._cwd or os.getcwd(), env=self._env)

    # -- compaction

    def with_compaction(
        self,
        *,
        enabled: bool = True,
        reserve_tokens: int | None = None,
        keep_recent_tokens: int | None = None,
    ) -> AgentBuilder:
        """Automatic compaction (threshold and overflow), as the CLI's ``compaction`` settings.

        Compaction starts when the context passes ``window - reserve_tokens``; about
        ``keep_recent_tokens`` of recent messages stay verbatim. Defaults: pi's (16,384 and
        20,000), scaled down to a quarter and a fifth of a smaller model's window.
        """
        self._compaction = (enabled, reserve_tokens, keep_recent_tokens)
        return self

    def with_summarizer(self, summarizer: Summarizer) -> AgentBuilder:
        """``async fn(SummaryRequest) -> str`` writes compaction summaries instead of the model;
        when it raises or returns nothing, opi's fallback summary is used."""
        if not callable(summarizer):
            raise ConfigError("with_summarizer takes an async function (SummaryRequest) -> str")
        self._summarizer = summarizer
        return self

    def with_cwd(self, cwd: str | Path) -> AgentBuilder:
        """The folder recorded in new sessions (default: the current folder)."""
        self._cwd = str(cwd)
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

    def with_mcp_server(
        self,
        name: str,
        *,
        command: str | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: str | None = None,
    ) -> AgentBuilder:
        """Add an MCP server: ``command``/``args``/``env``/``cwd`` (stdio), or ``url``/``headers``
        with ``transport="http"`` (default for a URL) or ``"sse"``. ``${VAR}`` is expanded from
        the builder's environment. Its tools are named ``mcp__<name>__<tool>``.

        Raises:
            ConfigError: the entry is incomplete or malformed (one line naming the field).
        """
        from opi_cli.mcp.config import parse_server  # the MCP package loads only for agents that use it

        entry: dict[str, JsonValue] = {"command": command, "args": list(args), "env": dict(env or {}), "cwd": cwd,
                                       "url": url, "headers": dict(headers or {}), "type": transport}
        entry = {k: v for k, v in entry.items() if v not in (None, [], {})}
        if any(s.name == name for s in self._mcp):
            raise ConfigError(f"with_mcp_server: a server named {name!r} was already added")
        self._mcp.append(parse_server(name, entry, env=self._env))
        return self

    def with_mcp_timeouts(self, *, startup_wait_s: float = 5.0, tool_timeout_s: float = 120.0) -> AgentBuilder:
        """How long the first request waits for MCP servers still starting, and one call's limit."""
        if startup_wait_s < 0 or tool_timeout_s <= 0:
            raise ConfigError("MCP timeouts must be positive (startup_wait_s may be 0)")
        self._mcp_timeouts = (startup_wait_s, tool_timeout_s)
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
        for n in self._compaction[1:]:
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                raise ConfigError(f"compaction token counts must be non-negative integers, got {n!r}")

    def _compaction_for(self, window: int) -> CompactionSettings:
        """The compaction settings, defaults scaled to a small model's window."""
        enabled, reserve, keep = self._compaction
        base = CompactionSettings()
        return CompactionSettings(
            enabled,
            reserve if reserve is not None else min(base.reserve_tokens, window // 4),
            keep if keep is not None else min(base.keep_recent_tokens, window // 5),
        )

    def build(self) -> Agent:
        """The agent.

        Raises:
            ConfigError: no model, an unknown model without a base URL, a missing API key,
                temperature outside 0..2, non-positive max tokens/timeout/max turns/context
                window, bad URLs.
        """
        self._check()
        registry = self._registry or ModelRegistry.builtin()
        endpoint = resolve_endpoint(self._config, registry, self._env)
        recorder = ErrorRecordingProvider(self._provider or ApiProvider())
        tools: list[Tool] = self._tools.tools()
        runner = self._hook_runner()
        hooks = [*self._hooks, *([runner.agent_hooks()] if runner else [])]
        session_hooks = [*self._session_hooks, *([runner.session_hooks()] if runner else [])]
        loop = LoopAgent(
            AgentOptions(
                model=endpoint.model,
                provider=recorder,
                system_prompt=self._system_prompt,
                tools=tools,
                hooks=compose_hooks(*hooks) if any(h is not None for h in hooks) else AgentHooks(),
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
        mcp = None
        if self._mcp:
            from opi_cli.sdk.mcp import McpBinding

            wait, call = self._mcp_timeouts
            mcp = McpBinding(loop, self._mcp, self._env, startup_wait_s=wait, tool_timeout_s=call)
        setup = AgentSetup(
            self._compaction_for(endpoint.model.context_window), self._summarizer, self._cwd, realtime, mcp,
            compose_session_hooks(*session_hooks) if any(h is not None for h in session_hooks) else None,
            runner,
        )
        return Agent(loop, recorder, setup, store=self._store)

    def __repr__(self) -> str:
        extra: dict[str, Any] = {"config": self._config, "tools": self._tools.names()}
        return f"AgentBuilder({extra})"
