"""The event vocabulary of PROTOCOL.md §3: agent, turn, message, tool, queue and session events.

Every event is a frozen value; ``to_json`` gives its wire form (camelCase, pi 0.73 names).
A ``message_update`` is written as its delta alone, so a stream stays linear in the reply;
the in-process event still offers the message so far (``.message``), materialised only
when asked for.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage, agent_message_to_json
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart, assistant_event_to_json
from opi_cli.ai.types import AssistantMessage, ToolResultMessage, Usage, content_to_json, usage_to_json

__all__ = [
    "AgentEnd",
    "AgentEvent",
    "AgentStart",
    "AutoRetryEnd",
    "AutoRetryStart",
    "CompactionEnd",
    "CompactionStart",
    "MessageEnd",
    "MessageStart",
    "MessageUpdate",
    "ModelChanged",
    "PermissionDenied",
    "PersistenceErrorEvent",
    "QueueUpdate",
    "SessionInfoChanged",
    "SessionSummary",
    "ThinkingLevelChanged",
    "ToolExecutionEnd",
    "ToolExecutionStart",
    "ToolExecutionUpdate",
    "TurnEnd",
    "TurnStart",
    "event_to_json",
]


def _result_json(content: tuple[object, ...], details: JsonValue) -> dict[str, JsonValue]:
    d: dict[str, JsonValue] = {"content": [content_to_json(c) for c in content]}  # type: ignore[arg-type]
    d["details"] = details if details is not None else {}
    return d


@record
class AgentStart:
    type: Literal["agent_start"] = "agent_start"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type}


@record
class TurnStart:
    type: Literal["turn_start"] = "turn_start"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type}


@record
class MessageStart:
    message: AgentMessage
    type: Literal["message_start"] = "message_start"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "message": agent_message_to_json(self.message)}


@record
class MessageUpdate:
    source: ContentStart | ContentDelta | ContentEnd
    type: Literal["message_update"] = "message_update"

    @property
    def message(self) -> AssistantMessage:
        return self.source.partial

    def to_json(self) -> dict[str, JsonValue]:
        """The delta only: no message so far, and no accumulated block text on ``*_end``."""
        ame = assistant_event_to_json(self.source)
        if ame["type"] in ("text_end", "thinking_end"):
            del ame["content"]
        return {"type": self.type, "assistantMessageEvent": ame}


@record
class MessageEnd:
    message: AgentMessage
    type: Literal["message_end"] = "message_end"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "message": agent_message_to_json(self.message)}


@record
class ToolExecutionStart:
    tool_call_id: str
    tool_name: str
    args: dict[str, JsonValue]
    type: Literal["tool_execution_start"] = "tool_execution_start"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "toolCallId": self.tool_call_id, "toolName": self.tool_name, "args": self.args}


@record
class ToolExecutionUpdate:
    tool_call_id: str
    tool_name: str
    args: dict[str, JsonValue]
    content: tuple[object, ...]
    details: JsonValue = None
    type: Literal["tool_execution_update"] = "tool_execution_update"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": self.type,
            "toolCallId": self.tool_call_id,
            "toolName": self.tool_name,
            "args": self.args,
            "partialResult": _result_json(self.content, self.details),
        }


@record
class ToolExecutionEnd:
    tool_call_id: str
    tool_name: str
    content: tuple[object, ...]
    details: JsonValue
    is_error: bool
    type: Literal["tool_execution_end"] = "tool_execution_end"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": self.type,
            "toolCallId": self.tool_call_id,
            "toolName": self.tool_name,
            "result": _result_json(self.content, self.details),
            "isError": self.is_error,
        }


@record
class TurnEnd:
    message: AssistantMessage
    tool_results: tuple[ToolResultMessage, ...]
    type: Literal["turn_end"] = "turn_end"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": self.type,
            "message": agent_message_to_json(self.message),
            "toolResults": [agent_message_to_json(m) for m in self.tool_results],
        }


@record
class AgentEnd:
    messages: tuple[AgentMessage, ...]
    type: Literal["agent_end"] = "agent_end"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "messages": [agent_message_to_json(m) for m in self.messages]}


@record
class QueueUpdate:
    steering: tuple[str, ...]
    follow_up: tuple[str, ...]
    type: Literal["queue_update"] = "queue_update"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "steering": list(self.steering), "followUp": list(self.follow_up)}


@record
class AutoRetryStart:
    attempt: int
    max_attempts: int
    delay_ms: int
    error_message: str
    type: Literal["auto_retry_start"] = "auto_retry_start"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": self.type,
            "attempt": self.attempt,
            "maxAttempts": self.max_attempts,
            "delayMs": self.delay_ms,
            "errorMessage": self.error_message,
        }


@record
class AutoRetryEnd:
    success: bool
    attempt: int
    final_error: str | None = None
    type: Literal["auto_retry_end"] = "auto_retry_end"

    def to_json(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"type": self.type, "success": self.success, "attempt": self.attempt}
        if self.final_error is not None:
            d["finalError"] = self.final_error
        return d


CompactionReason = Literal["manual", "threshold", "overflow"]


@record
class CompactionStart:
    reason: CompactionReason
    type: Literal["compaction_start"] = "compaction_start"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "reason": self.reason}


@record
class CompactionEnd:
    reason: CompactionReason
    result: dict[str, JsonValue] | None
    aborted: bool
    will_retry: bool
    error_message: str | None = None
    type: Literal["compaction_end"] = "compaction_end"

    def to_json(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"type": self.type, "reason": self.reason}
        if self.result is not None:
            d["result"] = self.result
        d["aborted"] = self.aborted
        d["willRetry"] = self.will_retry
        if self.error_message is not None:
            d["errorMessage"] = self.error_message
        return d


@record
class ThinkingLevelChanged:
    level: str
    type: Literal["thinking_level_changed"] = "thinking_level_changed"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "level": self.level}


@record
class ModelChanged:
    provider: str
    model_id: str
    type: Literal["model_changed"] = "model_changed"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "provider": self.provider, "modelId": self.model_id}


@record
class SessionInfoChanged:
    name: str
    type: Literal["session_info_changed"] = "session_info_changed"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "name": self.name}


@record
class PersistenceErrorEvent:
    message: str
    path: str | None
    type: Literal["persistence_error"] = "persistence_error"

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "message": self.message, "path": self.path}


@record
class PermissionDenied:
    """A tool call the permission gate refused (by a rule, the mode, the user, or because
    nobody could approve it in a non-interactive run); the model got an error result."""

    tool_call_id: str
    tool_name: str
    args: dict[str, JsonValue]
    reason: str
    denied_by: str
    rule: str | None = None
    type: Literal["permission_denied"] = "permission_denied"

    def to_json(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {
            "type": self.type,
            "toolCallId": self.tool_call_id,
            "toolName": self.tool_name,
            "args": dict(self.args),
            "reason": self.reason,
            "deniedBy": self.denied_by,
        }
        if self.rule is not None:
            d["rule"] = self.rule
        return d


@record
class SessionSummary:
    session_id: str
    session_file: str | None
    stop_reason: str
    turns: int
    usage: Usage
    duration_ms: int
    exit_code: int
    error_message: str | None = None
    type: Literal["session_summary"] = "session_summary"

    def to_json(self) -> dict[str, JsonValue]:
        u = usage_to_json(self.usage)
        d: dict[str, JsonValue] = {"type": self.type, "sessionId": self.session_id}
        if self.session_file is not None:
            d["sessionFile"] = self.session_file
        d.update(
            {
                "stopReason": self.stop_reason,
                "turns": self.turns,
                "usage": u,
                "cost": u["cost"],
                "durationMs": self.duration_ms,
                "exitCode": self.exit_code,
            }
        )
        if self.error_message is not None:
            d["errorMessage"] = self.error_message
        return d


AgentEvent: TypeAlias = (
    AgentStart
    | TurnStart
    | MessageStart
    | MessageUpdate
    | MessageEnd
    | ToolExecutionStart
    | ToolExecutionUpdate
    | ToolExecutionEnd
    | TurnEnd
    | AgentEnd
    | QueueUpdate
    | AutoRetryStart
    | AutoRetryEnd
    | CompactionStart
    | CompactionEnd
    | ThinkingLevelChanged
    | ModelChanged
    | SessionInfoChanged
    | PersistenceErrorEvent
    | PermissionDenied
    | SessionSummary
)


def event_to_json(ev: AgentEvent) -> dict[str, JsonValue]:
    """Wire form of any event."""
    return ev.to_json()

