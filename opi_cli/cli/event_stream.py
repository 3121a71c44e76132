"""The JSON event writer of ``--json`` and ``--mode rpc``: one line per event, linear in the reply.

Two shapes (PROTOCOL.md §3, docs/rpc.md):

- **linear** (the default): a ``message_update`` carries its delta alone; ``text_end`` and
  ``thinking_end`` carry no accumulated text; ``turn_end`` and ``agent_end`` list their
  messages without ``content``. A message's content is written in full once, on its
  ``message_end`` (and as deltas while it streams), so the output is about twice the reply.
- **snapshots** (``--json-snapshots``): pi's shape, every ``message_update`` also carries the
  whole message so far. Its size grows with the square of the reply (a 1 MB reply in 64-byte
  deltas writes about 8 GB); it exists for consumers written against pi's stream.

Deltas of one content block that follow each other are merged into one ``message_update``
(its ``delta`` is their concatenation) until :data:`COALESCE_S` has passed since the first of
them, another line is written, or :data:`MAX_PENDING` characters are waiting. A reader still
sees text within a twentieth of a second, and a fast stream costs a few lines per second
instead of one line of framing per token.

On a slow stream the window alone would still cost a line of framing (~100 bytes) per token
or two, several times the text itself. So past :data:`FREE_FRAMING` bytes of framing in a
message, the window's timer writes the waiting deltas only while the framing written stays
within :data:`FRAMING_RATIO` of the delta text taken in; otherwise the deltas wait for more
text (or for any other line, which writes them at once). Whatever the pace, the deltas of a
reply cost at most 1.5× its text plus 16 KB, and the whole stream stays within 3× the reply
(about 2.5×, the message written whole once on ``message_end`` included). Likewise, of the ``tool_execution_update`` events
of one tool that follow each other within that time only the latest is written: each carries
the output so far (its tail), so the latest says everything the others did.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Iterable
from typing import IO

from opi_cli._util.jsonio import JsonValue, dumps_bytes
from opi_cli.agent.events import (
    AgentEnd,
    AgentEvent,
    MessageStart,
    MessageUpdate,
    ToolExecutionUpdate,
    TurnEnd,
)
from opi_cli.agent.messages import agent_message_to_json
from opi_cli.ai.events import ContentDelta, ContentEnd

__all__ = ["COALESCE_S", "FRAMING_RATIO", "FREE_FRAMING", "MAX_PENDING", "EventWriter", "Shape", "event_json"]

COALESCE_S = 0.05
MAX_PENDING = 256 * 1024
FREE_FRAMING = 16 * 1024
"""Framing bytes a message may spend on timely delta lines before :data:`FRAMING_RATIO` applies."""
FRAMING_RATIO = 0.5
"""Past :data:`FREE_FRAMING`, a timer's line is written only while framing ≤ this × the delta text."""


def _without_content(message: JsonValue) -> JsonValue:
    if isinstance(message, dict):
        return {k: v for k, v in message.items() if k != "content"}
    return message


def event_json(ev: AgentEvent, *, snapshots: bool = False) -> dict[str, JsonValue]:
    """The wire form of ``ev`` in the linear shape, or pi's snapshot shape."""
    d = ev.to_json()
    if isinstance(ev, MessageUpdate):
        if snapshots:
            d = {"type": ev.type, "message": agent_message_to_json(ev.message), **d}
            src = ev.source
            if isinstance(src, ContentEnd) and src.kind in ("text", "thinking"):
                d["assistantMessageEvent"]["content"] = getattr(src.content, src.kind, "")
        return d
    if snapshots:
        return d
    if isinstance(ev, TurnEnd):
        d["message"] = _without_content(d["message"])
        d["toolResults"] = [_without_content(m) for m in d["toolResults"]]
    elif isinstance(ev, AgentEnd):
        d["messages"] = [_without_content(m) for m in d["messages"]]
    return d


Shape = Callable[[AgentEvent], Iterable[JsonValue]]
"""Turns one event into the lines to write (none, one or several)."""


class _Pending:
    """Deltas of one content block waiting to be written as one ``message_update``."""

    __slots__ = ("last", "parts", "size")

    def __init__(self, last: ContentDelta) -> None:
        self.last = last
        self.parts = [last.delta]
        self.size = len(last.delta)

    def merged(self) -> MessageUpdate:
        src = self.last
        delta = self.parts[0] if len(self.parts) == 1 else "".join(self.parts)
        return MessageUpdate(ContentDelta(src.kind, src.content_index, delta, src.snapshot))


