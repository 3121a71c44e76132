"""Every Config option; each with_* returns a new Config."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from opi_cli import AgentBuilder, Config


def configure_client() -> Config:
    return (
        Config()
        .with_api_key(os.environ.get("OPENAI_API_KEY", "your-api-key"))
        .with_model("gpt-4o")  # choose your model
        .with_temperature(0.7)  # randomness, 0.0-2.0
        .with_max_tokens(1024)  # cap on generated tokens
        .with_timeout(timedelta(seconds=30))  # read timeout (or a number of seconds)
        .with_base_url(os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"))
        .with_organization("your-org-id")  # optional organization
        .with_stream(False)  # kept for the seed's API; run() returns the whole text
        .with_json_mode(False)  # ask for a JSON object answer
    )


async def main() -> None:
    config = configure_client()
    print(
        f"Config: model={config.model} temperature={config.temperature} max_tokens={config.max_tokens} timeout={config.timeout}s"
    )
    agent = AgentBuilder().with_config(config).build()
    print(f"Response: {await agent.run('Say hello.')}")


if __name__ == "__main__":
    asyncio.run(main())
