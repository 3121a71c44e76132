"""A scripted in-process provider for tests, examples and demos (no HTTP).

Give it a list of :class:`FauxResponse` (or callables that build one from the request);
each call to ``stream`` plays the next one as real stream events, split into small
deltas, honouring the abort signal and optional per-delta delays. ``requests`` records
every context it was asked to answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from opi_cli._util.jsonio import JsonValue, dumps
from opi_cli._util.records import record
from opi_cli.ai.events import AssistantStreamEvent, ProviderError
from opi_cli.ai.history import repair_history
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, MessageBuilder, StreamOptions, guarded
from opi_cli.ai.types import Usage

__all__ = ["FauxProvider", "FauxResponse", "FauxToolCall", "faux_model"]


@record
class FauxToolCall:
    name: str
    arguments: dict[str, JsonValue]
    id: str | None = None


@record
class FauxResponse:
    """One scripted reply. ``error`` makes the request fail (after ``text`` if any)."""

    text: str = ""
    thinking: str = ""
    tool_calls: Sequence[FauxToolCall] = ()
    error: ProviderError | None = None
    usage: Usage | None = None
    stop: Literal["auto", "stop", "length"] = "auto"
    chunk_size: int = 4
    delay_s: float = 0.0


Script = FauxResponse | Callable[[LlmContext], FauxResponse]


def faux_model(model_id: str = "faux-model", *, context_window: int = 128000, reasoning: bool = False,
               images: bool = True) -> Model:
    return Model(
        model_id, "faux", "faux", "faux://", reasoning=reasoning,
        input=("text", "image") if images else ("text",), context_window=context_window,
    )


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))]


@dataclass
class FauxProvider:
    """Plays ``responses`` in order; past the end it answers with an error."""

    responses: list[Script] = field(default_factory=list)
    requests: list[LlmContext] = field(default_factory=list)
    _next: int = 0

    def push(self, *responses: Script) -> None:
        self.responses.extend(responses)

    async def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        # the history repair every wire adapter makes: ``requests`` shows what would be sent
        context = replace(context, messages=tuple(repair_history(context.messages)))
        self.requests.append(context)
        b = MessageBuilder(model)
        async for ev in guarded(b, self._play(b, context, options)):
            yield ev

    async def _play(
        self, b: MessageBuilder, context: LlmContext, options: StreamOptions
    ) -> AsyncGenerator[AssistantStreamEvent, None]:
        yield b.start()
        signal = options.signal
        if signal and signal.aborted:
            yield b.fail(ProviderError("aborted", "Request was aborted."), aborted=True)
            return
        if self._next >= len(self.responses):
            yield b.fail(ProviderError("other", "faux provider: script exhausted"))
            return
        script = self.responses[self._next]
        self._next += 1
        resp = script(context) if callable(script) else script

        async def pause() -> bool:
            if resp.delay_s:
                await asyncio.sleep(resp.delay_s)
            return bool(signal and signal.aborted)

        blocks: list[tuple[str, str, FauxToolCall | None]] = []
        if resp.thinking:
            blocks.append(("thinking", resp.thinking, None))
        if resp.text:
            blocks.append(("text", resp.text, None))
        for tc in resp.tool_calls:
            blocks.append(("toolcall", dumps(tc.arguments), tc))
        for key, (kind, body, call) in enumerate(blocks):
            if call is not None:
                yield b.open(key, "toolcall", tool_id=call.id or f"faux_call_{self._next}_{key}", tool_name=call.name)
            else:
                yield b.open(key, kind)  # type: ignore[arg-type]
            for piece in _chunks(body, resp.chunk_size):
                if await pause():
                    yield b.fail(ProviderError("aborted", "Request was aborted."), aborted=True)
                    return
                yield b.append(key, piece)
            end = b.close(key)
            if end is not None:
                yield end
        if resp.error is not None:
            yield b.fail(resp.error)
            return
        chars = sum(len(m.content.__repr__()) for m in context.messages) + len(context.system_prompt)
        usage = resp.usage or Usage(max(1, chars // 4), max(1, sum(len(x[1]) for x in blocks) // 4))
        b.set_usage(usage)
        stop = resp.stop
        if stop == "auto":
            yield b.done("toolUse" if resp.tool_calls else "stop")
        else:
            yield b.done(stop)
