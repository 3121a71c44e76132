"""The one history repair every wire adapter applies before it builds a request.

A conversation can hold what no API accepts: a failed or aborted assistant message (kept
in the session, never replayed), a tool call whose result never came (the run was aborted,
or a steering message arrived first) and a tool result whose call is gone. Every adapter
calls :func:`repair_history` once on the context's messages, so the request is valid
whichever API it goes to, and whoever calls the adapter (the agent loop, compaction, a
library user streaming directly).
"""

from __future__ import annotations

from collections.abc import Iterable

from opi_cli.ai.types import AssistantMessage, Message, TextContent, ToolCall, ToolResultMessage

__all__ = ["MISSING_RESULT_TEXT", "repair_history"]

MISSING_RESULT_TEXT = "No result provided"


def repair_history(messages: Iterable[Message]) -> list[Message]:
    """``messages`` made valid for any API.

    - Assistant messages that ended in ``error`` or ``aborted`` are dropped.
    - A tool result is kept only right after the assistant message that made its call
      (with other results between); a stray one is dropped.
    - A call left without a result gets an error result reading ``No result provided``,
      placed after the results that did come, before the next message.
    """
    out: list[Message] = []
    pending: dict[str, ToolCall] = {}
    for m in messages:
        if isinstance(m, ToolResultMessage):
            if pending.pop(m.tool_call_id, None) is not None:
                out.append(m)
            continue
        if isinstance(m, AssistantMessage) and m.stop_reason in ("error", "aborted"):
            continue
        _answer_missing(out, pending)
        pending = {c.id: c for c in m.tool_calls} if isinstance(m, AssistantMessage) else {}
        out.append(m)
    _answer_missing(out, pending)
    return out


def _answer_missing(out: list[Message], pending: dict[str, ToolCall]) -> None:
    ts = out[-1].timestamp if out else 0
    for c in pending.values():
        out.append(ToolResultMessage(c.id, c.name, (TextContent(MISSING_RESULT_TEXT),), True, ts))
