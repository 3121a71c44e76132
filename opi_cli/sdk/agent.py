"""The library ``Agent`` of the seed: ``await agent.run(text)`` over the one agent loop.

It wraps :class:`opi_cli.agent.agent.Agent` (the loop the CLI runs too) and adds what the
seed's API has on top: the final text as the result (errors raised), conversations kept in
a :class:`~opi_cli.sdk.persistence.PersistenceStore` by id, and the Realtime client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import Agent as LoopAgent
from opi_cli.agent.events import AgentEvent
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import Tool
from opi_cli.ai.events import AssistantStreamEvent, ProviderError, StreamDone, StreamError
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, Provider, StreamOptions
from opi_cli.ai.types import AssistantMessage
from opi_cli.errors import AgentError, ConfigError, RequestError
from opi_cli.realtime.client import Handler, RealtimeClient, RealtimeOptions
from opi_cli.realtime.events import ClientEvent
from opi_cli.sdk.persistence import AgentState, ConversationMetadata, PersistenceStore, check_conversation_id

__all__ = ["Agent", "ErrorRecordingProvider", "RealtimeSettings"]


class ErrorRecordingProvider:
    """Passes a provider's stream through and remembers the last failure (status and message)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.last_error: ProviderError | None = None

    async def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        async for ev in self.inner.stream(model, context, options):
            if isinstance(ev, StreamError):
                self.last_error = ev.error
            elif isinstance(ev, StreamDone):
                self.last_error = None  # a retry succeeded: earlier failures no longer explain the run
            yield ev


@dataclass(frozen=True, slots=True)
class RealtimeSettings:
    """What ``with_websocket()`` configured: endpoint, key and reconnects."""

    url: str
    api_key: str | None
    reconnect_attempts: int = 1


