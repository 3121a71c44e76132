"""The OpenAI Realtime API over WebSocket, with the agent's tools called by the model.

OPI_REALTIME_URL overrides the endpoint (wss://api.openai.com/v1/realtime); the tests
point it at a local scripted server.
"""

from __future__ import annotations

import asyncio
import os

from opi_cli import AgentBuilder, Config, RealtimeEvent, ServerEvent, ToolRegistry, tool
from opi_cli.realtime import ErrorEvent, ResponseDone, TextDelta, ToolCallExecuted


@tool
def get_weather(location: str) -> str:
    """Get the current weather for a location.

    Args:
        location: The city and state, e.g. San Francisco, CA.
    """
    return f"The weather in {location} is sunny and 72°F"


async def main() -> None:
    api_key = os.environ["OPENAI_API_KEY"]

    registry = ToolRegistry()
    registry.register(get_weather)

    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(api_key).with_model("gpt-4o"))
        .with_tools(registry)
        .with_system_prompt("You are a helpful assistant.")
        .with_websocket(os.environ.get("OPI_REALTIME_URL"))  # enable the Realtime client
        .build()
    )

    await agent.connect_realtime("gpt-realtime")

    # Send a user message, then ask for a response.
    await agent.send_realtime_event(
        RealtimeEvent(
            "conversation.item.create",
            {
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Weather in Paris?"}],
                }
            },
        )
    )
    await agent.send_realtime_event(RealtimeEvent("response.create"))

    def handle(event: ServerEvent) -> bool:
        if isinstance(event, TextDelta):
            print(event.delta, end="", flush=True)
        elif isinstance(event, ToolCallExecuted):
            print(f"[tool] {event.name} -> {event.output}")
        elif isinstance(event, ErrorEvent):
            print(f"[error] {event.code}: {event.message}")
        elif isinstance(event, ResponseDone) and not event.function_calls:
            print(f"\n[done] {event.status}")
            return True  # the model's turn is over: stop processing
        return False

    await agent.process_realtime_events(handle)
    await agent.close_realtime()


if __name__ == "__main__":
    asyncio.run(main())
