"""What opi knows about one model: wire API, limits, capabilities, prices, quirks."""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from opi_cli._util.records import record
from opi_cli.ai.types import Cost, Usage

__all__ = ["KNOWN_APIS", "Api", "Model", "ModelCost", "OpenAICompat", "compute_cost"]

Api = Literal["openai-completions", "openai-responses", "anthropic-messages", "faux"]
KNOWN_APIS: tuple[str, ...] = ("openai-completions", "openai-responses", "anthropic-messages", "faux")


@record
class ModelCost:
    """Prices in dollars per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0


@record
class OpenAICompat:
    """Quirks of OpenAI-compatible servers (pi's ``compat`` block of models.json).

    ``None`` means "detect from provider and base URL" (see :func:`resolve_compat`).
    """

    supports_store: bool | None = None
    supports_developer_role: bool | None = None
    supports_reasoning_effort: bool | None = None
    supports_usage_in_streaming: bool | None = None
    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] | None = None
    requires_tool_result_name: bool | None = None
    requires_assistant_after_tool_result: bool | None = None
    requires_thinking_as_text: bool | None = None
    thinking_format: Literal["openai", "zai", "qwen", "qwen-chat-template"] | None = None
    supports_strict_mode: bool | None = None
    reasoning_effort_map: dict[str, str] | None = None


@record
class Model:
    """One model as opi uses it.

    Attributes:
        id: the id sent on the wire.
        provider: provider name (``openai``, ``anthropic``, a models.json key, ...).
        api: the wire protocol.
        base_url: endpoint root, e.g. ``https://api.openai.com/v1``.
        reasoning: accepts a reasoning/thinking level.
        input: ``("text",)`` or ``("text", "image")``.
        context_window / max_tokens: limits in tokens.
        known: False when built from defaults for an id opi has no metadata for.
    """

    id: str
    provider: str
    api: str
    base_url: str
    name: str = ""
    reasoning: bool = False
    input: tuple[str, ...] = ("text",)
    cost: ModelCost = field(default_factory=ModelCost)
    context_window: int = 128000
    max_tokens: int = 16384
    headers: dict[str, str] = field(default_factory=dict)
    compat: OpenAICompat = field(default_factory=OpenAICompat)
    known: bool = True

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def supports_images(self) -> bool:
        return "image" in self.input

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.id}"


def compute_cost(model: Model, usage: Usage) -> Usage:
    """``usage`` with its ``cost`` filled from the model's per-million prices."""
    p = model.cost
    c_in = usage.input * p.input / 1e6
    c_out = usage.output * p.output / 1e6
    c_cr = usage.cache_read * p.cache_read / 1e6
    c_cw = usage.cache_write * p.cache_write / 1e6
    return Usage(
        usage.input,
        usage.output,
        usage.cache_read,
        usage.cache_write,
        usage.total_tokens or (usage.input + usage.output + usage.cache_read + usage.cache_write),
        Cost(c_in, c_out, c_cr, c_cw, c_in + c_out + c_cr + c_cw),
    )
