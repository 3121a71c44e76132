"""JSON Schemas of ``opi --mode rpc``: every command (stdin), every response and event (stdout).

``opi schema --rpc`` prints :func:`rpc_schema`; the RPC server validates each command with
:func:`command_validator` before running it, so a command's schema is also its error
message ("Invalid prompt command: 'message' is a required property"). Commands accept
fields they do not know (clients written for newer pi versions send some); known fields
must have the documented types.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from opi_cli.cli.schema import SCHEMA_VERSION, event_defs, event_schemas, ref

__all__ = ["COMMANDS", "command_validator", "rpc_schema"]

_S: dict[str, Any] = {"type": "string"}
_I: dict[str, Any] = {"type": "integer"}
_N: dict[str, Any] = {"type": "number"}
_B: dict[str, Any] = {"type": "boolean"}
_NONE: dict[str, Any] = {"type": "null"}
_ID: dict[str, Any] = {"type": ["string", "integer"], "description": "Echoed in the response."}
_LEVEL = {"enum": ["off", "minimal", "low", "medium", "high", "xhigh"]}
_QUEUE_MODE = {"enum": ["all", "one-at-a-time"]}
_IMAGES = {"type": "array", "items": {"$ref": "#/$defs/image"}}


def _o(props: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), **extra}


COMMANDS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    # name: (what it does, parameters, required parameters)
    "prompt": ("Send a message; answered at once, the run's events follow. While a run streams it fails "
               "unless streamingBehavior says how to queue it.",
               {"message": _S, "images": _IMAGES, "streamingBehavior": {"enum": ["steer", "followUp"]}},
               ("message",)),
    "steer": ("Queue a message delivered after the current tool batch (with the next prompt when idle).",
              {"message": _S, "images": _IMAGES}, ("message",)),
    "follow_up": ("Queue a message delivered when the agent would otherwise stop.",
                  {"message": _S, "images": _IMAGES}, ("message",)),
    "abort": ("Abort the run (and a compaction); answered when idle, with the queued messages it dropped.", {}, ()),
    "new_session": ("Start an empty session in the same store and folder.", {"parentSession": _S}, ()),
    "get_state": ("Model, thinking level, streaming/compacting flags, queue modes, session.", {}, ()),
    "get_messages": ("The messages of the current context.", {}, ()),
    "set_model": ("Switch model (it must be known and have a key).", {"provider": _S, "modelId": _S},
                  ("provider", "modelId")),
    "cycle_model": ("Switch to the next model that has a key; null when there is no other.", {}, ()),
    "get_available_models": ("The models that have a key.", {}, ()),
    "set_thinking_level": ("Set the thinking level (clamped to what the model supports).", {"level": _LEVEL},
                           ("level",)),
    "cycle_thinking_level": ("Next thinking level; null for a model without reasoning.", {}, ()),
    "set_steering_mode": ("Deliver steering messages all at once or one at a time.", {"mode": _QUEUE_MODE},
                          ("mode",)),
    "set_follow_up_mode": ("Deliver follow-ups all at once or one at a time.", {"mode": _QUEUE_MODE}, ("mode",)),
    "compact": ("Compact now (after the run); the result, or an error saying why nothing was compacted.",
                {"customInstructions": _S}, ()),
    "set_auto_compaction": ("Turn automatic compaction on or off (this process).", {"enabled": _B}, ("enabled",)),
    "set_auto_retry": ("Turn automatic retry on or off (this process).", {"enabled": _B}, ("enabled",)),
    "abort_retry": ("Stop waiting for a retry; the run ends with the error.", {}, ()),
    "bash": ("Run a shell command; its output joins the context (after the run) as a bashExecution message.",
             {"command": {"type": "string", "minLength": 1}}, ("command",)),
    "abort_bash": ("Kill the running bash command.", {}, ()),
    "get_session_stats": ("Message, tool call, token and cost counts of the current context.", {}, ()),
    "export_html": ("Write the session as HTML (Markdown for a .md path).", {"outputPath": _S}, ()),
    "switch_session": ("Continue another session (a path or an id prefix).", {"sessionPath": _S}, ("sessionPath",)),
    "fork": ("New session holding the history before a user message (see get_fork_messages).",
             {"entryId": _S}, ("entryId",)),
    "get_fork_messages": ("The user messages of the current path, oldest first.", {}, ()),
    "get_last_assistant_text": ("The text of the last assistant message, or null.", {}, ()),
    "set_session_name": ("Name the session.", {"name": {"type": "string", "pattern": r"\S"}}, ("name",)),
    "get_commands": ("Prompt templates, skills and extension commands (opi has none yet: empty).", {}, ()),
}


def _command(name: str) -> dict[str, Any]:
    doc, params, required = COMMANDS[name]
    return _o({"type": {"const": name}, "id": _ID, **params}, ("type", *required), description=doc)


def _model() -> dict[str, Any]:
    cost = _o({k: _N for k in ("input", "output", "cacheRead", "cacheWrite")})
    return _o(
        {"id": _S, "name": _S, "api": _S, "provider": _S, "baseUrl": _S, "reasoning": _B,
         "input": {"type": "array", "items": {"enum": ["text", "image"]}}, "cost": cost,
         "contextWindow": _I, "maxTokens": _I},
        ("id", "name", "api", "provider", "baseUrl", "reasoning", "input", "contextWindow", "maxTokens"),
    )


def _data() -> dict[str, Any]:
    """The ``data`` of each successful response that has one."""
    model, cancelled = ref("model"), _o({"cancelled": _B}, ("cancelled",))
    texts = {"type": "array", "items": _S}
    tokens = _o({k: _I for k in ("input", "output", "cacheRead", "cacheWrite", "total")},
                ("input", "output", "cacheRead", "cacheWrite", "total"))
    return {
        "abort": _o({"steering": texts, "followUp": texts}, ("steering", "followUp")),
        "new_session": cancelled,
        "get_state": _o(
            {"model": model, "thinkingLevel": _S, "isStreaming": _B, "isCompacting": _B, "steeringMode": _QUEUE_MODE,
             "followUpMode": _QUEUE_MODE, "sessionFile": _S, "sessionId": _S, "sessionName": _S,
             "autoCompactionEnabled": _B, "autoRetryEnabled": _B, "messageCount": _I, "pendingMessageCount": _I},
            ("model", "thinkingLevel", "isStreaming", "isCompacting", "steeringMode", "followUpMode", "sessionId",
             "autoCompactionEnabled", "messageCount", "pendingMessageCount"),
        ),
        "get_messages": _o({"messages": {"type": "array", "items": ref("message")}}, ("messages",)),
        "set_model": model,
        "cycle_model": {"oneOf": [_NONE, _o({"model": model, "thinkingLevel": _S, "isScoped": _B},
                                            ("model", "thinkingLevel", "isScoped"))]},
        "get_available_models": _o({"models": {"type": "array", "items": model}}, ("models",)),
        "set_thinking_level": _o({"level": _S}, ("level",)),
        "cycle_thinking_level": {"oneOf": [_NONE, _o({"level": _S}, ("level",))]},
        "compact": _o({"summary": _S, "firstKeptEntryId": _S, "tokensBefore": _I, "details": {}},
                      ("summary", "firstKeptEntryId", "tokensBefore")),
        "bash": _o({"output": _S, "exitCode": {"type": ["integer", "null"]}, "cancelled": _B, "truncated": _B,
                    "fullOutputPath": _S}, ("output", "exitCode", "cancelled", "truncated")),
        "get_session_stats": _o(
            {"sessionFile": {"type": ["string", "null"]}, "sessionId": _S, "userMessages": _I,
             "assistantMessages": _I, "toolCalls": _I, "toolResults": _I, "totalMessages": _I, "tokens": tokens,
             "cost": _N},
            ("sessionFile", "sessionId", "userMessages", "assistantMessages", "toolCalls", "toolResults",
             "totalMessages", "tokens", "cost"),
        ),
        "export_html": _o({"path": _S}, ("path",)),
        "switch_session": cancelled,
        "fork": _o({"text": _S, "cancelled": _B}, ("text", "cancelled")),
        "get_fork_messages": _o({"messages": {"type": "array", "items": _o({"entryId": _S, "text": _S},
                                                                           ("entryId", "text"))}}, ("messages",)),
        "get_last_assistant_text": _o({"text": {"type": ["string", "null"]}}, ("text",)),
        "get_commands": _o({"commands": {"type": "array", "items": {"type": "object"}}}, ("commands",)),
    }


def _response() -> dict[str, Any]:
    """Exactly one per command line: success with the command's ``data``, or an ``error``."""
    data = _data()
    base = {"type": {"const": "response"}, "id": _ID, "command": _S, "success": _B}
    failure = _o({**base, "success": {"const": False}, "error": _S}, ("type", "command", "success", "error"),
                 additionalProperties=False)
    successes = [
        _o({**base, "command": {"const": name}, "success": {"const": True}, **({"data": data[name]} if name in data else {})},
           ("type", "command", "success", *(("data",) if name in data else ())), additionalProperties=False)
        for name in COMMANDS
    ]
    return {"oneOf": [failure, *successes],
            "description": "command is the command's type, or \"parse\" for a line that is not a command object"}


def rpc_schema(*, snapshots: bool = False) -> dict[str, Any]:
    """A JSON Schema (2020-12) document: ``$defs.command`` is any stdin line, ``$defs.output`` any stdout line."""
    defs = event_defs()
    defs.update({f"command.{name}": _command(name) for name in COMMANDS})
    defs["command"] = {"oneOf": [ref(f"command.{name}") for name in COMMANDS]}
    defs["model"] = _model()
    defs["response"] = _response()
    defs["event"] = {"oneOf": event_schemas(snapshots=snapshots)}
    defs["output"] = {"oneOf": [ref("response"), ref("event")]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://opi.dev/schema/rpc/v{SCHEMA_VERSION}.json",
        "title": "opi --mode rpc",
        "description": "stdin: one command per line ($defs/command); stdout: responses and events, one per line "
        "($defs/output). Every command line gets exactly one response; events never carry an id.",
        "$ref": "#/$defs/command",
        "$defs": defs,
    }


@cache
def command_validator(name: str) -> Any:
    """A jsonschema validator for one command (imported on first use: jsonschema is slow to load)."""
    import jsonschema

    schema = {**_command(name), "$defs": {"image": event_defs()["image"]}}
    return jsonschema.Draft202012Validator(schema)
