"""The session-level hook points of :class:`~opi_cli.session.agent_session.AgentSession`.

The loop's six hooks (:class:`~opi_cli.agent.hooks.AgentHooks`) see tool calls and turns;
these four see the session around them, at the moments Claude Code's settings hooks name:

- ``session_start(source)``: the session started (``startup``), was resumed (``resume``),
  replaced by ``/new`` (``clear``) or compacted (``compact``). Text returned is added to the
  system prompt for the rest of the session (until the next start).
- ``user_prompt_submit(text)``: before a prompt is sent. A verdict may block it (the
  session raises :class:`PromptBlocked`, nothing is sent or stored) or add context to it.
- ``stop(stop_hook_active)``: the agent is about to stop. A verdict that blocks sends its
  reason to the model as the next message and the run goes on; ``stop_hook_active`` tells
  the hook it already did so (at most :data:`MAX_STOP_CONTINUES` times in a row).
- ``pre_compact(trigger, instructions)``: before a compaction (``manual`` or ``auto``).

Several sources (settings shell hooks, Python extensions, a library user) are combined with
:func:`compose_session_hooks`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from opi_cli._util.ids import now_ms
from opi_cli._util.records import record
from opi_cli.agent.agent import LoopAgent
from opi_cli.ai.types import ImageContent, TextContent, UserMessage
from opi_cli.errors import OpiError

__all__ = [
    "MAX_STOP_CONTINUES",
    "CompactTrigger",
    "PromptBlocked",
    "PromptVerdict",
    "SessionHooks",
    "SessionStartSource",
    "StartContext",
    "StopVerdict",
    "compose_session_hooks",
    "submitted_prompt",
]

SessionStartSource = Literal["startup", "resume", "clear", "compact"]
CompactTrigger = Literal["manual", "auto"]

MAX_STOP_CONTINUES = 8
"""How many times in a row Stop hooks may keep a run going (a hook that always blocks
would otherwise loop, and spend, forever)."""


class PromptBlocked(OpiError):
    """A ``user_prompt_submit`` hook refused the prompt; it was not sent."""


@record
class PromptVerdict:
    """``block`` refuses the prompt (``reason`` says why, to the user); ``context`` is added to it."""

    block: bool = False
    reason: str | None = None
    context: str | None = None


@record
class StopVerdict:
    """``block`` keeps the agent going, with ``reason`` as the next message to the model."""

    block: bool = False
    reason: str | None = None


@record
class SessionHooks:
    """Optional callables, each awaited at its moment (``None`` = nothing to do)."""

    session_start: Callable[[SessionStartSource], Awaitable[str | None]] | None = None
    user_prompt_submit: Callable[[str], Awaitable[PromptVerdict | None]] | None = None
    stop: Callable[[bool], Awaitable[StopVerdict | None]] | None = None
    pre_compact: Callable[[CompactTrigger, str | None], Awaitable[None]] | None = None


def _joined(parts: list[str | None]) -> str | None:
    texts = [p for p in parts if p]
    return "\n\n".join(texts) if texts else None


def compose_session_hooks(*layers: SessionHooks | None) -> SessionHooks:
    """One :class:`SessionHooks` running ``layers`` in order (``None`` layers are skipped).

    Context texts are joined; the first layer that blocks a prompt or a stop wins and
    later layers are not asked; every ``pre_compact`` runs.
    """
    hs = [h for h in layers if h is not None]
    if len(hs) == 1:
        return hs[0]
    starts = [h.session_start for h in hs if h.session_start is not None]
    prompts = [h.user_prompt_submit for h in hs if h.user_prompt_submit is not None]
    stops = [h.stop for h in hs if h.stop is not None]
    compacts = [h.pre_compact for h in hs if h.pre_compact is not None]

    async def start(source: SessionStartSource) -> str | None:
        return _joined([await fn(source) for fn in starts])

    async def prompt(text: str) -> PromptVerdict | None:
        contexts: list[str | None] = []
        for fn in prompts:
            verdict = await fn(text)
            if verdict is None:
                continue
            if verdict.block:
                return verdict
            contexts.append(verdict.context)
        context = _joined(contexts)
        return PromptVerdict(context=context) if context else None

    async def stop(active: bool) -> StopVerdict | None:
        for fn in stops:
            verdict = await fn(active)
            if verdict is not None and verdict.block:
                return verdict
        return None

    async def compact(trigger: CompactTrigger, instructions: str | None) -> None:
        for fn in compacts:
            await fn(trigger, instructions)

    return SessionHooks(
        session_start=start if starts else None,
        user_prompt_submit=prompt if prompts else None,
        stop=stop if stops else None,
        pre_compact=compact if compacts else None,
    )


async def submitted_prompt(
    hooks: SessionHooks, text: str, images: Sequence[ImageContent]
) -> str | UserMessage:
    """The prompt as it will be sent, after ``user_prompt_submit`` (the text itself when
    there is no hook or nothing to add; a message with the added context as a second block).

    Raises:
        PromptBlocked: a hook refused the prompt.
    """
    if hooks.user_prompt_submit is None:
        return text
    verdict = await hooks.user_prompt_submit(text)
    if verdict is None:
        return text
    if verdict.block:
        raise PromptBlocked(f"Prompt not sent: a UserPromptSubmit hook blocked it: {verdict.reason or 'no reason given'}")
    if not verdict.context:
        return text
    return UserMessage((TextContent(text), TextContent(verdict.context), *images), now_ms())


class StartContext:
    """Keeps what ``session_start`` hooks said at the end of the agent's system prompt.

    Each start replaces the previous context; a system prompt set by someone else in the
    meantime becomes the new base.
    """

    def __init__(self) -> None:
        self._base: str | None = None
        self._shown: str | None = None

    def apply(self, agent: LoopAgent, context: str | None) -> None:
        current = agent.options.system_prompt
        base = self._base if self._base is not None and current == self._shown else current
        shown = f"{base}\n\n# Session start context\n\n{context}" if context else base
        self._base, self._shown = base, shown
        if shown != current:
            agent.set_system_prompt(shown)
