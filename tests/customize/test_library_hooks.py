"""Settings hooks in the library: the same runner on an AgentSession built in Python (no CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from opi_cli import tool
from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.ai.types import TextContent, ToolResultMessage, UserMessage
from opi_cli.hooks import HookRunner, parse_hooks
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.session_hooks import PromptBlocked
from opi_cli.session.stores import MemoryStore
from opi_cli.session.writer import SessionWriter


@tool
def deploy(target: str) -> str:
    """Deploy the service.

    Args:
        target: Where to deploy.
    """
    raise AssertionError("a blocked tool must not run")


async def test_the_runner_blocks_tools_adds_context_and_sees_compactions(tmp_path: Path) -> None:
    hooks = parse_hooks({
        "PreToolUse": [{"matcher": "deploy", "hooks": [
            {"type": "command", "command": "cat > pre.json; echo 'Deploys need a ticket number' >&2; exit 2"}]}],
        "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "echo 'On-call: Ada'"}]}],
        "PreCompact": [{"matcher": "manual", "hooks": [{"type": "command", "command": "cat > compact.json"}]}],
    }, "library settings")
    provider = FauxProvider([
        FauxResponse(tool_calls=[FauxToolCall("deploy", {"target": "prod"}, "call_1")]),
        FauxResponse(text="I need a ticket number."),
        FauxResponse(text="Summary of the conversation."),
    ])
    agent = Agent(AgentOptions(model=faux_model(), provider=provider, tools=[deploy]))
    store = MemoryStore()
    session = await AgentSession.start(agent, await SessionWriter.create(store, cwd=str(tmp_path)),
                                       record_settings=True)
    HookRunner(hooks, cwd=str(tmp_path)).attach(session)
    try:
        await session.prompt("deploy to prod")
        first = provider.requests[0].messages[-1]
        assert isinstance(first, UserMessage)
        assert [c.text for c in first.content if isinstance(c, TextContent)] == ["deploy to prod", "On-call: Ada"]
        result = next(m for m in agent.messages if isinstance(m, ToolResultMessage))
        texts = [c.text for c in result.content if isinstance(c, TextContent)]
        assert result.is_error and texts == ["Blocked by a PreToolUse hook: Deploys need a ticket number"]
        pre = json.loads((tmp_path / "pre.json").read_text())
        assert pre["session_id"] == session.session_id and pre["tool_input"] == {"target": "prod"}
        await session.compact("keep the deploy decision")
        compact = json.loads((tmp_path / "compact.json").read_text())
        assert compact["trigger"] == "manual" and compact["custom_instructions"] == "keep the deploy decision"
        assert compact["hook_event_name"] == "PreCompact"
    finally:
        await session.close()
        await store.close()


async def test_a_blocked_prompt_is_neither_sent_nor_stored(tmp_path: Path) -> None:
    hooks = parse_hooks({"UserPromptSubmit": [{"hooks": [
        {"type": "command", "command": "echo '{\"decision\": \"block\", \"reason\": \"no secrets\"}'"}]}]}, "s")
    provider = FauxProvider([FauxResponse(text="never")])
    agent = Agent(AgentOptions(model=faux_model(), provider=provider))
    store = MemoryStore()
    session = await AgentSession.start(agent, await SessionWriter.create(store, cwd=str(tmp_path)),
                                       record_settings=True)
    HookRunner(hooks, cwd=str(tmp_path)).attach(session)
    try:
        try:
            await session.prompt("token=abc")
        except PromptBlocked as exc:
            assert str(exc) == "Prompt not sent: a UserPromptSubmit hook blocked it: no secrets"
        else:
            raise AssertionError("the prompt was not blocked")
        assert provider.requests == [] and agent.messages == []
    finally:
        await session.close()
        await store.close()


async def test_agent_builder_runs_settings_hooks_like_the_cli(tmp_path: Path) -> None:
    from opi_cli import AgentBuilder, Config
    from opi_cli.errors import ConfigError

    provider = FauxProvider([
        FauxResponse(tool_calls=[FauxToolCall("deploy", {"target": "prod"}, "call_1")]),
        FauxResponse(text="Blocked, as expected."),
    ])
    agent = (
        AgentBuilder(env={})
        .with_config(Config().with_api_key("k").with_model("gpt-4o"))
        .with_provider(provider)
        .with_tools([deploy])
        .with_cwd(tmp_path)
        .with_settings_hooks({
            "SessionStart": [{"hooks": [{"type": "command", "command": "cat > start.json; echo 'Freeze until Monday'"}]}],
            "PreToolUse": [{"matcher": "deploy", "hooks": [
                {"type": "command", "command": "echo 'Deploys are frozen' >&2; exit 2"}]}],
        })
        .build()
    )
    try:
        assert await agent.run("deploy to prod") == "Blocked, as expected."
    finally:
        await agent.aclose()
    assert provider.requests[0].system_prompt.endswith("# Session start context\n\nFreeze until Monday")
    result = provider.requests[1].messages[-1]
    assert isinstance(result, ToolResultMessage) and result.is_error
    assert [c.text for c in result.content if isinstance(c, TextContent)] == [
        "Blocked by a PreToolUse hook: Deploys are frozen"]
    start = json.loads((tmp_path / "start.json").read_text())
    assert start["source"] == "startup" and start["session_id"] and start["cwd"] == str(tmp_path)
    try:
        AgentBuilder(env={}).with_settings_hooks({"PreToolUse": [{"matcher": "(", "hooks": []}]})
    except ConfigError as exc:
        assert "matcher '(' is not a valid regular expression" in str(exc)
    else:
        raise AssertionError("a bad matcher was accepted")
