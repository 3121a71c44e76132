"""Stream events a provider yields while a response arrives, and the error it ends with.

A provider never raises for a failed request: it yields ``StreamStart`` first, then
content events, and finally exactly one ``StreamDone`` (success) or ``StreamError``
(failure, carrying the partial message with ``stop_reason`` ``error`` or ``aborted`` and a
classified :class:`ProviderError`). Every ``partial`` is an immutable snapshot.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeAlias

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.ai.types import AssistantContent, AssistantMessage, ToolCall, content_to_json

__all__ = [
    "AssistantStreamEvent",
    "ContentDelta",
    "ContentEnd",
    "ContentKind",
    "ContentStart",
    "ErrorKind",
    "ProviderError",
    "SnapshotRef",
    "StreamDone",
    "StreamError",
    "StreamStart",
    "assistant_event_to_json",
]

ContentKind = Literal["text", "thinking", "toolcall"]
ErrorKind = Literal[
    "rate_limit",  # 429 (retry, honour retry-after)
    "quota",  # 429 insufficient_quota / spend limit: never retry
    "overloaded",  # 529, overloaded_error, 503
    "server",  # other 5xx
    "network",  # connection refused/reset/dropped, timeouts
    "incomplete",  # EOF without a finish reason
    "malformed",  # a data: line that is not JSON
    "overflow",  # context window exceeded: compaction, never a plain retry
    "auth",  # 401/403
    "bad_request",  # other 4xx
    "aborted",  # the user aborted
    "other",
]

RETRYABLE_KINDS: frozenset[str] = frozenset(
    {"rate_limit", "overloaded", "server", "network", "incomplete"}
)


@record
class ProviderError:
    """Why a request failed, classified for the retry and compaction logic.

    Attributes:
        kind: see :data:`ErrorKind`.
        message: one line for humans, the provider's own words where it gave some.
        status: HTTP status, if the failure came with one.
        retry_after_ms: the server's requested wait, when it sent one.
    """

    kind: ErrorKind
    message: str
    status: int | None = None
    retry_after_ms: int | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


class SnapshotRef(Protocol):
    """A handle that materialises the partial message as it was at one event."""

    def message(self) -> AssistantMessage: ...


@record
class StreamStart:
    partial: AssistantMessage
    type: Literal["start"] = "start"


@record
class ContentStart:
    kind: ContentKind
    content_index: int
    snapshot: SnapshotRef
    type: Literal["content_start"] = "content_start"

    @property
    def partial(self) -> AssistantMessage:
        return self.snapshot.message()


@record
class ContentDelta:
    kind: ContentKind
    content_index: int
    delta: str
    snapshot: SnapshotRef
    type: Literal["content_delta"] = "content_delta"

    @property
    def partial(self) -> AssistantMessage:
        return self.snapshot.message()


@record
class ContentEnd:
    kind: ContentKind
    content_index: int
    content: AssistantContent
    snapshot: SnapshotRef
    type: Literal["content_end"] = "content_end"

    @property
    def partial(self) -> AssistantMessage:
        return self.snapshot.message()


@record
class StreamDone:
    message: AssistantMessage
    type: Literal["done"] = "done"


@record
class StreamError:
    message: AssistantMessage
    error: ProviderError
    type: Literal["error"] = "error"


AssistantStreamEvent: TypeAlias = (
    StreamStart | ContentStart | ContentDelta | ContentEnd | StreamDone | StreamError
)


def assistant_event_to_json(ev: ContentStart | ContentDelta | ContentEnd) -> dict[str, JsonValue]:
    """The ``assistantMessageEvent`` object of a ``message_update`` (PROTOCOL.md §3)."""
    if isinstance(ev, ContentStart):
        return {"type": f"{ev.kind}_start", "contentIndex": ev.content_index}
    if isinstance(ev, ContentDelta):
        return {"type": f"{ev.kind}_delta", "contentIndex": ev.content_index, "delta": ev.delta}
    d: dict[str, JsonValue] = {"type": f"{ev.kind}_end", "contentIndex": ev.content_index}
    if isinstance(ev.content, ToolCall):
        d["toolCall"] = content_to_json(ev.content)
    elif ev.kind == "text":
        d["content"] = getattr(ev.content, "text", "")
    else:
        d["content"] = getattr(ev.content, "thinking", "")
    return d
