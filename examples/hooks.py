"""Hooks: refuse some tool calls, post-process results, and stop a run after a few turns."""

from __future__ import annotations

import asyncio
import os

from opi_cli import (
    AfterToolCallResult,
    AgentBuilder,
    BeforeToolCallResult,
    Config,
    ToolCallContext,
    ToolResult,
    TurnContext,
    tool,
)


@tool
def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


async def guard(ctx: ToolCallContext) -> BeforeToolCallResult | None:
    if str(ctx.args.get("path", "")).startswith("/etc"):
        return BeforeToolCallResult(block=True, reason="Files under /etc are off limits.")
    return None


async def log_result(ctx: ToolCallContext, result: ToolResult) -> AfterToolCallResult | None:
    print(f"[tool] {ctx.tool_call.name}({ctx.args['path']}) -> {result.text}")
    return None


async def at_most_five_turns(ctx: TurnContext) -> bool:
    return ctx.turn >= 5


async def main() -> None:
    agent = (
        AgentBuilder()
        .with_config(Config().with_api_key(os.environ["OPENAI_API_KEY"]).with_model("gpt-4o"))
        .with_tools([delete_file])
        .with_before_tool_call(guard)
        .with_after_tool_call(log_result)
        .with_should_stop_after_turn(at_most_five_turns)
        .build()
    )
    print(await agent.run("Clean up /tmp/old.log and /etc/passwd"))


if __name__ == "__main__":
    asyncio.run(main())
