"""Typed events of the OpenAI Realtime API (wire-formats.md §5): what the client sends and receives.

Client events are :class:`ClientEvent` values (``type`` plus fields) with constructors for
the common ones. Server events are parsed by :func:`parse_server_event` into the
:class:`ServerEvent` subclass for their type (GA and beta names both), each keeping the
whole ``raw`` payload; types without a subclass stay plain ``ServerEvent``.
:class:`ToolCallExecuted` is not from the server: the client reports with it each function
call it ran for the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opi_cli._util.jsonio import JsonValue

__all__ = [
    "ClientEvent",
    "ConversationItemEvent",
    "ErrorEvent",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "OutputItemEvent",
    "RateLimitsUpdated",
    "RealtimeEvent",
    "ResponseCreated",
    "ResponseDone",
    "ServerEvent",
    "SessionEvent",
    "TextDelta",
    "TextDone",
    "ToolCallExecuted",
    "parse_server_event",
]

Json = dict[str, JsonValue]


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """An event sent to the server: its ``type``, its other fields, and an optional ``event_id``
    (the server names it in an ``error`` it causes)."""

    type: str
    fields: Mapping[str, JsonValue] = field(default_factory=dict)
    event_id: str | None = None

    def to_json(self) -> Json:
        out: Json = {"type": self.type, **self.fields}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        return out

    @classmethod
    def session_update(cls, session: Mapping[str, JsonValue]) -> ClientEvent:
        return cls("session.update", {"session": dict(session)})

    @classmethod
    def conversation_item_create(cls, item: Mapping[str, JsonValue]) -> ClientEvent:
        return cls("conversation.item.create", {"item": dict(item)})

    @classmethod
    def user_message(cls, text: str) -> ClientEvent:
        """A user text message item (follow it with :meth:`response_create`)."""
        return cls.conversation_item_create(
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        )

    @classmethod
    def function_call_output(cls, call_id: str, output: str) -> ClientEvent:
        return cls.conversation_item_create(
            {"type": "function_call_output", "call_id": call_id, "output": output}
        )

    @classmethod
    def response_create(cls, response: Mapping[str, JsonValue] | None = None) -> ClientEvent:
        return cls("response.create", {"response": dict(response)} if response else {})

    @classmethod
    def response_cancel(cls) -> ClientEvent:
        return cls("response.cancel")


RealtimeEvent = ClientEvent
"""The seed's name for a client event."""


def _str(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _dict(d: Mapping[str, Any], key: str) -> Json:
    v = d.get(key)
    return v if isinstance(v, dict) else {}


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """An event from the server: its ``type`` and the whole payload."""

    type: str
    raw: Json

    @property
    def event_id(self) -> str | None:
        v = self.raw.get("event_id")
        return v if isinstance(v, str) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEvent(ServerEvent):
    """``session.created`` / ``session.updated``."""

    session: Json


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseCreated(ServerEvent):
    response_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseDone(ServerEvent):
    """``response.done``: ``status`` is completed, cancelled, failed or incomplete."""

    response_id: str
    status: str
    output: list[JsonValue]
    usage: Json

    @property
    def function_calls(self) -> list[Json]:
        """The ``function_call`` items of this response."""
        return [i for i in self.output if isinstance(i, dict) and i.get("type") == "function_call"]

    @property
    def text(self) -> str:
        """The text of the response's message items."""
        parts: list[str] = []
        for item in self.output:
            if isinstance(item, dict) and item.get("type") == "message":
                for c in item.get("content") or []:
                    if isinstance(c, dict):
                        parts.append(_str(c, "text") or _str(c, "transcript"))
        return "".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta(ServerEvent):
    """A text fragment: ``response.output_text.delta`` (beta ``response.text.delta``) or an
    audio transcript delta."""

    response_id: str
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDone(ServerEvent):
    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCallArgumentsDelta(ServerEvent):
    response_id: str
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCallArgumentsDone(ServerEvent):
    """The whole arguments of one call; the client runs the tool after this event."""

    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputItemEvent(ServerEvent):
    """``response.output_item.added`` / ``.done``."""

    response_id: str
    output_index: int
    item: Json


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationItemEvent(ServerEvent):
    """``conversation.item.added`` / ``.done`` (beta ``conversation.item.created``)."""

    item: Json


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(ServerEvent):
    """``error``: usually not fatal; the session stays open unless the socket closes after it.

    Attributes:
        caused_by: the ``event_id`` of the client event that caused it, when it had one.
    """

    code: str
    message: str
    error_type: str
    param: str | None
    caused_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitsUpdated(ServerEvent):
    rate_limits: list[JsonValue]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallExecuted(ServerEvent):
    """Reported by the client (type ``client.tool_call.executed``): a function call it ran
    and the output it sent back."""

    call_id: str
    name: str
    output: str
    is_error: bool


_TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.text.delta",
        "response.output_audio_transcript.delta",
        "response.audio_transcript.delta",
    }
)
_TEXT_DONES = frozenset(
    {
        "response.output_text.done",
        "response.text.done",
        "response.output_audio_transcript.done",
        "response.audio_transcript.done",
    }
)
_ITEM_EVENTS = frozenset({"conversation.item.added", "conversation.item.done", "conversation.item.created"})