class EventWriter:
    """Writes events (and other JSON lines) to ``out``, each line flushed at once.

    Call it with every event; call :meth:`line` for anything else (a header, a response);
    call :meth:`flush` before the output is handed over or closed. ``shape`` replaces the
    wire form (the Claude Code stream-json alias uses it); merged deltas reach it as one
    ``MessageUpdate`` whose delta is their concatenation and whose snapshot is the last one.
    """

    def __init__(
        self, out: IO[bytes], *, snapshots: bool = False, shape: Shape | None = None, coalesce_s: float = COALESCE_S
    ) -> None:
        self.out = out
        self.snapshots = snapshots
        self.coalesce_s = coalesce_s
        self.shape: Shape = shape or (lambda ev: (event_json(ev, snapshots=snapshots),))
        self.broken = False
        """True once the reader went away; the run (and the session) go on."""
        self.error: OSError | None = None
        """What stopped the writing when it was not the reader going away (a full device)."""
        self._pending: _Pending | ToolExecutionUpdate | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._text_in = 0  # delta characters taken in during this message
        self._framing = 0  # bytes of delta lines written during this message, beyond their text
        self._line_framing = 0  # the framing of the last delta line (the next one's estimate)

    def _write(self, obj: JsonValue) -> int:
        """Write ``obj`` as a line; the bytes written (0 once the reader is gone)."""
        if self.broken:
            return 0
        data = dumps_bytes(obj) + b"\n"
        try:
            self.out.write(data)
            self.out.flush()
            return len(data)
        except (BrokenPipeError, ValueError):  # ValueError: the stream was closed under us
            self.broken = True
        except OSError as exc:  # a full device (/dev/full): stop writing, the run and its session go on
            self.broken = True
            if exc.errno != errno.EIO:  # EIO: a hung-up terminal, the reader went away as with a pipe
                self.error = exc
        return 0

    def line(self, obj: JsonValue) -> None:
        """Write one JSON value as a line, after any deltas still waiting."""
        self.flush()
        self._write(obj)

    def __call__(self, ev: AgentEvent) -> None:
        if self.coalesce_s > 0:
            if isinstance(ev, MessageUpdate) and isinstance(ev.source, ContentDelta):
                self._delta(ev.source)
                return
            if isinstance(ev, ToolExecutionUpdate):
                self._tool_update(ev)
                return
        self.flush()
        if isinstance(ev, MessageStart):
            self._text_in = self._framing = self._line_framing = 0
        for obj in self.shape(ev):
            self._write(obj)

    def _tool_update(self, ev: ToolExecutionUpdate) -> None:
        p = self._pending
        if isinstance(p, ToolExecutionUpdate) and p.tool_call_id == ev.tool_call_id:
            self._pending = ev  # the output so far: the latest update supersedes the one waiting
            return
        self.flush()
        self._pending = ev
        self._arm()

    def _delta(self, src: ContentDelta) -> None:
        p = self._pending
        if isinstance(p, _Pending) and p.last.kind == src.kind and p.last.content_index == src.content_index:
            p.parts.append(src.delta)
            p.size += len(src.delta)
            p.last = src
        else:
            self.flush()
            p = self._pending = _Pending(src)
            self._arm()
        self._text_in += len(src.delta)
        if p.size >= MAX_PENDING:
            self.flush()

    def _arm(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next line written is the moment
        self._timer = loop.call_later(self.coalesce_s, self.tick)

    def tick(self) -> None:
        """The window's timer: write what waits, unless deltas would overspend on framing
        (see the module docstring); then they wait another window."""
        self._timer = None
        p = self._pending
        if isinstance(p, _Pending) and not self.snapshots:
            spent = self._framing + self._line_framing
            if spent > FREE_FRAMING and spent > FRAMING_RATIO * self._text_in:
                self._arm()
                return
        self.flush()

    def flush(self) -> None:
        """Write the waiting deltas, if any, as one ``message_update``."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        p, self._pending = self._pending, None
        if p is None:
            return
        written = 0
        for obj in self.shape(p.merged() if isinstance(p, _Pending) else p):
            written += self._write(obj)
        if isinstance(p, _Pending) and written:
            self._line_framing = max(written - p.size, 0)
            self._framing += self._line_framing
