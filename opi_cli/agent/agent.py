"""The stateful Agent: conversation, model, tools, queues, abort and subscribers around the loop.

``prompt`` runs the loop until the agent is idle again; while it runs, ``steer`` and
``follow_up`` queue messages (delivered after the current tool batch, or only when the
agent would otherwise stop), ``abort`` cancels the request and kills running tools, and
``clear_queues`` takes the queued texts back (for an editor). Subscribers get every event
synchronously, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Literal

from opi_cli._util.abort import AbortController
from opi_cli._util.ids import now_ms
from opi_cli._util.records import record
from opi_cli.agent.events import AgentEvent, ModelChanged, QueueUpdate, ThinkingLevelChanged
from opi_cli.agent.hooks import AgentHooks
from opi_cli.agent.loop import LoopConfig, RetrySettings, run_loop
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import Tool
from opi_cli.ai.model import Model
from opi_cli.ai.provider import Provider, StreamOptions
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    TextContent,
    ThinkingLevel,
    UserContent,
    UserMessage,
)
from opi_cli.errors import AgentError

__all__ = ["Agent", "AgentOptions", "LoopAgent", "QueueMode"]

QueueMode = Literal["one-at-a-time", "all"]
Listener = Callable[[AgentEvent], None]


@record(frozen=False)
class AgentOptions:
    """Everything an Agent is built from (all but ``model`` and ``provider`` optional)."""

    model: Model
    provider: Provider
    system_prompt: str = ""
    tools: Sequence[Tool] = ()
    thinking_level: ThinkingLevel = "off"
    hooks: AgentHooks = field(default_factory=AgentHooks)
    retry: RetrySettings = field(default_factory=RetrySettings)
    max_turns: int | None = None
    steering_mode: QueueMode = "one-at-a-time"
    follow_up_mode: QueueMode = "one-at-a-time"
    stream_options: StreamOptions = field(default_factory=StreamOptions)
    messages: Sequence[AgentMessage] = ()


def user_message(text: str, images: Sequence[ImageContent] = ()) -> UserMessage:
    content: tuple[UserContent, ...] = (TextContent(text),) if text else ()
    return UserMessage(content + tuple(images), now_ms())


def _text(m: AgentMessage) -> str:
    content = getattr(m, "content", ())
    return "".join(c.text for c in content if isinstance(c, TextContent))


class LoopAgent:
    """One conversation with one model at a time (switchable between runs).

    The state around the loop; programs use :class:`opi_cli.Agent` (the library agent), which
    runs one of these inside an :class:`~opi_cli.session.agent_session.AgentSession`, as the
    CLI does.
    """

    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        self.messages: list[AgentMessage] = list(options.messages)
        self._listeners: list[Listener] = []
        self._steering: list[AgentMessage] = []
        self._follow_up: list[AgentMessage] = []
        self._controller: AbortController | None = None
        self._config: LoopConfig | None = None  # the running loop's, so set_tools reaches it
        self._idle = asyncio.Event()
        self._idle.set()

    # -- observation
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, ev: AgentEvent) -> None:
        for fn in list(self._listeners):
            fn(ev)

    @property
    def is_running(self) -> bool:
        return not self._idle.is_set()

    @property
    def model(self) -> Model:
        return self.options.model

    @property
    def thinking_level(self) -> ThinkingLevel:
        return self.options.thinking_level

    # -- configuration
    def set_model(self, model: Model) -> None:
        self.options.model = model
        self._emit(ModelChanged(model.provider, model.id))

    def set_thinking_level(self, level: ThinkingLevel) -> None:
        self.options.thinking_level = level
        self._emit(ThinkingLevelChanged(level))

    def set_tools(self, tools: Sequence[Tool]) -> None:
        """Replace the tools; during a run the change applies from the next model request."""
        self.options.tools = tools
        if self._config is not None:
            self._config.tools = list(tools)

    def add_tool(self, tool: Tool) -> None:
        """Offer one more tool from the next model call on (a tool of the same name is replaced)."""
        self.set_tools([t for t in self.options.tools if t.name != tool.name] + [tool])

    def remove_tool(self, name: str) -> bool:
        """Stop offering the tool ``name``; False when there was none."""
        kept = [t for t in self.options.tools if t.name != name]
        removed = len(kept) != len(self.options.tools)
        self.set_tools(kept)
        return removed

    def set_system_prompt(self, prompt: str) -> None:
        self.options.system_prompt = prompt

    def replace_messages(self, messages: Sequence[AgentMessage]) -> None:
        self.messages[:] = list(messages)

    # -- queues
    def steer(self, message: str | AgentMessage) -> None:
        self._steering.append(user_message(message) if isinstance(message, str) else message)
        self._queue_changed()

    def follow_up(self, message: str | AgentMessage) -> None:
        self._follow_up.append(user_message(message) if isinstance(message, str) else message)
        self._queue_changed()

    def queued_texts(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(_text(m) for m in self._steering), tuple(_text(m) for m in self._follow_up)

    def clear_queues(self) -> tuple[list[str], list[str]]:
        """Empty both queues and return their texts (steering, follow-up)."""
        steering, follow = self.queued_texts()
        self._steering.clear()
        self._follow_up.clear()
        self._queue_changed()
        return list(steering), list(follow)

    def _queue_changed(self) -> None:
        steering, follow = self.queued_texts()
        self._emit(QueueUpdate(steering, follow))

    def _drain(self, queue: list[AgentMessage], mode: QueueMode) -> list[AgentMessage]:
        if not queue:
            return []
        taken = queue[:] if mode == "all" else queue[:1]
        del queue[: len(taken)]
        self._queue_changed()
        return taken

    # -- running
    async def prompt(self, message: str | AgentMessage | Sequence[AgentMessage], images: Sequence[ImageContent] = ()) -> list[AgentMessage]:
        """Send a message and run until idle; returns the messages the run added.

        Raises:
            AgentError: the agent is already running (use ``steer``/``follow_up``).
        """
        if isinstance(message, str):
            prompts: list[AgentMessage] = [user_message(message, images)]
        elif isinstance(message, list | tuple):
            prompts = list(message)
        else:
            prompts = [message]  # type: ignore[list-item]
        return await self._run(prompts)

    async def continue_(self) -> list[AgentMessage]:
        """Run again from the current context (after a retry or a compaction).

        Raises:
            AgentError: nothing to continue from.
        """
        if self.messages and isinstance(self.messages[-1], AssistantMessage):
            queued = self._drain(self._steering, "all") or self._drain(self._follow_up, "all")
            if not queued:
                raise AgentError("Cannot continue from message role: assistant")
            return await self._run(queued)
        return await self._run([])

    async def _run(self, prompts: list[AgentMessage]) -> list[AgentMessage]:
        if self.is_running:
            raise AgentError(
                "Agent is already processing. Queue the message with steer() or follow_up() instead."
            )
        self._idle.clear()
        self._controller = AbortController()
        o = self.options
        config = LoopConfig(
            provider=o.provider,
            model=o.model,
            system_prompt=o.system_prompt,
            tools=list(o.tools),
            thinking_level=o.thinking_level if o.model.reasoning else "off",
            stream_options=o.stream_options,
            hooks=o.hooks,
            retry=o.retry,
            max_turns=o.max_turns,
            get_steering=lambda: self._drain(self._steering, o.steering_mode),
            get_follow_up=lambda: self._drain(self._follow_up, o.follow_up_mode),
        )
        self._config = config
        try:
            return await run_loop(prompts, self.messages, config, self._controller.signal, self._emit)
        finally:
            self._config = None
            self._controller = None
            self._idle.set()

    def abort(self, reason: str = "aborted") -> None:
        """Cancel the running request and kill running tools (no-op when idle)."""
        if self._controller is not None:
            self._controller.abort(reason)

    async def wait_for_idle(self) -> None:
        await self._idle.wait()

    @property
    def last_assistant(self) -> AssistantMessage | None:
        for m in reversed(self.messages):
            if isinstance(m, AssistantMessage):
                return m
        return None


Agent = LoopAgent
"""The name :class:`LoopAgent` had before the library's ``Agent`` was built on the session;
kept so existing imports go on working. New code: :class:`LoopAgent` here, ``opi_cli.Agent``
for programs."""
