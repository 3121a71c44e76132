"""Shared bits of the customization tests: the mock-server arguments and request-log readers."""

from __future__ import annotations

import json
from typing import Any

from tests.mock_llm import MockLLM


def opi_args(srv: MockLLM, *extra: str, mode: str = "-p") -> list[str]:
    return [mode, "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "x", "--model", "m", *extra]


def user_texts(request: dict[str, Any]) -> list[str]:
    """The text of every user message of one logged Chat Completions request."""
    out = []
    for m in request["body"]["messages"]:
        if m["role"] != "user":
            continue
        content = m["content"]
        out.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return out


def system_prompt(request: dict[str, Any]) -> str:
    first = request["body"]["messages"][0]
    assert first["role"] in ("system", "developer")
    return str(first["content"])


def tool_results(request: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in request["body"]["messages"] if m["role"] == "tool"]


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.strip()]


def text(t: str) -> dict[str, Any]:
    return {"steps": [{"text": t}]}


def call(name: str, args: dict[str, Any], call_id: str = "c1") -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": name, "arguments": args, "id": call_id}}]}
