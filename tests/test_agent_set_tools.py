"""LoopAgent.set_tools/add_tool/remove_tool during a run apply from the next model request."""

from __future__ import annotations

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import AgentOptions, LoopAgent
from opi_cli.agent.tool import ToolResult, UpdateCallback, text_result
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model


class _Tool:
    execution_mode = "parallel"

    def __init__(self, name: str, on_run: object = None) -> None:
        self.parameters: dict[str, JsonValue] = {"type": "object"}
        self.name = name
        self.description = f"the {name} tool"
        self._on_run = on_run

    async def execute(self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal,
                      on_update: UpdateCallback | None) -> ToolResult:
        if callable(self._on_run):
            self._on_run()
        return text_result(f"{self.name} ran")


async def test_tools_changed_by_a_tool_reach_the_next_request_of_the_same_run() -> None:
    provider = FauxProvider([
        FauxResponse(tool_calls=[FauxToolCall("grow", {})]),
        FauxResponse(tool_calls=[FauxToolCall("late", {})]),
        FauxResponse(text="done"),
    ])
    agent = LoopAgent(AgentOptions(model=faux_model(), provider=provider))

    def grow() -> None:
        agent.add_tool(_Tool("late"))
        agent.remove_tool("grow")

    agent.set_tools([_Tool("grow", grow)])
    added = await agent.prompt("go")
    assert [[t.name for t in r.tools] for r in provider.requests] == [["grow"], ["late"], ["late"]]
    results = [m for m in added if getattr(m, "tool_name", None) == "late"]
    assert results and results[0].content[0].text == "late ran"  # type: ignore[union-attr]
    assert [t.name for t in agent.options.tools] == ["late"]
