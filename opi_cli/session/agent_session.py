"""AgentSession: the Agent bound to a session store, with compaction and the session events.

Events become entries as they happen, in order, through one writer task: every
``message_end`` is queued at once and the queue is drained right before each model
request, so the user's prompt is stored before the first request (promise 1); the store
is synced at every ``turn_end`` and on close (promise 2). A store failure never stops the
run: it becomes one ``persistence_error`` event per cause and the conversation goes on.

Compaction (PROTOCOL.md §6): before a prompt and after a run when the context passes
``window - reserveTokens``; on a context overflow the error is dropped from the context,
the session compacts and the run is retried once; ``compact()`` for ``/compact``. One
compaction at a time; a second trigger is skipped and says so. ``prompt`` returns only
after any compaction and retry it caused, so non-interactive runs wait for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from opi_cli._util.abort import AbortController, AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import LoopAgent
from opi_cli.agent.events import (
    AgentEvent,
    CompactionEnd,
    CompactionReason,
    CompactionStart,
    MessageEnd,
    ModelChanged,
    PersistenceErrorEvent,
    SessionInfoChanged,
    ThinkingLevelChanged,
    TurnEnd,
)
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.errors import is_overflow_message
from opi_cli.ai.model import Model
from opi_cli.ai.types import AssistantMessage, ImageContent, ThinkingLevel
from opi_cli.session.compaction import (
    CompactionLock,
    CompactionOutcome,
    CompactionRequest,
    CompactionSettings,
    ContextUsage,
    compact,
    context_tokens,
    preview,
    should_compact,
)
from opi_cli.session.entries import MessageEntry, header_to_json
from opi_cli.session.session_hooks import (
    MAX_STOP_CONTINUES,
    SessionHooks,
    SessionStartSource,
    StartContext,
    submitted_prompt,
)
from opi_cli.session.writer import SessionWriter

if TYPE_CHECKING:
    from opi_cli.session.compaction import Summarizer  # loaded with the summary code, on first use

__all__ = ["AgentSession"]


Listener = Callable[[AgentEvent], None]
_Op = Callable[[], Awaitable[object]]

OVERFLOW_FAILED = (
    "Context overflow recovery failed after one compact-and-retry attempt. "
    "Try reducing context or switching to a larger-context model."
)


class AgentSession:
    """One conversation: a :class:`~opi_cli.agent.agent.LoopAgent`, the session it is stored in, and subscribers.

    Create with :meth:`start` (inside the event loop); always ``await close()``.
    """

    def __init__(
        self,
        agent: LoopAgent,
        writer: SessionWriter,
        compaction: CompactionSettings | None = None,
        *,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.agent = agent
        self.writer = writer
        self.compaction = compaction or CompactionSettings()
        self.summarizer = summarizer
        """Writes compaction summaries instead of the model (``None``: the model does)."""
        self._compaction_lock = CompactionLock()
        self._compaction_abort: AbortController | None = None
        self._listeners: list[Listener] = []
        self._failed: set[str] = set()
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._unsub = agent.subscribe(self._on_event)
        self.session_hooks = SessionHooks()  # settings hooks, extensions (compose_session_hooks)
        self._start_context = StartContext()
        user_transform = agent.options.hooks.transform_context

        async def before_request(messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
            await self.flush()
            return await user_transform(messages, signal) if user_transform else messages

        agent.options.hooks = replace(agent.options.hooks, transform_context=before_request)

    @classmethod
    async def start(
        cls,
        agent: LoopAgent,
        writer: SessionWriter,
        *,
        record_settings: bool,
        compaction: CompactionSettings | None = None,
        summarizer: Summarizer | None = None,
        session_hooks: SessionHooks | None = None,
    ) -> AgentSession:
        """Bind and start the writer task; a new session records model and thinking level first.

        ``session_hooks`` run from here on, starting with ``session_start`` (``startup`` for
        a new session, ``resume`` otherwise).
        """
        session = cls(agent, writer, compaction, summarizer=summarizer)
        if session_hooks is not None:
            session.session_hooks = session_hooks
        session.restart_writer()
        if record_settings:
            m = agent.model
            session._enqueue(lambda: writer.append_model_change(m.provider, m.id))
            level = agent.thinking_level
            session._enqueue(lambda: writer.append_thinking_level_change(level))
            await session.flush()
        await session._session_start("startup" if record_settings else "resume")
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

    def emit(self, ev: AgentEvent) -> None:
        """Report an event from a layer around the agent (the permission gate) to subscribers."""
        self._emit(ev)

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
    def restart_writer(self) -> None:
        """Run the writer task in the running event loop (at start, and when a program calls
        ``asyncio.run`` again: the loop the task ran in has ended). Queued entries are kept."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        pending: list[_Op] = []
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        self._queue = asyncio.Queue()
        for op in pending:
            self._queue.put_nowait(op)
        self._task = loop.create_task(self._drain(), name="opi-session-writer")

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

    async def sync(self) -> None:
        """Store every queued entry and make the session durable (fsync / commit) now."""
        self._enqueue(self.writer.sync)
        await self.flush()

    # -- actions
    async def prompt(self, text: str, images: Sequence[ImageContent] = ()) -> list[AgentMessage]:
        """Send a message; returns after the run and any compaction/retry it caused.

        Raises:
            PromptBlocked: a ``user_prompt_submit`` hook refused it (nothing was sent).
        """
        message = await submitted_prompt(self.session_hooks, text, images)
        await self._maybe_compact("threshold", include_aborted=True)
        added = await (self.agent.prompt(message, images) if isinstance(message, str) else self.agent.prompt(message))
        added += await self._after_run()
        return added + await self._stop_hooks()

    async def _stop_hooks(self) -> list[AgentMessage]:
        """Ask ``stop`` hooks before stopping; a blocking one sends its reason and goes on."""
        added: list[AgentMessage] = []
        for attempt in range(MAX_STOP_CONTINUES):
            last = self.agent.last_assistant
            if self.session_hooks.stop is None or last is None or last.stop_reason != "stop":
                break
            verdict = await self.session_hooks.stop(attempt > 0)
            if verdict is None or not verdict.block:
                break
            added += await self.agent.prompt(f"Stop hook feedback:\n{verdict.reason or ''}".rstrip())
            added += await self._after_run()
        return added

    async def _session_start(self, source: SessionStartSource) -> None:
        if self.session_hooks.session_start is not None:
            self._start_context.apply(self.agent, await self.session_hooks.session_start(source))

    async def _after_run(self) -> list[AgentMessage]:
        last = self.agent.last_assistant
        if last is not None and last.stop_reason == "error" and self._is_overflow(last):
            return await self._recover_overflow(last)
        if last is not None and last.stop_reason != "aborted":
            await self._maybe_compact("threshold", include_aborted=False)
        return []

    def _is_overflow(self, m: AssistantMessage) -> bool:
        """Whether a failed reply of the current model says its context was too long."""
        model = self.agent.model
        if m.provider != model.provider or m.model != model.id:
            return False
        return is_overflow_message(m.error_message or "")

    async def _recover_overflow(self, failed: AssistantMessage) -> list[AgentMessage]:
        if failed in self.agent.messages:
            self.agent.messages.remove(failed)  # stays in the file; never sent again
        if not self.compaction.enabled:
            return []
        outcome = await self._run_compaction("overflow", will_retry=True)
        if outcome.status != "compacted":
            return []
        msgs = self.agent.messages
        while (
            msgs and isinstance(msgs[-1], AssistantMessage) and msgs[-1].stop_reason in ("error", "aborted")
        ):
            msgs.pop()  # the failed reply is in the file (and the rebuilt context), not in the retry
        added = await self.agent.continue_()
        last = self.agent.last_assistant
        if last is not None and last.stop_reason == "error" and self._is_overflow(last):
            self.agent.messages.remove(last)
            self._emit(CompactionStart("overflow"))
            self._emit(CompactionEnd("overflow", None, False, False, OVERFLOW_FAILED))
        return added

    # -- compaction
    def context_usage(self) -> ContextUsage:
        """The context size as pi computes it: last reported usage + estimates after it."""
        return context_tokens(self.agent.messages)

    async def _maybe_compact(self, reason: CompactionReason, *, include_aborted: bool) -> None:
        if not self.compaction.enabled or not self.agent.messages:
            return
        last = self.agent.last_assistant
        if last is not None and last.stop_reason == "aborted" and not include_aborted:
            return
        usage = self.context_usage()
        if should_compact(usage.tokens, self.agent.model.context_window, self.compaction):
            await self._run_compaction(reason, will_retry=False)

    async def compact(self, focus: str | None = None) -> CompactionOutcome:
        """``/compact [focus]``: compact now (waits for the current run to end)."""
        await self.agent.wait_for_idle()
        return await self._run_compaction("manual", will_retry=False, focus=focus)

    async def compaction_preview(self) -> list[str]:
        """``/compact --dry-run``: what would be summarised and kept; changes nothing."""
        await self.flush()
        return preview(await self.writer.context_entries(), self.compaction).lines()

    async def _run_compaction(
        self, reason: CompactionReason, *, will_retry: bool, focus: str | None = None
    ) -> CompactionOutcome:
        if self.session_hooks.pre_compact is not None:
            await self.session_hooks.pre_compact("manual" if reason == "manual" else "auto", focus)
        self._emit(CompactionStart(reason))
        async with self._compaction_lock.acquire(reason) as got:
            if not got:
                message = self._compaction_lock.skipped_message()
                self._emit(CompactionEnd(reason, None, False, False, message))
                return CompactionOutcome("skipped", reason, message=message)
            controller = self._compaction_abort = AbortController()
            try:
                outcome = await self._compact_locked(reason, controller.signal, focus)
            finally:
                self._compaction_abort = None
        result = outcome.result.to_json() if outcome.result is not None else None
        retry = will_retry and outcome.status == "compacted"
        self._emit(CompactionEnd(reason, result, outcome.aborted, retry, outcome.message))
        if outcome.status == "compacted":
            await self._session_start("compact")
        return outcome

    async def _compact_locked(
        self, reason: CompactionReason, signal: AbortSignal, focus: str | None
    ) -> CompactionOutcome:
        await self.flush()
        entries = await self.writer.context_entries()
        o = self.agent.options
        outcome = await compact(
            CompactionRequest(
                entries,
                o.provider,
                o.model,
                self.compaction,
                reason,
                api_key=o.stream_options.api_key,
                signal=signal,
                timeouts=o.stream_options.timeouts,
                focus=focus,
                thinking_level=o.thinking_level if o.model.reasoning else "off",
                summarizer=self.summarizer,
            ),
            None,  # the session's own lock is held (see _run_compaction)
        )
        if outcome.result is not None:
            r = outcome.result
            await self.writer.append_compaction(r.summary, r.first_kept_entry_id, r.tokens_before, r.details)
            await self.writer.sync()
            self.agent.replace_messages((await self.writer.context()).messages)
        return outcome

    def add_message(self, message: AgentMessage) -> None:
        """Append a message outside a run (``!cmd`` output) to the context and the session."""
        self.agent.messages.append(message)
        self._enqueue(lambda: self.writer.append_message(message))

    def steer(self, text: str) -> None:
        self.agent.steer(text)

    def follow_up(self, text: str) -> None:
        self.agent.follow_up(text)

    def abort(self, reason: str = "aborted") -> None:
        """Abort the run and any running compaction."""
        if self._compaction_abort is not None:
            self._compaction_abort.abort(reason)
        self.agent.abort(reason)

    def set_model(self, model: Model) -> None:
        self.agent.set_model(model)

    def set_thinking_level(self, level: ThinkingLevel) -> None:
        self.agent.set_thinking_level(level)

    def set_name(self, name: str) -> None:
        self._enqueue(lambda: self.writer.append_session_info(name))
        self._emit(SessionInfoChanged(name))

    # -- moving between sessions and points (/new, /resume, /tree, /fork, /export)
    async def _replace_writer(self, writer: SessionWriter, *, new: bool) -> None:
        await self.flush()
        old, self.writer = self.writer, writer
        try:
            await old.close()
        except Exception as exc:
            self._report(exc)
        if new:
            m = self.agent.model
            self._enqueue(lambda: writer.append_model_change(m.provider, m.id))
            level = self.agent.thinking_level
            self._enqueue(lambda: writer.append_thinking_level_change(level))
        await self._reload()

    async def _reload(self) -> None:
        await self.flush()
        ctx = await self.writer.context()
        self.agent.replace_messages(ctx.messages)

    async def attach(self, writer: SessionWriter, *, record_settings: bool) -> None:
        """Continue in ``writer``'s session, which may be in another store (the library moves a
        conversation between its private memory store and the caller's store); the context
        is reloaded from it. ``record_settings``: a new session records model and level first."""
        await self.agent.wait_for_idle()
        await self._replace_writer(writer, new=record_settings)

    async def new_session(self, parent_session: str | None = None) -> None:
        """``/new``: an empty session in the same store and folder (``parentSession`` in its header)."""
        await self.agent.wait_for_idle()
        writer = await SessionWriter.create(
            self.writer.store, cwd=self.writer.header.cwd, parent_session=parent_session
        )
        await self._replace_writer(writer, new=True)
        await self._session_start("clear")

    async def list_sessions(self) -> list[tuple[str, str]]:
        from opi_cli.session import navigation  # browsing loads on first use: a run's start needs none of it
        return await navigation.session_choices(self.writer)

    async def switch_session(self, ref: str) -> None:
        """``/resume``: continue another session (a path or an id prefix)."""
        await self.agent.wait_for_idle()
        other = await SessionWriter.open(self.writer.store, ref, cwd=self.writer.header.cwd)
        await self._replace_writer(other, new=False)
        await self._session_start("resume")

    async def tree_points(self) -> list[tuple[str, str]]:
        from opi_cli.session import navigation
        await self.flush()
        return await navigation.tree_points(self.writer)

    async def navigate(self, entry_id: str) -> None:
        """``/tree``: move the current position to ``entry_id`` (recorded as a ``leaf`` entry)."""
        await self.agent.wait_for_idle()
        await self.flush()
        await self.writer.move_to(entry_id)
        await self.writer.sync()
        await self._reload()

    async def fork_points(self) -> list[tuple[str, str]]:
        from opi_cli.session import navigation
        await self.flush()
        return await navigation.fork_points(self.writer)

    async def fork(self, entry_id: str) -> str:
        """``/fork``: a new session with the history before the user message ``entry_id``;
        returns that message's text (for the editor)."""
        from opi_cli.session import navigation
        await self.agent.wait_for_idle()
        await self.flush()
        entry = await self.writer.entry(entry_id)
        text = navigation.user_text(entry.message) if isinstance(entry, MessageEntry) else ""
        forked = await self.writer.fork(entry.parent_id if entry is not None else None)
        await self._replace_writer(forked, new=False)
        return text

    async def export(self, target: str | None = None) -> str:
        from opi_cli.session import navigation
        await self.flush()
        return str(await navigation.export_to(self.writer, target, Path(self.writer.header.cwd)))

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
