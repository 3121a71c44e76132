"""Method 1: a tool as a class implementing the RegisteredTool protocol."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from opi_cli import AgentBuilder, Config, ToolDefinition, ToolError, ToolRegistry


class WeatherTool:
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            name="get_weather",
            description="Get the current weather for a location",
            parameters={
                "type": "object",
                "required": ["location"],
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g., San Francisco, CA",
                    }
                },
                "additionalProperties": False,
            },
            strict=True,
        )

    async def execute(self, arguments: dict[str, Any]) -> str:
        location = arguments.get("location")
        if not isinstance(location, str):
            raise ToolError("Missing location parameter")
        # A real tool would look the weather up here.
        print(f"[tool] get_weather({location!r})")
        return f"The weather in {location} is sunny and 72°F"


async def main() -> None:
    api_key = os.environ["OPENAI_API_KEY"]

    tools = ToolRegistry()
    tools.register(WeatherTool())

    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(api_key).with_model("gpt-4o"))
        .with_system_prompt("You are a helpful assistant that can check the weather.")
        .with_tools(tools)
        .build()
    )

    response = await agent.run("What's the weather like in Seattle?")
    print(f"Response: {response}")


if __name__ == "__main__":
    asyncio.run(main())
