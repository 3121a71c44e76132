"""The library ``Agent`` of the seed: ``await agent.run(text)`` over the session the CLI runs.

An ``Agent`` holds an :class:`~opi_cli.session.agent_session.AgentSession`, made by the same
factory as the ``opi`` command's (:func:`~opi_cli.session.factory.create_agent_session`), so
a program gets threshold, overflow and manual compaction, steering and follow-up queues,
retries and persistence exactly as the CLI does. On top it adds what the seed's API has: the
final text as the result (errors raised), conversations kept by id in a store, and the
Realtime client.

Where the conversation lives: in a session of a private in-process store, except during
``run_with_id``, when the session is the conversation's own in the persistence store (every
entry, compactions included, is written there as it happens, and the store's lock is
released when the run ends, so several agents and ``opi resume`` can take turns).
``save_conversation``/``load_conversation`` copy the conversation to and from the store. A
custom store with only the seed's four methods is saved and loaded as whole conversations.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.agent import LoopAgent
from opi_cli.agent.events import AgentEvent
from opi_cli.agent.messages import AgentMessage
from opi_cli.agent.tool import Tool
from opi_cli.ai.events import AssistantStreamEvent, ProviderError, StreamDone, StreamError
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, Provider, StreamOptions
from opi_cli.ai.types import AssistantMessage, ThinkingLevel
from opi_cli.errors import AgentError, ParseError, RequestError
from opi_cli.realtime.client import RealtimeClient
from opi_cli.realtime.events import ClientEvent
from opi_cli.sdk.realtime import Handler, RealtimeSettings, realtime_client
from opi_cli.sdk.tools import ToolLike, adapt_tool
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.compaction import CompactionOutcome, CompactionSettings, Summarizer
from opi_cli.session.conversations import (
    AgentState,
    ConversationMetadata,
    PersistenceStore,
    append_state,
    check_conversation_id,
    delete_conversation,
    get_conversation,
    list_conversations,
    locate_conversation,
    store_conversation,
)
from opi_cli.session.factory import create_agent_session
from opi_cli.session.session_hooks import SessionHooks
from opi_cli.session.store import SessionStore
from opi_cli.session.stores import MemoryStore
from opi_cli.session.writer import SessionWriter

if TYPE_CHECKING:
    from opi_cli.hooks.runner import HookRunner
    from opi_cli.sdk.mcp import McpBinding

__all__ = ["Agent", "AgentSetup", "ErrorRecordingProvider"]

Listener = Callable[[AgentEvent], None]


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


@record
class AgentSetup:
    """What the builder decided besides the loop agent: compaction, summariser, folder, Realtime, MCP."""

    compaction: CompactionSettings
    summarizer: Summarizer | None = None
    cwd: str | None = None
    realtime: RealtimeSettings | None = None
    mcp: McpBinding | None = None
    session_hooks: SessionHooks | None = None  # the session's hook points (with_session_hooks, settings hooks)
    hook_runner: HookRunner | None = None  # settings hooks: told the session's id and file


class Agent:
    """A conversational agent: ``await agent.run("...")`` returns the final assistant text.

    Build it with :class:`~opi_cli.sdk.builder.AgentBuilder`. The conversation is kept
    between runs (multi-turn) and compacted when it outgrows the model's window;
    ``run_with_id`` and the ``*_conversation`` methods keep it in the persistence store.
    ``await agent.aclose()`` (or ``async with agent``) when done: it stores everything and
    releases the session.
    """

    def __init__(
        self,
        loop: LoopAgent,
        recorder: ErrorRecordingProvider,
        setup: AgentSetup,
        *,
        store: PersistenceStore | SessionStore | None = None,
    ) -> None:
        self.loop = loop
        """The loop agent inside the session (its options: model, tools, hooks, ...)."""
        self.store = store
        self._recorder = recorder
        self._setup = setup
        self._cwd = setup.cwd or os.getcwd()
        self._memory = MemoryStore(cwd=self._cwd)
        self._session: AgentSession | None = None
        self._listeners: list[Listener] = []
        self._conversation_id: str | None = None
        self._name: str | None = None
        self._fresh = False  # reset() asked for a new, empty conversation
        self._attached = False  # the session is in the persistence store (during run_with_id)
        self._realtime: RealtimeClient | None = None
        self._starting: SessionWriter | None = None  # the session's writer while it starts
        if setup.hook_runner is not None:
            setup.hook_runner.bind(self._hook_ids)

    # -- state ---------------------------------------------------------------------------------

    @property
    def model(self) -> Model:
        return self.loop.model

    @property
    def messages(self) -> list[AgentMessage]:
        """The conversation so far, as the model sees it (a copy; after a compaction the
        summary stands for the older messages)."""
        return list(self.loop.messages)

    @property
    def tools(self) -> list[Tool]:
        return list(self.loop.options.tools)

    @property
    def conversation_id(self) -> str | None:
        """The id of the conversation last loaded or saved, if any."""
        return self._conversation_id

    @property
    def session(self) -> AgentSession:
        """The session the agent runs in (the CLI's AgentSession), once started.

        Raises:
            AgentError: not started yet (``await agent.start()``, or run it first).
        """
        if self._session is None:
            raise AgentError("the agent has not started: await agent.start() or run it first")
        return self._session

    def state(self) -> AgentState:
        """The conversation as the store keeps it."""
        last = self.loop.last_assistant
        model = (last.provider, last.model) if last is not None else None
        return AgentState(tuple(self.loop.messages), model, self._name)

    def reset(self) -> None:
        """Start a new, empty conversation (nothing stored is touched)."""
        self.loop.replace_messages([])
        self._conversation_id = None
        self._name = None
        self._fresh = True

    # -- events and queues -----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Receive every event of the session (text deltas, tool calls, compaction, retries, ...);
        returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, ev: AgentEvent) -> None:
        for fn in list(self._listeners):
            fn(ev)

    def steer(self, text: str) -> None:
        """Queue a message for the running agent: delivered after the current tool batch."""
        self.loop.steer(text)

    def follow_up(self, text: str) -> None:
        """Queue a message delivered when the agent would otherwise stop."""
        self.loop.follow_up(text)

    def abort(self, reason: str = "aborted") -> None:
        """Cancel the running request, tools and compaction (``run`` then raises AgentError)."""
        if self._session is not None:
            self._session.abort(reason)
        else:
            self.loop.abort(reason)

    # -- configuration ---------------------------------------------------------------------------

    def add_tool(self, tool: ToolLike) -> Tool:
        """Offer one more tool from the next model call on (one of the same name is replaced).

        Accepts what :meth:`ToolRegistry.register` accepts; returns the tool as the loop runs it.

        Raises:
            ConfigError: a tool object of neither tool shape.
        """
        adapted = adapt_tool(tool)
        self.loop.add_tool(adapted)
        return adapted

    def remove_tool(self, name: str) -> bool:
        """Stop offering the tool ``name``; False when there was none."""
        return self.loop.remove_tool(name)

    def set_tools(self, tools: Iterable[ToolLike]) -> None:
        """Replace the tool set."""
        self.loop.set_tools([adapt_tool(t) for t in tools])

    def set_model(self, model: Model) -> None:
        """Answer with ``model`` from the next request on (recorded in the session)."""
        if self._session is not None:
            self._session.set_model(model)
        else:
            self.loop.set_model(model)

    def set_thinking_level(self, level: ThinkingLevel) -> None:
        if self._session is not None:
            self._session.set_thinking_level(level)
        else:
            self.loop.set_thinking_level(level)

    def set_system_prompt(self, prompt: str) -> None:
        self.loop.set_system_prompt(prompt)

    # -- the session -----------------------------------------------------------------------------

    async def start(self) -> AgentSession:
        """Start the session now (otherwise the first run does); returns it."""
        return await self._live()


    def _hook_ids(self) -> tuple[str, str | None]:
        """The session id and file that settings hooks are told (the starting writer's at first)."""
        if self._session is not None:
            return self._session.session_id, self._session.session_file
        w = self._starting
        return (w.session_id, str(w.handle.path) if w.handle.path else None) if w is not None else ("", None)

    async def _live(self) -> AgentSession:
        session = self._session
        if session is None:
            self._starting = await self._memory_writer(self.state())
            session = await create_agent_session(
                self.loop,
                self._starting,
                record_settings=True,
                compaction=self._setup.compaction,
                summarizer=self._setup.summarizer,
                session_hooks=self._setup.session_hooks,
            )
            session.subscribe(self._emit)
            self._session = session
            self._fresh = False
        else:
            session.restart_writer()  # a program may run each call in its own asyncio.run()
            if self._fresh:
                self._fresh = False
                await session.attach(await self._memory_writer(self.state()), record_settings=True)
        return session

    async def compact(self, focus: str | None = None) -> CompactionOutcome:
        """Compact the conversation now (as ``/compact [focus]``); waits for a running run."""
        return await (await self._live()).compact(focus)

    # -- running ---------------------------------------------------------------------------------

    async def run(self, text: str) -> str:
        """Send ``text``, run tools until the model answers, and return the answer's text.

        A context overflow compacts the conversation and retries once, as in the CLI.

        Raises:
            RequestError: the provider failed (``status``, ``kind`` and the provider's message).
            ParseError: the provider's reply could not be parsed (a malformed stream).
            AgentError: the run was aborted, hit ``max_turns``, a hook failed, or the agent
                is busy (use ``steer``/``follow_up`` while it runs).
        """
        session = await self._live()
        self._recorder.last_error = None
        added = await session.prompt(text)
        await session.flush()
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
            if err.kind == "malformed":
                raise ParseError(message)
            raise RequestError(message, status=err.status, kind=err.kind)
        return final.text

    async def run_with_id(self, conversation_id: str, text: str) -> str:
        """``run`` within stored conversation ``conversation_id`` (created when new).

        The conversation is read from the store first (so another agent's additions are
        seen), every entry is written to the store as it happens (a failed run keeps the
        prompt too), and the store's session is released when the run ends.

        Raises:
            AgentError: no persistence store, or an invalid id; as ``run`` otherwise.
        """
        cid = check_conversation_id(conversation_id)
        store = self._need_store()
        if not isinstance(store, SessionStore):
            if cid != self._conversation_id and not await self.load_conversation(cid):
                await self._continue_in(await self._memory_writer(AgentState()), cid, None)
            try:
                return await self.run(text)
            finally:
                await store.store_conversation(cid, self.state())
        await self._attach_stored(store, cid)
        try:
            return await self.run(text)
        finally:
            await self._detach()

    # -- persistence -----------------------------------------------------------------------------

    def _need_store(self) -> PersistenceStore | SessionStore:
        if self.store is None:
            raise AgentError("no persistence store: build the agent with .with_persistence(store)")
        return self.store

    def _store_cwd(self, store: SessionStore) -> str:
        return getattr(store, "conversation_cwd", None) or self._cwd

    async def _memory_writer(self, state: AgentState) -> SessionWriter:
        writer = await SessionWriter.create(self._memory, cwd=self._cwd)
        if state.messages or state.name:
            await append_state(writer, state)
        return writer

    async def _continue_in(self, writer: SessionWriter, cid: str | None, name: str | None) -> None:
        """Make ``writer``'s session the agent's (its context becomes the conversation)."""
        session = await self._live()
        await session.attach(writer, record_settings=True)
        self._conversation_id = cid
        self._name = name

    async def _attach_stored(self, store: SessionStore, cid: str) -> None:
        """Continue in session ``cid`` of ``store`` (created when new); its lock is held until
        :meth:`_detach`."""
        location = await locate_conversation(store, cid)
        if location is None:
            writer = await SessionWriter.create(store, cwd=self._store_cwd(store), session_id=cid)
        else:
            writer = await SessionWriter.open(store, location)
        session = await self._live()
        await session.attach(writer, record_settings=location is None)
        self._conversation_id = cid
        self._name = writer.name
        self._attached = True

    async def _detach(self) -> None:
        """Release the store's session: the conversation goes on in a private copy, so another
        agent (or ``opi resume``) may continue it meanwhile."""
        if not self._attached or self._session is None:
            return
        self._attached = False
        await self._session.sync()
        cid = self._conversation_id
        await self._continue_in(await self._memory_writer(self.state()), cid, self._name)

    async def save_conversation(self, conversation_id: str | None = None) -> str:
        """Store the conversation as ``conversation_id`` (default: the current one), appending
        only what the store does not have yet; returns the id."""
        store = self._need_store()
        if not (conversation_id or self._conversation_id):
            raise AgentError("no conversation id: pass one (generate_id() makes one) or use run_with_id")
        cid = check_conversation_id(conversation_id or self._conversation_id or "")
        await (await self._live()).sync()
        if isinstance(store, SessionStore):
            await store_conversation(store, cid, self.state(), cwd=self._store_cwd(store))
        else:
            await store.store_conversation(cid, self.state())
        self._conversation_id = cid
        return cid

    async def load_conversation(self, conversation_id: str) -> bool:
        """Replace the conversation with the stored one; False (and nothing changed) if there is none."""
        store = self._need_store()
        cid = check_conversation_id(conversation_id)
        if isinstance(store, SessionStore):
            state = await get_conversation(store, cid)
        else:
            state = await store.get_conversation(cid)
        if state is None:
            return False
        await self._continue_in(await self._memory_writer(state), cid, state.name)
        return True

    async def list_conversations(self, limit: int = 10, offset: int = 0) -> list[ConversationMetadata]:
        """Stored conversations, most recently updated first."""
        store = self._need_store()
        if isinstance(store, PersistenceStore):
            return await store.list_conversations(limit, offset)
        return await list_conversations(store, limit, offset)

    async def delete_conversation(self, conversation_id: str) -> None:
        """Delete a stored conversation (the one the agent holds stays in memory)."""
        store = self._need_store()
        cid = check_conversation_id(conversation_id)
        if isinstance(store, PersistenceStore):
            await store.delete_conversation(cid)
        else:
            await delete_conversation(store, cid)
        if cid == self._conversation_id:
            self._conversation_id = None

    def set_conversation_name(self, name: str | None) -> None:
        """Name the conversation (stored with it; shown by ``opi sessions``)."""
        self._name = name
        if name is not None and self._session is not None:
            self._session.set_name(name)

    # -- realtime --------------------------------------------------------------------------------

    def _realtime_client(self) -> RealtimeClient:
        if self._realtime is None:
            self._realtime = realtime_client(self._setup.realtime, self.loop.options)
        return self._realtime

    @property
    def realtime(self) -> RealtimeClient:
        """The Realtime client (ConfigError unless built with ``with_websocket()``)."""
        return self._realtime_client()

    async def connect_realtime(self, model: str = "gpt-realtime") -> None:
        """Connect to the Realtime API; the agent's system prompt and tools (MCP servers' too,
        once they are up) are declared at once."""
        if self._setup.mcp is not None and self._realtime is None:
            await self._setup.mcp.ready()
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

    # -- closing ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Store everything, release the session, close the Realtime connection and stop MCP
        servers (the persistence store belongs to the caller). The agent may be used again
        afterwards (MCP servers start again with the next request)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            self._conversation_id = None
        await self.close_realtime()
        if self._setup.mcp is not None:
            await self._setup.mcp.aclose()

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Agent(model={self.model.ref!r}, tools={[t.name for t in self.tools]!r})"

