"""A coding agent in ten lines: opi's built-in tools (read, write, edit, bash, grep, find, ls) in a folder."""

import asyncio
import os
import sys

from opi_cli import AgentBuilder, Config, create_coding_tools


async def main(folder: str, task: str) -> None:
    config = Config().with_api_key(os.environ["OPENAI_API_KEY"]).with_model("gpt-4o")
    tools = create_coding_tools(folder)
    async with AgentBuilder().with_config(config).with_tools(tools).with_cwd(folder).build() as agent:
        print(await agent.run(task))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else ".", " ".join(sys.argv[2:]) or "What is in this folder?"))
