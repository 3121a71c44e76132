"""Multi-turn conversations: the agent keeps the conversation between runs."""

from __future__ import annotations

import asyncio
import os

from opi_cli import AgentBuilder, Config


async def main() -> None:
    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(os.environ["OPENAI_API_KEY"]).with_model("gpt-4o"))
        .with_system_prompt("You are a helpful assistant.")
        .build()
    )

    response1 = await agent.run("Hello, who are you?")
    print(f"Response 1: {response1}")

    # Second turn: the first one is part of the context.
    response2 = await agent.run("What did I just ask you?")
    print(f"Response 2: {response2}")
    print(f"Messages in the conversation: {len(agent.messages)}")


if __name__ == "__main__":
    asyncio.run(main())