def parse_server_event(raw: Json) -> ServerEvent:
    """The typed event for one decoded server message."""
    t = _str(raw, "type")
    if t in ("session.created", "session.updated"):
        return SessionEvent(t, raw, session=_dict(raw, "session"))
    if t == "response.created":
        return ResponseCreated(t, raw, response_id=_str(_dict(raw, "response"), "id"))
    if t == "response.done":
        resp = _dict(raw, "response")
        output = resp.get("output")
        return ResponseDone(
            t,
            raw,
            response_id=_str(resp, "id"),
            status=_str(resp, "status"),
            output=output if isinstance(output, list) else [],
            usage=_dict(resp, "usage"),
        )
    if t in _TEXT_DELTAS:
        return TextDelta(
            t,
            raw,
            response_id=_str(raw, "response_id"),
            item_id=_str(raw, "item_id"),
            delta=_str(raw, "delta"),
        )
    if t in _TEXT_DONES:
        text = _str(raw, "text") or _str(raw, "transcript")
        return TextDone(t, raw, response_id=_str(raw, "response_id"), item_id=_str(raw, "item_id"), text=text)
    if t == "response.function_call_arguments.delta":
        return FunctionCallArgumentsDelta(
            t,
            raw,
            response_id=_str(raw, "response_id"),
            call_id=_str(raw, "call_id"),
            delta=_str(raw, "delta"),
        )
    if t == "response.function_call_arguments.done":
        return FunctionCallArgumentsDone(
            t,
            raw,
            response_id=_str(raw, "response_id"),
            item_id=_str(raw, "item_id"),
            call_id=_str(raw, "call_id"),
            name=_str(raw, "name"),
            arguments=_str(raw, "arguments"),
        )
    if t in ("response.output_item.added", "response.output_item.done"):
        index = raw.get("output_index")
        return OutputItemEvent(
            t,
            raw,
            response_id=_str(raw, "response_id"),
            output_index=index if isinstance(index, int) else 0,
            item=_dict(raw, "item"),
        )
    if t in _ITEM_EVENTS:
        return ConversationItemEvent(t, raw, item=_dict(raw, "item"))
    if t == "error":
        err = _dict(raw, "error")
        param = err.get("param")
        caused = err.get("event_id")
        return ErrorEvent(
            t,
            raw,
            code=_str(err, "code"),
            message=_str(err, "message"),
            error_type=_str(err, "type"),
            param=param if isinstance(param, str) else None,
            caused_by=caused if isinstance(caused, str) else None,
        )
    if t == "rate_limits.updated":
        limits = raw.get("rate_limits")
        return RateLimitsUpdated(t, raw, rate_limits=limits if isinstance(limits, list) else [])
    return ServerEvent(t, raw)
