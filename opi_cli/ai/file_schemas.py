"""JSON Schemas of models.json and auth.json (pi's formats), checked by :mod:`.config_check`.

Unknown keys are allowed everywhere: pi's files may carry keys opi does not read. Add a
key here when opi starts reading it, so that a wrong type is reported instead of ignored.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTH_SCHEMA", "MODELS_SCHEMA"]

_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_POSITIVE: dict[str, Any] = {"type": "integer", "minimum": 1}
_PRICE: dict[str, Any] = {"type": "number", "minimum": 0}

_COMPAT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "supportsStore": {"type": "boolean"},
        "supportsDeveloperRole": {"type": "boolean"},
        "supportsReasoningEffort": {"type": "boolean"},
        "supportsUsageInStreaming": {"type": "boolean"},
        "maxTokensField": {"enum": ["max_completion_tokens", "max_tokens"]},
        "requiresToolResultName": {"type": "boolean"},
        "requiresAssistantAfterToolResult": {"type": "boolean"},
        "requiresThinkingAsText": {"type": "boolean"},
        "thinkingFormat": {"enum": ["openai", "zai", "qwen", "qwen-chat-template"]},
        "supportsStrictMode": {"type": "boolean"},
        "reasoningEffortMap": {"type": "object"},
    },
}

_MODEL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "name": {"type": "string"},
        "api": {"type": "string"},
        "baseUrl": {"type": "string"},
        "reasoning": {"type": "boolean"},
        "input": {"type": "array", "items": {"enum": ["text", "image"]}},
        "cost": {
            "type": "object",
            "properties": {"input": _PRICE, "output": _PRICE, "cacheRead": _PRICE, "cacheWrite": _PRICE},
        },
        "contextWindow": _POSITIVE,
        "maxTokens": _POSITIVE,
        "headers": _STRING_MAP,
        "compat": _COMPAT,
    },
}

MODELS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "providers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "baseUrl": {"type": "string"},
                    "api": {"type": "string"},
                    "apiKey": {"type": "string"},
                    "headers": _STRING_MAP,
                    "authHeader": {"type": "boolean"},
                    "compat": _COMPAT,
                    "models": {"type": "array", "items": {**_MODEL, "required": ["id"]}},
                    "modelOverrides": {"type": "object", "additionalProperties": _MODEL},
                },
            },
        },
    },
}

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": ["string", "object"],
        "properties": {
            "type": {"enum": ["api_key", "oauth"]},
            "key": {"type": "string"},
        },
    },
}
