"""Error handling: every error is an OpiError; the seed's kinds are its subclasses."""

from __future__ import annotations

import asyncio
import os

from opi_cli import (
    AgentBuilder,
    AgentError,
    Config,
    ConfigError,
    OpiError,
    ParseError,
    RequestError,
    ToolError,
)


async def main() -> None:
    try:
        AgentBuilder().with_config(Config().with_model("gpt-4o").with_temperature(3.0)).build()
    except ConfigError as err:
        print(f"Configuration error: {err}")

    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(os.environ["OPENAI_API_KEY"]).with_model("gpt-4o"))
        .with_retry(enabled=False)
        .build()
    )
    try:
        response = await agent.run("Hello")
        print(f"Response: {response}")
    except RequestError as err:
        print(f"Request error: {err}")
        print(f"  status={err.status} kind={err.kind}")
    except ToolError as err:
        print(f"Tool execution error: {err}")
    except ParseError as err:
        print(f"Parse error: {err}")
    except AgentError as err:
        print(f"Agent error: {err}")
    except OpiError as err:
        print(f"Other error: {err}")


if __name__ == "__main__":
    asyncio.run(main())
