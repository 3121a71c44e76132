"""The cost ceiling (``--max-cost``): no model request once this process's spend has reached it.

Spend is measured, not guessed: the sum of ``usage.cost.total`` of every reply this
process received (the provider's reported tokens at the model's catalogue prices). The
check runs right before each request (as a ``transform_context`` layer), so the reply in
flight when the ceiling is crossed completes and the next request is never sent: the
total can pass the ceiling by at most one reply. The run then ends with an error whose
text says what was spent and how to go on.
"""

from __future__ import annotations

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.events import AgentEvent, MessageEnd
from opi_cli.agent.hooks import AgentHooks, StopRun
from opi_cli.agent.messages import AgentMessage
from opi_cli.ai.types import AssistantMessage

__all__ = ["CostCeiling", "format_usd"]


def format_usd(value: float) -> str:
    """Dollars with enough digits to tell small amounts apart ($0.0042, $1.25)."""
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


class CostCeiling:
    """Counts spend from events (:meth:`observe`) and stops requests past ``limit_usd``.

    Args:
        limit_usd: the ceiling in US dollars (> 0).
    """

    def __init__(self, limit_usd: float) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.reached = False

    def observe(self, ev: AgentEvent) -> None:
        """Subscribe this to the agent or session: every finished reply adds its cost."""
        if isinstance(ev, MessageEnd) and isinstance(ev.message, AssistantMessage):
            self.spent_usd += ev.message.usage.cost.total

    @property
    def fraction(self) -> float:
        return self.spent_usd / self.limit_usd if self.limit_usd > 0 else 1.0

    def message(self) -> str:
        return (
            f"Cost ceiling reached: {format_usd(self.spent_usd)} spent of the {format_usd(self.limit_usd)} allowed "
            "(--max-cost / maxCostUsd), so no further request was sent. Raise the ceiling to continue."
        )

    async def check(self, messages: list[AgentMessage], signal: AbortSignal) -> list[AgentMessage]:
        """Before a request: raise :class:`StopRun` once the ceiling is reached."""
        if self.spent_usd >= self.limit_usd:
            self.reached = True
            raise StopRun(self.message())
        return messages

    def hooks(self) -> AgentHooks:
        return AgentHooks(transform_context=self.check)
