"""AgentSession: the Agent bound to a session store, with the session-level events.

Events become entries as they happen, in order, through one writer task: every
``message_end`` is queued at once and the queue is drained right before each model
request, so the user's prompt is stored before the first request (promise 1); the store
is synced at every ``turn_end`` and on close (promise 2). A store failure never stops the
run: it becomes one ``persistence_error`` event per cause and the conversation goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import Agent
from opi_cli.agent.events import (
    AgentEvent,
    MessageEnd,
    ModelChanged,
    PersistenceErrorEvent,
    SessionInfoChanged,
    ThinkingLevelChanged,
    TurnEnd,
)
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.model import Model
from opi_cli.ai.types import ImageContent, ThinkingLevel
from opi_cli.session.entries import header_to_json
from opi_cli.session.writer import SessionWriter

__all__ = ["AgentSession"]

Listener = Callable[[AgentEvent], None]
_Op = Callable[[], Awaitable[object]]


class AgentSession:
    """One conversation: an :class:`Agent`, the session it is stored in, and subscribers.

    Create with :meth:`start` (inside the event loop); always ``await close()``.
    """

    def __init__(self, agent: Agent, writer: SessionWriter) -> None:
        self.agent = agent
        self.writer = writer
        self._listeners: list[Listener] = []
        self._failed: set[str] = set()
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._unsub = agent.subscribe(self._on_event)
        user_transform = agent.options.hooks.transform_context

        async def before_request(messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
            await self.flush()
            return await user_transform(messages, signal) if user_transform else messages

        agent.options.hooks = replace(agent.options.hooks, transform_context=before_request)

    @classmethod
    async def start(cls, agent: Agent, writer: SessionWriter, *, record_settings: bool) -> AgentSession:
        """Bind and start the writer task; a new session records model and thinking level first."""
        session = cls(agent, writer)
        session._task = asyncio.create_task(session._drain(), name="opi-session-writer")
        if record_settings:
            m = agent.model
            session._enqueue(lambda: writer.append_model_change(m.provider, m.id))
            level = agent.thinking_level
            session._enqueue(lambda: writer.append_thinking_level_change(level))
            await session.flush()
        return session

    # -- identity
    @property
    def session_id(self) -> str:
        return self.writer.session_id

    @property
    def session_file(self) -> str | None:
        path = self.writer.handle.path
        return None if path is None else str(path)

    @property
    def name(self) -> str | None:
        return self.writer.name

    def header_json(self) -> dict[str, JsonValue]:
        return header_to_json(self.writer.header)

    # -- events
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, ev: AgentEvent) -> None:
        for fn in list(self._listeners):
            fn(ev)

    def _on_event(self, ev: AgentEvent) -> None:
        w = self.writer
        if isinstance(ev, MessageEnd):
            msg = ev.message
            self._enqueue(lambda: w.append_message(msg))
        elif isinstance(ev, ModelChanged):
            self._enqueue(lambda: w.append_model_change(ev.provider, ev.model_id))
        elif isinstance(ev, ThinkingLevelChanged):
            self._enqueue(lambda: w.append_thinking_level_change(ev.level))
        self._emit(ev)
        if isinstance(ev, TurnEnd):
            self._enqueue(w.sync)

    # -- persistence queue
    def _enqueue(self, op: _Op) -> None:
        self._queue.put_nowait(op)

    async def _drain(self) -> None:
        while True:
            op = await self._queue.get()
            try:
                await op()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store failure must not end the run
                self._report(exc)
            finally:
                self._queue.task_done()

    def _report(self, exc: Exception) -> None:
        key = f"{type(exc).__name__}:{exc}"
        if key in self._failed:
            return
        self._failed.add(key)
        self._emit(PersistenceErrorEvent(f"Session history is not being saved: {exc}", self.session_file))

    async def flush(self) -> None:
        """Wait until every queued entry has been handed to the store."""
        if self._task is not None and not self._task.done():
            await self._queue.join()

    # -- actions
    async def prompt(self, text: str, images: Sequence[ImageContent] = ()) -> list[AgentMessage]:
        return await self.agent.prompt(text, images)

    def add_message(self, message: AgentMessage) -> None:
        """Append a message outside a run (``!cmd`` output) to the context and the session."""
        self.agent.messages.append(message)
        self._enqueue(lambda: self.writer.append_message(message))

    def steer(self, text: str) -> None:
        self.agent.steer(text)

    def follow_up(self, text: str) -> None:
        self.agent.follow_up(text)

    def abort(self, reason: str = "aborted") -> None:
        self.agent.abort(reason)

    def set_model(self, model: Model) -> None:
        self.agent.set_model(model)

    def set_thinking_level(self, level: ThinkingLevel) -> None:
        self.agent.set_thinking_level(level)

    def set_name(self, name: str) -> None:
        self._enqueue(lambda: self.writer.append_session_info(name))
        self._emit(SessionInfoChanged(name))

    async def close(self) -> None:
        """Wait for the run, store everything, sync and release the session."""
        await self.agent.wait_for_idle()
        self._enqueue(self.writer.sync)
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        try:
            await self.writer.close()
        except Exception as exc:
            self._report(exc)
        self._unsub()
