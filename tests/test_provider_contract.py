"""What every wire adapter promises, used directly (no agent loop in between).

- It never raises: an exception while building the request becomes a ``StreamError``.
- The history is repaired once, before the wire format is built: a failed turn is not
  replayed, a tool call without a result is answered, a stray result is dropped.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from opi_cli.ai.events import AssistantStreamEvent, StreamDone, StreamError
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, Provider, StreamOptions, ToolSpec
from opi_cli.ai.providers.anthropic import AnthropicProvider
from opi_cli.ai.providers.openai_chat import OpenAIChatProvider
from opi_cli.ai.providers.openai_responses import OpenAIResponsesProvider
from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, ToolResultMessage, Usage, UserMessage
from tests.mock_llm import MockLLM

ADAPTERS: dict[str, tuple[type[Any], str, str]] = {
    "anthropic": (AnthropicProvider, "anthropic-messages", "anthropic"),
    "chat": (OpenAIChatProvider, "openai-completions", "openai"),
    "responses": (OpenAIResponsesProvider, "openai-responses", "openai"),
}


def setup(api: str, base_url: str) -> tuple[Provider, Model]:
    cls, wire, provider = ADAPTERS[api]
    return cls(), Model("mock-model", provider, wire, base_url)


def assistant(*content: Any, stop: str = "stop") -> AssistantMessage:
    return AssistantMessage(tuple(content), "openai-completions", "openai", "m", Usage(), stop, 1)  # type: ignore[arg-type]


async def collect(provider: Provider, model: Model, context: LlmContext, options: StreamOptions) -> list[AssistantStreamEvent]:
    return [ev async for ev in provider.stream(model, context, options)]


@pytest.mark.parametrize("api", sorted(ADAPTERS))
async def test_an_exception_while_building_the_request_is_an_error_event(api: str) -> None:
    sent: list[httpx.Request] = []
    provider, model = setup(api, "http://127.0.0.1:9/v1")

    def broken(body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("on_payload exploded")

    ctx = LlmContext("sys", (UserMessage((TextContent("hi"),), 1),))
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))  # type: ignore[func-returns-value]
    events = await collect(provider, model, ctx, StreamOptions(on_payload=broken, transport=transport))
    assert isinstance(events[-1], StreamError)
    assert "RuntimeError: on_payload exploded" in events[-1].error.message
    assert events[-1].message.stop_reason == "error"
    assert sent == []


@pytest.mark.parametrize("api", sorted(ADAPTERS))
async def test_a_body_that_is_not_json_is_an_error_event(api: str) -> None:
    provider, model = setup(api, "http://127.0.0.1:9/v1")
    tools = (ToolSpec("t", "d", {"type": "object", "properties": {"x": {"enum": {1, 2}}}}),)  # a set: not JSON
    ctx = LlmContext("sys", (UserMessage((TextContent("hi"),), 1),), tools)
    events = await collect(provider, model, ctx, StreamOptions())
    assert isinstance(events[-1], StreamError)
    assert "TypeError" in events[-1].error.message


BROKEN_HISTORY = (
    UserMessage((TextContent("q"),), 1),
    assistant(TextContent("half an answer"), stop="error"),
    assistant(ToolCall("c1", "ls", {}), ToolCall("c2", "pwd", {}), stop="toolUse"),
    ToolResultMessage("c2", "pwd", (TextContent("/"),), False, 2),
    ToolResultMessage("zzz", "stray", (TextContent("?"),), False, 2),
    UserMessage((TextContent("go on"),), 3),
)


def wire_view(api: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, id or text) of each item the request carries, whatever the wire format."""
    out: list[tuple[str, str]] = []
    if api == "chat":
        for m in body["messages"]:
            if m["role"] in ("system", "developer"):
                continue
            if m["role"] == "tool":
                out.append(("result", f"{m['tool_call_id']}={m['content']}"))
            elif m["role"] == "assistant":
                out += [("call", c["id"]) for c in m.get("tool_calls", [])]
                if m.get("content"):
                    out.append(("text", m["content"]))
            else:
                out.append(("user", m["content"]))
    elif api == "anthropic":
        for m in body["messages"]:
            for b in m["content"]:
                if b["type"] == "tool_result":
                    out.append(("result", f"{b['tool_use_id']}={b['content'][0]['text']}"))
                elif b["type"] == "tool_use":
                    out.append(("call", b["id"]))
                elif m["role"] == "assistant":
                    out.append(("text", b["text"]))
                else:
                    out.append(("user", b["text"]))
    else:
        for item in body["input"]:
            if item.get("type") == "function_call_output":
                out.append(("result", f"{item['call_id']}={item['output']}"))
            elif item.get("type") == "function_call":
                out.append(("call", item["call_id"]))
            elif item.get("role") == "assistant":
                out.append(("text", item["content"][0]["text"]))
            else:
                out.append(("user", item["content"][0]["text"]))
    return out


@pytest.mark.parametrize("api", sorted(ADAPTERS))
async def test_every_adapter_repairs_the_history_before_the_wire_format(api: str) -> None:
    with MockLLM({"responses": [{"steps": [{"text": "ok"}]}]}) as srv:
        provider, model = setup(api, srv.base_url + "/v1")
        events = await collect(provider, model, LlmContext("sys", BROKEN_HISTORY), StreamOptions(api_key="k"))
        assert isinstance(events[-1], StreamDone)
        body = srv.requests[0]["body"]
    assert wire_view(api, body) == [
        ("user", "q"),
        ("call", "c1"),
        ("call", "c2"),
        ("result", "c2=/"),
        ("result", "c1=No result provided"),
        ("user", "go on"),
    ]
    assert "half an answer" not in json.dumps(body)