class Agent:
    """A conversational agent: ``await agent.run("...")`` returns the final assistant text.

    Build it with :class:`~opi_cli.sdk.builder.AgentBuilder`. The conversation is kept
    between runs (multi-turn); ``run_with_id`` and the ``*_conversation`` methods keep it
    in the persistence store. ``loop`` is the underlying loop agent (``subscribe`` to
    its events, ``abort``, ``steer``).
    """

    def __init__(
        self,
        loop: LoopAgent,
        recorder: ErrorRecordingProvider,
        *,
        store: PersistenceStore | None = None,
        realtime: RealtimeSettings | None = None,
    ) -> None:
        self.loop = loop
        self._recorder = recorder
        self.store = store
        self._realtime_settings = realtime
        self._realtime: RealtimeClient | None = None
        self._conversation_id: str | None = None
        self._name: str | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def model(self) -> Model:
        return self.loop.model

    @property
    def messages(self) -> list[AgentMessage]:
        """The conversation so far (a copy)."""
        return list(self.loop.messages)

    @property
    def tools(self) -> list[Tool]:
        return list(self.loop.options.tools)

    @property
    def conversation_id(self) -> str | None:
        """The id of the conversation last loaded or saved, if any."""
        return self._conversation_id

    def reset(self) -> None:
        """Start a new, empty conversation (nothing stored is touched)."""
        self.loop.replace_messages([])
        self._conversation_id = None
        self._name = None

    def subscribe(self, listener: Callable[[AgentEvent], None]) -> Callable[[], None]:
        """Receive every loop event (text deltas, tool calls, ...); returns an unsubscribe function."""
        return self.loop.subscribe(listener)

    def state(self) -> AgentState:
        """The conversation as the store keeps it."""
        last = self.loop.last_assistant
        model = (last.provider, last.model) if last is not None else None
        return AgentState(tuple(self.loop.messages), model, self._name)

    # -- running -------------------------------------------------------------------------------

    async def run(self, text: str) -> str:
        """Send ``text``, run tools until the model answers, and return the answer's text.

        Raises:
            RequestError: the provider failed (``status`` and the provider's message).
            AgentError: the run was aborted, hit ``max_turns``, or the agent is busy.
        """
        self._recorder.last_error = None
        added = await self.loop.prompt(text)
        final = next((m for m in reversed(added) if isinstance(m, AssistantMessage)), None)
        if final is None:
            raise AgentError("the run produced no assistant message")
        if final.stop_reason == "aborted":
            raise AgentError(final.error_message or "the run was aborted")
        if final.stop_reason == "error":
            err = self._recorder.last_error
            message = final.error_message or (err.message if err else "the run failed")
            if err is None:
                raise AgentError(message)
            raise RequestError(message, status=err.status, kind=err.kind)
        return final.text

    async def run_with_id(self, conversation_id: str, text: str) -> str:
        """``run`` within stored conversation ``conversation_id``: loaded first (if another one
        is loaded, or none), saved afterwards, also when the run fails.

        Raises:
            AgentError: no persistence store, or an invalid id; as ``run`` otherwise.
        """
        cid = check_conversation_id(conversation_id)
        self._need_store()
        if self._conversation_id != cid and not await self.load_conversation(cid):
            self.reset()
            self._conversation_id = cid
        try:
            return await self.run(text)
        finally:
            await self.save_conversation(cid)

    # -- persistence ---------------------------------------------------------------------------

    def _need_store(self) -> PersistenceStore:
        if self.store is None:
            raise AgentError("no persistence store: build the agent with .with_persistence(store)")
        return self.store

    async def save_conversation(self, conversation_id: str | None = None) -> str:
        """Store the conversation (as ``conversation_id``, default the current one); returns the id."""
        store = self._need_store()
        if not (conversation_id or self._conversation_id):
            raise AgentError("no conversation id: pass one (generate_id() makes one) or use run_with_id")
        cid = check_conversation_id(conversation_id or self._conversation_id or "")
        await store.store_conversation(cid, self.state())
        self._conversation_id = cid
        return cid

    async def load_conversation(self, conversation_id: str) -> bool:
        """Replace the conversation with the stored one; False (and nothing changed) if there is none."""
        store = self._need_store()
        cid = check_conversation_id(conversation_id)
        state = await store.get_conversation(cid)
        if state is None:
            return False
        self.loop.replace_messages(state.messages)
        self._conversation_id = cid
        self._name = state.name
        return True

    async def list_conversations(self, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]:
        """Stored conversations, most recently updated first."""
        return await self._need_store().list_conversations(limit, offset)

    async def delete_conversation(self, conversation_id: str) -> None:
        """Delete a stored conversation (the one in memory stays)."""
        await self._need_store().delete_conversation(check_conversation_id(conversation_id))
        if self._conversation_id == conversation_id:
            self._conversation_id = None

    def set_conversation_name(self, name: str | None) -> None:
        """Name the conversation (stored with the next save; shown by ``opi sessions``)."""
        self._name = name

    # -- realtime ------------------------------------------------------------------------------

    def _realtime_client(self) -> RealtimeClient:
        if self._realtime_settings is None:
            raise ConfigError("Realtime is not enabled: build the agent with .with_websocket()")
        if self._realtime is None:
            s = self._realtime_settings
            self._realtime = RealtimeClient(
                RealtimeOptions(
                    url=s.url,
                    api_key=s.api_key,
                    instructions=self.loop.options.system_prompt,
                    tools=tuple(self.loop.options.tools),
                    reconnect_attempts=s.reconnect_attempts,
                )
            )
        return self._realtime

    @property
    def realtime(self) -> RealtimeClient:
        """The Realtime client (ConfigError unless built with ``with_websocket()``)."""
        return self._realtime_client()

    async def connect_realtime(self, model: str = "gpt-realtime") -> None:
        """Connect to the Realtime API; the agent's system prompt and tools are declared at once."""
        await self._realtime_client().connect(model)

    async def send_realtime_event(self, event: ClientEvent | dict[str, JsonValue]) -> None:
        """Send one client event (``RealtimeEvent(type, fields)`` or a dict)."""
        await self._realtime_client().send(event)

    async def send_realtime_text(self, text: str) -> None:
        """Send a user message and ask for a response."""
        await self._realtime_client().send_text(text)

    async def process_realtime_events(self, handler: Handler) -> None:
        """Give every server event to ``handler`` (sync or async) until it returns True or the
        connection ends; function calls are run with the agent's tools meanwhile."""
        await self._realtime_client().process_events(handler)

    async def close_realtime(self) -> None:
        if self._realtime is not None:
            await self._realtime.close()

    async def aclose(self) -> None:
        """Close the Realtime connection (the store belongs to the caller)."""
        await self.close_realtime()

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Agent(model={self.model.ref!r}, tools={[t.name for t in self.tools]!r})"
