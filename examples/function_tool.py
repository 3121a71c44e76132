"""Method 2: tools from plain functions; the JSON Schema comes from type hints and docstrings."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Annotated

from opi_cli import AgentBuilder, Config, ToolRegistry, function_tool, tool


@dataclass
class ReverseArgs:
    text: Annotated[str, "The string to reverse"]


# The one dataclass parameter is the whole argument object: {"text": "..."}.
async def reverse_string(args: ReverseArgs) -> str:
    reversed_text = args.text[::-1]
    print(f"[tool] reverse_string({args.text!r}) -> {reversed_text!r}")
    return reversed_text


@tool
def word_count(text: str, unique: bool = False) -> int:
    """Count the words in a text.

    Args:
        text: The text to count.
        unique: Count each distinct word once.
    """
    words = text.split()
    return len(set(words)) if unique else len(words)


async def main() -> None:
    api_key = os.environ["OPENAI_API_KEY"]

    tools = ToolRegistry()
    # Option 1: function_tool(name, description, fn), like the seed's tool_fn! macro.
    tools.register(function_tool("reverse_string", "Reverses a given string of text", reverse_string))
    # Option 2: tools.register_fn("reverse_string", "Reverses a given string of text", reverse_string)
    # Option 3: a @tool-decorated function (name and description from the function).
    tools.register(word_count)

    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(api_key).with_model("gpt-4o"))
        .with_system_prompt("You are a helpful assistant that can reverse text.")
        .with_tools(tools)
        .build()
    )

    response = await agent.run("Can you reverse this text: Hello World")
    print(f"Response: {response}")


if __name__ == "__main__":
    asyncio.run(main())
