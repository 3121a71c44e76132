"""The cost ceiling layer: spend counted from replies, no request once it is reached."""

from __future__ import annotations

from dataclasses import replace

from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.cost_ceiling import CostCeiling, format_usd
from opi_cli.ai.model import ModelCost
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.ai.types import AssistantMessage, Usage
from tests.test_agent_loop import Gate

MODEL = replace(faux_model(), cost=ModelCost(input=5000, output=5000))  # $ per million tokens


def priced(total: float) -> Usage:
    """Usage that costs ``total`` dollars at MODEL's prices (the provider computes it)."""
    tokens = round(total / 2 * 1_000_000 / 5000)
    return Usage(tokens, tokens, 0, 0, 2 * tokens)


async def test_the_request_after_the_ceiling_is_never_sent() -> None:
    ceiling = CostCeiling(0.25)
    gate = Gate()
    for key in ("a", "b", "c"):
        gate.event(key).set()
    provider = FauxProvider([
        FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "a"})], usage=priced(0.1)),
        FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "b"})], usage=priced(0.1)),
        FauxResponse(tool_calls=[FauxToolCall("gate", {"id": "c"})], usage=priced(0.1)),
        FauxResponse(text="never", usage=priced(0.1)),
    ])
    agent = Agent(AgentOptions(model=MODEL, provider=provider, tools=[gate], hooks=ceiling.hooks()))
    agent.subscribe(ceiling.observe)
    await agent.prompt("go")
    assert len(provider.requests) == 3  # $0.30 spent after three replies: the fourth is not asked for
    last = agent.messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "error"
    assert last.error_message == (
        "Cost ceiling reached: $0.3000 spent of the $0.2500 allowed (--max-cost / maxCostUsd), "
        "so no further request was sent. Raise the ceiling to continue."
    )
    assert ceiling.reached and round(ceiling.spent_usd, 6) == 0.3


async def test_under_the_ceiling_nothing_changes() -> None:
    ceiling = CostCeiling(5)
    provider = FauxProvider([FauxResponse(text="fine", usage=priced(0.1))])
    agent = Agent(AgentOptions(model=MODEL, provider=provider, hooks=ceiling.hooks()))
    agent.subscribe(ceiling.observe)
    await agent.prompt("go")
    assert agent.last_assistant is not None and agent.last_assistant.text == "fine"
    assert not ceiling.reached and abs(ceiling.fraction - 0.02) < 1e-9


def test_dollar_format() -> None:
    assert format_usd(0.00421) == "$0.0042" and format_usd(2.5) == "$2.50"
