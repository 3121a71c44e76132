"""Basic usage: build an agent from a Config and run one prompt.

Needs OPENAI_API_KEY; OPENAI_BASE_URL, when set, points it at another
OpenAI-compatible server (the tests use a local mock).
"""

from __future__ import annotations

import asyncio
import os

from opi_cli import AgentBuilder, Config


async def main() -> None:
    api_key = os.environ["OPENAI_API_KEY"]

    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(api_key).with_model("gpt-4o").with_max_tokens(1024))
        .with_system_prompt("You are a helpful assistant.")
        .build()
    )

    response = await agent.run("Tell me about Rust programming.")
    print(f"Response: {response}")


if __name__ == "__main__":
    asyncio.run(main())
