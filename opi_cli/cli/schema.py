"""The published JSON Schema of the ``--json`` event stream (``opi schema``).

One schema validates every line: the session header or any event of PROTOCOL.md §3.
Version it with the stream: bump ``SCHEMA_VERSION`` when a field changes meaning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_VERSION", "event_stream_schema"]

SCHEMA_VERSION = "1"

_S: dict[str, Any] = {"type": "string"}
_I: dict[str, Any] = {"type": "integer"}
_N: dict[str, Any] = {"type": "number"}
_B: dict[str, Any] = {"type": "boolean"}
_ANY: dict[str, Any] = {}


def _obj(props: dict[str, Any], required: list[str], *, extra: bool = True) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required, "additionalProperties": extra}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _event(name: str, props: dict[str, Any] | None = None, required: list[str] | None = None) -> dict[str, Any]:
    p = {"type": {"const": name}, **(props or {})}
    return _obj(p, ["type", *(required or [])], extra=False)


def _defs() -> dict[str, Any]:
    text = _obj({"type": {"const": "text"}, "text": _S, "textSignature": _S}, ["type", "text"], extra=False)
    image = _obj({"type": {"const": "image"}, "data": _S, "mimeType": _S}, ["type", "data", "mimeType"], extra=False)
    thinking = _obj(
        {"type": {"const": "thinking"}, "thinking": _S, "thinkingSignature": _S, "redacted": _B},
        ["type", "thinking"],
        extra=False,
    )
    tool_call = _obj(
        {"type": {"const": "toolCall"}, "id": _S, "name": _S, "arguments": {"type": "object"}, "parseError": _S},
        ["type", "id", "name", "arguments"],
        extra=False,
    )
    cost = _obj({k: _N for k in ("input", "output", "cacheRead", "cacheWrite", "total")},
                ["input", "output", "cacheRead", "cacheWrite", "total"])
    usage = _obj(
        {"input": _I, "output": _I, "cacheRead": _I, "cacheWrite": _I, "totalTokens": _I, "cost": ref("cost")},
        ["input", "output", "cacheRead", "cacheWrite", "totalTokens", "cost"],
    )
    user_content = {"type": "array", "items": {"oneOf": [ref("text"), ref("image")]}}
    user = _obj({"role": {"const": "user"}, "content": {"oneOf": [_S, user_content]}, "timestamp": _I},
                ["role", "content", "timestamp"])
    assistant = _obj(
        {
            "role": {"const": "assistant"},
            "content": {"type": "array", "items": {"oneOf": [ref("text"), ref("thinking"), ref("toolCall")]}},
            "api": _S,
            "provider": _S,
            "model": _S,
            "usage": ref("usage"),
            "stopReason": {"enum": ["stop", "length", "toolUse", "error", "aborted"]},
            "errorMessage": _S,
            "timestamp": _I,
        },
        ["role", "content", "api", "provider", "model", "usage", "stopReason", "timestamp"],
    )
    tool_result = _obj(
        {
            "role": {"const": "toolResult"},
            "toolCallId": _S,
            "toolName": _S,
            "content": user_content,
            "details": _ANY,
            "isError": _B,
            "timestamp": _I,
        },
        ["role", "toolCallId", "toolName", "content", "isError", "timestamp"],
    )
    other = _obj(
        {"role": {"enum": ["bashExecution", "custom", "branchSummary", "compactionSummary"]}, "timestamp": _I},
        ["role", "timestamp"],
    )
    message = {"oneOf": [user, assistant, tool_result, other]}
    result = _obj({"content": user_content, "details": _ANY}, ["content"])
    return {
        "text": text, "image": image, "thinking": thinking, "toolCall": tool_call, "cost": cost,
        "usage": usage, "assistant": assistant, "message": message, "toolOutput": result,
    }


def event_stream_schema() -> dict[str, Any]:
    """A JSON Schema (2020-12) that every line of ``opi --json`` satisfies."""
    ame = _obj(
        {
            "type": {"enum": [f"{k}_{p}" for k in ("text", "thinking", "toolcall") for p in ("start", "delta", "end")]},
            "contentIndex": _I,
            "delta": _S,
            "content": _S,
            "toolCall": ref("toolCall"),
        },
        ["type", "contentIndex"],
        extra=False,
    )
    header = _obj(
        {"type": {"const": "session"}, "version": _I, "id": _S, "timestamp": _S, "cwd": _S, "parentSession": _S},
        ["type", "version", "id", "timestamp", "cwd"],
    )
    tool_ids = {"toolCallId": _S, "toolName": _S}
    reason = {"enum": ["manual", "threshold", "overflow"]}
    events = [
        header,
        _event("agent_start"),
        _event("turn_start"),
        _event("message_start", {"message": ref("message")}, ["message"]),
        _event("message_update", {"message": ref("assistant"), "assistantMessageEvent": ame},
               ["message", "assistantMessageEvent"]),
        _event("message_end", {"message": ref("message")}, ["message"]),
        _event("tool_execution_start", {**tool_ids, "args": {"type": "object"}}, ["toolCallId", "toolName", "args"]),
        _event("tool_execution_update", {**tool_ids, "args": {"type": "object"}, "partialResult": ref("toolOutput")},
               ["toolCallId", "toolName", "args", "partialResult"]),
        _event("tool_execution_end", {**tool_ids, "result": ref("toolOutput"), "isError": _B},
               ["toolCallId", "toolName", "result", "isError"]),
        _event("turn_end", {"message": ref("assistant"), "toolResults": {"type": "array", "items": ref("message")}},
               ["message", "toolResults"]),
        _event("agent_end", {"messages": {"type": "array", "items": ref("message")}}, ["messages"]),
        _event("queue_update", {"steering": {"type": "array", "items": _S}, "followUp": {"type": "array", "items": _S}},
               ["steering", "followUp"]),
        _event("compaction_start", {"reason": reason}, ["reason"]),
        _event(
            "compaction_end",
            {
                "reason": reason,
                "result": _obj({"summary": _S, "firstKeptEntryId": _S, "tokensBefore": _I, "details": _ANY},
                               ["summary", "firstKeptEntryId", "tokensBefore"]),
                "aborted": _B,
                "willRetry": _B,
                "errorMessage": _S,
            },
            ["reason", "aborted", "willRetry"],
        ),
        _event("auto_retry_start", {"attempt": _I, "maxAttempts": _I, "delayMs": _I, "errorMessage": _S},
               ["attempt", "maxAttempts", "delayMs", "errorMessage"]),
        _event("auto_retry_end", {"success": _B, "attempt": _I, "finalError": _S}, ["success", "attempt"]),
        _event("thinking_level_changed", {"level": _S}, ["level"]),
        _event("model_changed", {"provider": _S, "modelId": _S}, ["provider", "modelId"]),
        _event("session_info_changed", {"name": _S}, ["name"]),
        _event("persistence_error", {"message": _S, "path": {"type": ["string", "null"]}}, ["message", "path"]),
        _event(
            "session_summary",
            {
                "sessionId": _S,
                "sessionFile": _S,
                "stopReason": _S,
                "turns": _I,
                "usage": ref("usage"),
                "cost": ref("cost"),
                "durationMs": _I,
                "exitCode": _I,
                "errorMessage": _S,
            },
            ["sessionId", "stopReason", "turns", "usage", "cost", "durationMs", "exitCode"],
        ),
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://opi.dev/schema/events/v{SCHEMA_VERSION}.json",
        "title": "opi --json event stream line",
        "description": "Line 1 is the session header; every later line is one event; session_summary is last.",
        "oneOf": events,
        "$defs": _defs(),
    }
