"""The library Agent, AgentBuilder and Config against the scripted mock LLM (real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from opi_cli import (
    Agent,
    AgentBuilder,
    AgentError,
    Config,
    ConfigError,
    OpiError,
    RequestError,
    ToolDefinition,
    ToolError,
    ToolRegistry,
    tool,
)
from opi_cli.agent.agent import Agent as LoopAgent
from opi_cli.agent.events import AgentEvent, MessageUpdate
from tests.mock_llm import MockLLM


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"steps": [{"text": t}], **extra}


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": name, "arguments": args}}]}


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM({"responses": []}) as srv:
        yield srv


def build(
    srv: MockLLM, script: list[dict[str, Any]], builder: AgentBuilder | None = None, **cfg: Any
) -> Agent:
    srv.set_script({"responses": script})
    config = (
        Config()
        .with_api_key("sk-test")
        .with_model(cfg.pop("model", "gpt-4o"))
        .with_base_url(srv.base_url + "/v1")
    )
    return (builder or AgentBuilder(env={})).with_config(config).with_retry(enabled=False).build()


# -- Config ---------------------------------------------------------------------------------------


def test_config_is_immutable_and_fluent() -> None:
    base = Config()
    c = (
        base.with_api_key("secret-key")
        .with_model("gpt-4o")
        .with_temperature(0.7)
        .with_max_tokens(1024)
        .with_timeout(timedelta(seconds=30))
        .with_base_url("https://example.test/v1")
        .with_organization("org-1")
        .with_stream(False)
        .with_json_mode(True)
    )
    assert base == Config()
    assert (c.model, c.temperature, c.max_tokens, c.timeout, c.organization) == (
        "gpt-4o",
        0.7,
        1024,
        30.0,
        "org-1",
    )
    assert (c.base_url, c.stream, c.json_mode) == ("https://example.test/v1", False, True)
    assert c.with_timeout(12).timeout == 12
    assert "secret-key" not in repr(c)
    with pytest.raises(AttributeError):
        c.model = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (Config().with_api_key("k"), "No model configured"),
        (
            Config().with_model("gpt-4o").with_api_key("k").with_temperature(2.5),
            "temperature must be between",
        ),
        (
            Config().with_model("gpt-4o").with_api_key("k").with_temperature(-0.1),
            "temperature must be between",
        ),
        (Config().with_model("gpt-4o").with_api_key("k").with_max_tokens(0), "max_tokens must be a positive"),
        (Config().with_model("gpt-4o").with_api_key("k").with_timeout(0), "timeout must be a positive"),
        (Config().with_model("gpt-4o").with_api_key("k").with_base_url("ftp://x"), "base_url must start"),
        (Config().with_model("no-such-model-xyz").with_api_key("k"), "Unknown model 'no-such-model-xyz'"),
        (Config().with_model("gpt-4o"), "No API key found for openai: set OPENAI_API_KEY"),
    ],
)
def test_build_rejects_invalid_settings(config: Config, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        AgentBuilder(env={}).with_config(config).build()
    assert isinstance(info.value, OpiError) and info.value.exit_code == 2


def test_builder_rejects_bad_max_turns_and_websocket_url() -> None:
    cfg = Config().with_model("gpt-4o").with_api_key("k")
    with pytest.raises(ConfigError, match="max_turns"):
        AgentBuilder(env={}).with_config(cfg).with_max_turns(0).build()
    with pytest.raises(ConfigError, match="ws://"):
        AgentBuilder(env={}).with_config(cfg).with_websocket("http://x").build()


def test_key_and_base_url_come_from_the_env_mapping_only(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("from env")]})
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": mock.base_url + "/v1"}
    agent = AgentBuilder(env=env).with_config(Config().with_model("gpt-4o")).build()
    assert agent.model.base_url == mock.base_url + "/v1"
    assert agent.model.api == "openai-completions"
    import asyncio

    assert asyncio.run(agent.run("hi")) == "from env"
    assert mock.requests[0]["had_auth"]


def test_unknown_model_with_a_base_url_gets_default_metadata(mock: MockLLM) -> None:
    agent = build(mock, [], model="my-local-llm")
    assert agent.model.id == "my-local-llm" and not agent.model.known
    assert agent.model.context_window == 128000 and agent.model.api == "openai-completions"


def test_local_servers_need_no_key() -> None:
    cfg = Config().with_model("llama3").with_base_url("http://localhost:11434/v1")
    agent = AgentBuilder(env={}).with_config(cfg).build()
    assert agent.model.base_url == "http://localhost:11434/v1"


# -- running ---------------------------------------------------------------------------------------


async def test_run_returns_the_final_text_and_sends_the_config(mock: MockLLM) -> None:
    mock.set_script({"responses": [text("Rust is a systems language.")]})
    config = (
        Config()
        .with_api_key("sk-test")
        .with_model("gpt-4o")
        .with_base_url(mock.base_url + "/v1")
        .with_temperature(0.7)
        .with_max_tokens(256)
        .with_organization("org-42")
        .with_json_mode(True)
    )
    agent = AgentBuilder(env={}).with_config(config).with_system_prompt("You are terse.").build()
    assert isinstance(agent.loop, LoopAgent)
    assert await agent.run("Tell me about Rust") == "Rust is a systems language."
    req = mock.requests[0]
    body = req["body"]
    assert req["path"].endswith("/chat/completions")
    assert body["model"] == "gpt-4o" and body["temperature"] == 0.7
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 256
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["content"] == "You are terse."
    assert req["headers"]["openai-organization"] == "org-42"


async def test_multi_turn_keeps_the_conversation(mock: MockLLM) -> None:
    agent = build(mock, [text("I am opi."), text("You asked who I am.")])
    assert await agent.run("Hello, who are you?") == "I am opi."
    assert await agent.run("What did I just ask you?") == "You asked who I am."
    msgs = mock.requests[1]["body"]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "Hello, who are you?" and msgs[1]["content"] == "I am opi."
    assert len(agent.messages) == 4
    agent.reset()
    assert agent.messages == []


async def test_provider_errors_raise_request_error_with_status_and_message(mock: MockLLM) -> None:
    agent = build(
        mock,
        [
            {
                "error": {
                    "status": 401,
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                }
            }
        ],
    )
    with pytest.raises(RequestError) as info:
        await agent.run("hi")
    assert info.value.status == 401
    assert "Incorrect API key provided" in str(info.value)
    assert info.value.kind == "auth"


async def test_max_turns_stops_a_runaway_tool_loop(mock: MockLLM) -> None:
    @tool
    def again() -> str:
        """Call me again."""
        return "again"

    mock.set_script({"responses": [call("again", {})], "repeat_last": True})
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1")
    agent = AgentBuilder(env={}).with_config(config).with_tools([again]).with_max_turns(3).build()
    with pytest.raises(AgentError, match="Stopped after 3 turns"):
        await agent.run("loop")
    assert len(mock.requests) == 3


async def test_subscribe_sees_streaming_deltas(mock: MockLLM) -> None:
    agent = build(mock, [text("streamed text here", chunk_size=4)])
    seen: list[AgentEvent] = []
    agent.subscribe(seen.append)
    await agent.run("go")
    assert sum(isinstance(e, MessageUpdate) for e in seen) >= 4


# -- tools -----------------------------------------------------------------------------------------


class WeatherTool:
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            name="get_weather",
            description="Get the current weather for a location",
            parameters={
                "type": "object",
                "required": ["location"],
                "properties": {"location": {"type": "string"}},
                "additionalProperties": False,
            },
            strict=True,
        )

    async def execute(self, arguments: dict[str, Any]) -> str:
        if arguments["location"] == "Atlantis":
            raise ToolError("No weather under the sea")
        return f"The weather in {arguments['location']} is sunny and 72°F"


async def test_registered_tools_run_and_their_errors_are_results(mock: MockLLM) -> None:
    reg = ToolRegistry()
    reg.register(WeatherTool())
    with pytest.raises(ConfigError, match="already registered"):
        reg.register(WeatherTool())
    mock.set_script(
        {
            "responses": [
                call("get_weather", {"location": "Seattle"}),
                call("get_weather", {"location": "Atlantis"}),
                text("Sunny in Seattle."),
            ]
        }
    )
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1")
    agent = AgentBuilder(env={}).with_config(config).with_tools(reg).build()
    assert await agent.run("weather?") == "Sunny in Seattle."
    tools = mock.requests[0]["body"]["tools"]
    assert tools[0]["function"]["name"] == "get_weather"
    assert tools[0]["function"]["strict"] is True  # the definition's strict flag is sent
    assert mock.requests[1]["body"]["messages"][-1]["content"] == "The weather in Seattle is sunny and 72°F"
    assert mock.requests[2]["body"]["messages"][-1]["content"] == "No weather under the sea"
    assert reg.definitions()[0].strict is True


async def test_with_stream_false_asks_for_whole_replies(mock: MockLLM) -> None:
    reg = ToolRegistry([WeatherTool()])
    mock.set_script({"responses": [call("get_weather", {"location": "Seattle"}), text("Sunny in Seattle.")]})
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1").with_stream(False)
    agent = AgentBuilder(env={}).with_config(config).with_tools(reg).build()
    updates: list[AgentEvent] = []
    agent.loop.subscribe(lambda e: updates.append(e) if isinstance(e, MessageUpdate) else None)
    assert await agent.run("weather?") == "Sunny in Seattle."
    assert [r["body"]["stream"] for r in mock.requests] == [False, False]
    assert all("stream_options" not in r["body"] for r in mock.requests)
    assert mock.requests[1]["body"]["messages"][-1]["content"] == "The weather in Seattle is sunny and 72°F"
    assert updates  # subscribers still get the reply's events, all at once


async def test_register_fn_with_a_plain_async_function(mock: MockLLM) -> None:
    async def reverse_string(text: str) -> str:
        return text[::-1]

    reg = ToolRegistry()
    reg.register_fn("reverse_string", "Reverses a given string of text", reverse_string)
    mock.set_script({"responses": [call("reverse_string", {"text": "Hello World"}), text("done")]})
    config = Config().with_api_key("k").with_model("gpt-4o").with_base_url(mock.base_url + "/v1")
    agent = AgentBuilder(env={}).with_config(config).with_tools(reg).build()
    assert await agent.run("reverse") == "done"
    sent = mock.requests[0]["body"]["tools"][0]["function"]
    assert sent["strict"] is False
    assert sent["description"] == "Reverses a given string of text"
    assert sent["parameters"]["properties"] == {"text": {"type": "string"}}
    assert mock.requests[1]["body"]["messages"][-1]["content"] == "dlroW olleH"


def test_persistence_methods_need_a_store(mock: MockLLM) -> None:
    import asyncio

    agent = build(mock, [])
    with pytest.raises(AgentError, match="with_persistence"):
        asyncio.run(agent.list_conversations())
