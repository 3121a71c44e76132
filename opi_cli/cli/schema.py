"""The published JSON Schema of the ``--json`` event stream (``opi schema``).

One schema validates every line: the session header or any event of PROTOCOL.md §3, in the
linear shape (the default) or in pi's snapshot shape (``--json-snapshots``, ``opi schema
--snapshots``). Version it with the stream: bump ``SCHEMA_VERSION`` when a field changes
meaning. The RPC protocol's schema (cli/rpc_schema.py) reuses the definitions and events.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_VERSION", "event_defs", "event_schemas", "event_stream_schema", "ref"]

SCHEMA_VERSION = "2"  # 2: message_update carries the delta alone (linear output)

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


def event_defs() -> dict[str, Any]:
    """The ``$defs`` every event schema refers to (messages, content blocks, usage)."""
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
    # turn_end / agent_end of the linear shape: a message already written whole on its
    # message_end, repeated without its content
    no_content = {"not": {"required": ["content"]}}
    assistant_meta = {**_obj({k: v for k, v in assistant["properties"].items() if k != "content"},
                             [r for r in assistant["required"] if r != "content"]), **no_content}
    message_meta = {**_obj({"role": {"enum": ["user", "assistant", "toolResult", "bashExecution", "custom",
                                              "branchSummary", "compactionSummary"]}, "timestamp": _I},
                           ["role", "timestamp"]), **no_content}
    return {
        "text": text, "image": image, "thinking": thinking, "toolCall": tool_call, "cost": cost,
        "usage": usage, "assistant": assistant, "message": message, "toolOutput": result,
        "assistantMeta": assistant_meta, "messageMeta": message_meta,
    }


def event_schemas(*, snapshots: bool = False) -> list[dict[str, Any]]:
    """One schema per event type (``$ref`` into :func:`event_defs`); ``snapshots``: pi's shape."""
    ame_props: dict[str, Any] = {
        "type": {"enum": [f"{k}_{p}" for k in ("text", "thinking", "toolcall") for p in ("start", "delta", "end")]},
        "contentIndex": _I,
        "delta": _S,
        "toolCall": ref("toolCall"),
    }
    if snapshots:
        ame_props["content"] = _S  # the block's whole text, on text_end / thinking_end
    ame = _obj(ame_props, ["type", "contentIndex"], extra=False)
    update = ({"message": ref("assistant"), "assistantMessageEvent": ame}, ["message", "assistantMessageEvent"])
    if not snapshots:
        update = ({"assistantMessageEvent": ame}, ["assistantMessageEvent"])
    turn_message, listed = (ref("assistant"), ref("message")) if snapshots else (ref("assistantMeta"), ref("messageMeta"))
    tool_ids = {"toolCallId": _S, "toolName": _S}
    reason = {"enum": ["manual", "threshold", "overflow"]}
    return [
        _event("agent_start"),
        _event("turn_start"),
        _event("message_start", {"message": ref("message")}, ["message"]),
        _event("message_update", *update),
        _event("message_end", {"message": ref("message")}, ["message"]),
        _event("tool_execution_start", {**tool_ids, "args": {"type": "object"}}, ["toolCallId", "toolName", "args"]),
        _event("tool_execution_update", {**tool_ids, "args": {"type": "object"}, "partialResult": ref("toolOutput")},
               ["toolCallId", "toolName", "args", "partialResult"]),
        _event("tool_execution_end", {**tool_ids, "result": ref("toolOutput"), "isError": _B},
               ["toolCallId", "toolName", "result", "isError"]),
        _event("turn_end", {"message": turn_message, "toolResults": {"type": "array", "items": listed}},
               ["message", "toolResults"]),
        _event("agent_end", {"messages": {"type": "array", "items": listed}}, ["messages"]),
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
        _event("permission_denied",
               {**tool_ids, "args": {"type": "object"}, "reason": _S,
                "deniedBy": {"enum": ["rule", "mode", "user", "non_interactive"]}, "rule": _S},
               ["toolCallId", "toolName", "args", "reason", "deniedBy"]),
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


def event_stream_schema(*, snapshots: bool = False) -> dict[str, Any]:
    """A JSON Schema (2020-12) that every line of ``opi --json`` (``--json-snapshots``) satisfies."""
    header = _obj(
        {"type": {"const": "session"}, "version": _I, "id": _S, "timestamp": _S, "cwd": _S, "parentSession": _S},
        ["type", "version", "id", "timestamp", "cwd"],
    )
    shape = (
        "pi's snapshot shape (--json-snapshots): every message_update carries the whole message so far, "
        "so the output grows with the square of the reply"
        if snapshots
        else "the linear shape: message_update carries the delta alone; a message's content is written whole "
        "once, on its message_end, and turn_end/agent_end list messages without their content"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://opi.dev/schema/events/v{SCHEMA_VERSION}{'-snapshots' if snapshots else ''}.json",
        "title": "opi --json event stream line",
        "description": "Line 1 is the session header; every later line is one event; session_summary is last. "
        f"This is {shape}.",
        "oneOf": [header, *event_schemas(snapshots=snapshots)],
        "$defs": event_defs(),
    }
