"""AgentSession: the Agent bound to a session recorder, with the session-level events.

Events become entries as they happen: every ``message_end`` is appended at once (so the
user's prompt is on disk before the first request), the file is synced at every
``turn_end`` and on close, model and thinking-level changes are recorded. A recorder
failure never stops the run: it becomes a ``persistence_error`` event (once per cause)
and the conversation goes on in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

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

__all__ = ["AgentSession", "MemoryRecorder", "Recorder"]

Listener = Callable[[AgentEvent], None]


class Recorder(Protocol):
    """Where a session's entries go (a JSONL file, PostgreSQL, or nowhere)."""

    @property
    def session_id(self) -> str: ...

    @property
    def path(self) -> str | None: ...

    def header_json(self) -> dict[str, JsonValue]: ...

    def append_message(self, message: AgentMessage) -> None: ...

    def append_model_change(self, provider: str, model_id: str) -> None: ...

    def append_thinking_level(self, level: str) -> None: ...

    def append_session_info(self, name: str) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class AgentSession:
    """One conversation: an :class:`Agent`, its recorder, and the session's subscribers."""

    def __init__(self, agent: Agent, recorder: Recorder) -> None:
        self.agent = agent
        self.recorder = recorder
        self._listeners: list[Listener] = []
        self._failed: set[str] = set()
        self._unsub = agent.subscribe(self._on_event)

    # -- identity
    @property
    def session_id(self) -> str:
        return self.recorder.session_id

    @property
    def session_file(self) -> str | None:
        return self.recorder.path

    def header_json(self) -> dict[str, JsonValue]:
        return self.recorder.header_json()

    # -- events
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, ev: AgentEvent) -> None:
        for fn in list(self._listeners):
            fn(ev)

    def _persist(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # a store failure must not end the run
            key = f"{type(exc).__name__}:{exc}"
            if key not in self._failed:
                self._failed.add(key)
                self._emit(
                    PersistenceErrorEvent(
                        f"Session history is not being saved: {exc}", self.recorder.path
                    )
                )

    def _on_event(self, ev: AgentEvent) -> None:
        if isinstance(ev, MessageEnd):
            self._persist(lambda: self.recorder.append_message(ev.message))
        elif isinstance(ev, ModelChanged):
            self._persist(lambda: self.recorder.append_model_change(ev.provider, ev.model_id))
        elif isinstance(ev, ThinkingLevelChanged):
            self._persist(lambda: self.recorder.append_thinking_level(ev.level))
        self._emit(ev)
        if isinstance(ev, TurnEnd):
            self._persist(self.recorder.sync)

    # -- actions
    async def prompt(self, text: str, images: Sequence[ImageContent] = ()) -> list[AgentMessage]:
        return await self.agent.prompt(text, images)

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
        self._persist(lambda: self.recorder.append_session_info(name))
        self._emit(SessionInfoChanged(name))

    async def close(self) -> None:
        await self.agent.wait_for_idle()
        self._persist(self.recorder.sync)
        self._persist(self.recorder.close)


class MemoryRecorder:
    """Keeps nothing on disk (``--no-session``); the header still has a real id."""

    def __init__(self, session_id: str, cwd: str, timestamp: str) -> None:
        self._header: dict[str, JsonValue] = {
            "type": "session",
            "version": 3,
            "id": session_id,
            "timestamp": timestamp,
            "cwd": cwd,
        }
        self.messages: list[AgentMessage] = []

    @property
    def session_id(self) -> str:
        return str(self._header["id"])

    @property
    def path(self) -> str | None:
        return None

    def header_json(self) -> dict[str, JsonValue]:
        return dict(self._header)

    def append_message(self, message: AgentMessage) -> None:
        self.messages.append(message)

    def append_model_change(self, provider: str, model_id: str) -> None:
        pass

    def append_thinking_level(self, level: str) -> None:
        pass

    def append_session_info(self, name: str) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
