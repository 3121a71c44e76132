"""The Realtime client against a local scripted WebSocket server (real sockets, loopback only)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opi_cli import AgentBuilder, Config, ConfigError, RequestError, tool
from opi_cli.realtime import (
    ClientEvent,
    ErrorEvent,
    FunctionCallArgumentsDone,
    RealtimeClient,
    RealtimeOptions,
    ResponseDone,
    ServerEvent,
    SessionEvent,
    TextDelta,
    ToolCallExecuted,
    parse_server_event,
    realtime_url,
)
from opi_cli.sdk import Agent
from tests.library.realtime_server import (
    RealtimeServer,
    function_call_response,
    session_created,
    session_updated,
    text_response,
)


@tool
def get_weather(location: str, unit: str = "F") -> str:
    """Get the current weather for a location.

    Args:
        location: City name.
    """
    if location == "Atlantis":
        raise RuntimeError("no weather under the sea")
    return f"{location}: 72°{unit}"


def agent_for(srv: RealtimeServer, **kw: Any) -> Agent:
    return (
        AgentBuilder(env={})
        .with_config(Config().with_api_key("sk-rt").with_model("gpt-4o"))
        .with_system_prompt("Be brief.")
        .with_tools([get_weather])
        .with_websocket(srv.url, **kw)
        .build()
    )


def until_turn_done(seen: list[ServerEvent]) -> Any:
    def handle(event: ServerEvent) -> bool:
        seen.append(event)
        return isinstance(event, ResponseDone) and not event.function_calls

    return handle


async def test_connect_sends_ga_headers_and_session_update_with_flat_tools() -> None:
    script = [
        session_created(),
        *session_updated(),
        {"expect": "response.create"},
        *text_response("r1", "Hello there"),
    ]
    with RealtimeServer([script]) as srv:
        agent = agent_for(srv)
        await agent.connect_realtime("gpt-realtime")
        await agent.send_realtime_text("hi")
        seen: list[ServerEvent] = []
        await agent.process_realtime_events(until_turn_done(seen))
        await agent.close_realtime()
        conn = srv.connections[0]
    assert conn["path"] == "/v1/realtime?model=gpt-realtime"
    assert conn["headers"]["authorization"] == "Bearer sk-rt"
    assert "openai-beta" not in conn["headers"]
    update = conn["received"][0]
    assert update["type"] == "session.update"
    session = update["session"]
    assert session["type"] == "realtime" and session["model"] == "gpt-realtime"
    assert session["instructions"] == "Be brief."
    assert session["output_modalities"] == ["text"]
    assert session["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get the current weather for a location.",
            "parameters": get_weather.parameters,
        }
    ]
    assert [e["type"] for e in conn["received"][1:]] == ["conversation.item.create", "response.create"]
    assert conn["received"][1]["item"]["content"] == [{"type": "input_text", "text": "hi"}]
    assert isinstance(seen[0], SessionEvent) and seen[0].session["id"] == "sess_1"
    assert "".join(e.delta for e in seen if isinstance(e, TextDelta)) == "Hello there"
    done = seen[-1]
    assert isinstance(done, ResponseDone) and done.status == "completed" and done.text == "Hello there"


async def test_function_calls_run_through_the_agent_tools_then_response_create() -> None:
    calls = [
        ("call_1", "get_weather", json.dumps({"location": "Paris", "unit": "C"})),
        ("call_2", "get_weather", json.dumps({"location": "Atlantis"})),
        ("call_3", "get_weather", json.dumps({"unit": 5})),
        ("call_4", "nope", "{}"),
    ]
    script = [
        session_created(),
        *session_updated(),
        {"expect": "response.create"},
        *function_call_response("r1", calls),
        {"expect": "response.create"},
        *text_response("r2", "Paris is sunny."),
    ]
    with RealtimeServer([script]) as srv:
        agent = agent_for(srv)
        await agent.connect_realtime("gpt-realtime")
        await agent.send_realtime_event(ClientEvent.user_message("weather?"))
        await agent.send_realtime_event({"type": "response.create"})
        seen: list[ServerEvent] = []
        await agent.process_realtime_events(until_turn_done(seen))
        await agent.close_realtime()
        received = srv.received(0)
    outputs = [
        e
        for e in received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    by_call = {e["item"]["call_id"]: e["item"]["output"] for e in outputs}
    assert list(by_call) == ["call_1", "call_2", "call_3", "call_4"]  # each call run once, in order
    assert by_call["call_1"] == "Paris: 72°C"
    assert by_call["call_2"] == "no weather under the sea"
    assert 'Validation failed for tool "get_weather"' in by_call["call_3"]
    assert "must have required property 'location'" in by_call["call_3"]
    assert by_call["call_4"] == "Tool nope not found"
    types = [e["type"] for e in received]
    # one response.create after all outputs of the response (plus the one the client sent first)
    assert types.count("response.create") == 2
    assert types.index("response.create", types.index("response.create") + 1) > max(
        i
        for i, e in enumerate(received)
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    )
    executed = [e for e in seen if isinstance(e, ToolCallExecuted)]
    assert [(e.call_id, e.is_error) for e in executed] == [
        ("call_1", False),
        ("call_2", True),
        ("call_3", True),
        ("call_4", True),
    ]
    assert any(isinstance(e, FunctionCallArgumentsDone) for e in seen)
    assert isinstance(seen[-1], ResponseDone) and seen[-1].text == "Paris is sunny."


async def test_error_events_reach_the_handler_and_are_not_fatal() -> None:
    err = {
        "type": "error",
        "event_id": "ev_e",
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "Unknown event type",
            "param": "type",
            "event_id": "mine",
        },
    }
    script = [
        session_created(),
        {"expect": "bogus.event"},
        {"send": err},
        {"expect": "response.create"},
        *text_response("r1", "still here"),
    ]
    with RealtimeServer([script]) as srv:
        agent = agent_for(srv)
        await agent.connect_realtime("gpt-realtime")
        await agent.send_realtime_event(ClientEvent("bogus.event", event_id="mine"))
        await agent.send_realtime_event(ClientEvent.response_create())
        seen: list[ServerEvent] = []
        await agent.process_realtime_events(until_turn_done(seen))
        await agent.close_realtime()
    errors = [e for e in seen if isinstance(e, ErrorEvent)]
    assert len(errors) == 1
    assert (errors[0].code, errors[0].message, errors[0].caused_by, errors[0].param) == (
        "invalid_value",
        "Unknown event type",
        "mine",
        "type",
    )
    assert isinstance(seen[-1], ResponseDone)


@pytest.mark.parametrize(
    ("code", "reason", "error_code", "kind"),
    [
        (3000, "invalid_api_key", "invalid_api_key", "auth"),
        (4000, "beta_api_shape_disabled", "beta_api_shape_disabled", "bad_request"),
    ],
)
async def test_application_close_codes_are_request_errors_with_the_reason(
    code: int, reason: str, error_code: str, kind: str
) -> None:
    err = {
        "type": "error",
        "error": {"type": "invalid_request_error", "code": error_code, "message": "Nope."},
    }
    script = [{"send": err}, {"close": code, "reason": reason}]
    with RealtimeServer([script]) as srv:
        agent = agent_for(srv)
        seen: list[ServerEvent] = []
        with pytest.raises(RequestError) as info:
            # the close may already fail the session.update sent while connecting
            await agent.connect_realtime("gpt-realtime")
            await agent.process_realtime_events(seen.append)
        assert len(srv.connections) == 1  # never reconnects after an application close
    assert info.value.status == code and info.value.kind == kind
    assert reason in str(info.value) and "Nope." in str(info.value)
    assert isinstance(seen[0], ErrorEvent) and seen[0].message == "Nope."


async def test_reconnects_once_after_an_abnormal_close() -> None:
    first = [session_created(), *session_updated(), {"drop": True}]
    second = [
        session_created(),
        *session_updated(),
        {"expect": "response.create"},
        *text_response("r9", "back"),
    ]
    with RealtimeServer([first, second]) as srv:
        agent = agent_for(srv)
        await agent.connect_realtime("gpt-realtime")
        seen: list[ServerEvent] = []

        async def handle(event: ServerEvent) -> bool:
            seen.append(event)
            if (
                isinstance(event, SessionEvent)
                and event.type == "session.updated"
                and len(srv.connections) == 2
            ):
                await agent.send_realtime_event(ClientEvent.response_create())
            return isinstance(event, ResponseDone)

        await agent.process_realtime_events(handle)
        await agent.close_realtime()
        assert len(srv.connections) == 2
        assert srv.received(1)[0]["type"] == "session.update"  # the session is declared again
    assert isinstance(seen[-1], ResponseDone) and seen[-1].text == "back"


async def test_a_second_abnormal_close_is_an_error() -> None:
    drop = [session_created(), {"drop": True}]
    with RealtimeServer([drop]) as srv:
        agent = agent_for(srv)
        with pytest.raises(RequestError, match="code 1006") as info:
            await agent.connect_realtime("gpt-realtime")
            await agent.process_realtime_events(lambda e: None)
    assert (info.value.kind, info.value.status) == ("network", 1006)


async def test_a_normal_server_close_ends_processing() -> None:
    with RealtimeServer([[session_created(), {"close": 1000, "reason": "bye"}]]) as srv:
        agent = agent_for(srv, reconnect_attempts=0)
        await agent.connect_realtime("gpt-realtime")
        seen: list[ServerEvent] = []
        await agent.process_realtime_events(seen.append)
    assert [e.type for e in seen] == ["session.created"]


async def test_refused_upgrade_and_missing_websocket_setup_are_clear_errors() -> None:
    client = RealtimeClient(RealtimeOptions(url="ws://127.0.0.1:9/v1/realtime", open_timeout_s=2))
    with pytest.raises(RequestError, match="cannot connect to the Realtime API"):
        await client.connect("gpt-realtime")
    plain = AgentBuilder(env={}).with_config(Config().with_api_key("k").with_model("gpt-4o")).build()
    with pytest.raises(ConfigError, match="with_websocket"):
        await plain.connect_realtime("gpt-realtime")


def test_event_parsing_covers_ga_and_beta_names() -> None:
    assert isinstance(parse_server_event({"type": "response.text.delta", "delta": "x"}), TextDelta)
    assert isinstance(parse_server_event({"type": "response.output_text.delta", "delta": "x"}), TextDelta)
    other = parse_server_event({"type": "input_audio_buffer.speech_started", "audio_start_ms": 5})
    assert type(other) is ServerEvent and other.raw["audio_start_ms"] == 5
    assert ClientEvent.function_call_output("c", "out").to_json() == {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "c", "output": "out"},
    }
    assert realtime_url("wss://h/v1/realtime", "gpt realtime") == "wss://h/v1/realtime?model=gpt%20realtime"
    assert realtime_url("wss://h/x?api-version=1", "m") == "wss://h/x?api-version=1&model=m"
