"""Pick the wire adapter for a model's API (adapters are imported on first use)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from opi_cli.ai.events import AssistantStreamEvent, ProviderError
from opi_cli.ai.model import Model
from opi_cli.ai.provider import LlmContext, MessageBuilder, Provider, StreamOptions

__all__ = ["ApiProvider", "provider_for_api"]


def provider_for_api(api: str) -> Provider:
    """The adapter for ``api``.

    Raises:
        ValueError: an API opi has no adapter for.
    """
    if api == "openai-completions":
        from opi_cli.ai.providers.openai_chat import OpenAIChatProvider

        return OpenAIChatProvider()
    if api == "anthropic-messages":
        from opi_cli.ai.providers.anthropic import AnthropicProvider

        return AnthropicProvider()
    if api == "openai-responses":
        from opi_cli.ai.providers.openai_responses import OpenAIResponsesProvider

        return OpenAIResponsesProvider()
    raise ValueError(f"no adapter for api {api!r}")


class ApiProvider:
    """Dispatches each request to the adapter of the request's model (models may switch)."""

    def __init__(self) -> None:
        self._cache: dict[str, Provider] = {}

    def stream(
        self, model: Model, context: LlmContext, options: StreamOptions
    ) -> AsyncIterator[AssistantStreamEvent]:
        # The adapter's own stream is returned, not re-yielded: one generator less per event.
        try:
            adapter = self._cache.get(model.api) or provider_for_api(model.api)
        except ValueError as exc:
            return _unsupported(model, str(exc))
        self._cache[model.api] = adapter
        return adapter.stream(model, context, options)


async def _unsupported(model: Model, message: str) -> AsyncIterator[AssistantStreamEvent]:
    b = MessageBuilder(model)
    yield b.start()
    yield b.fail(ProviderError("bad_request", message))
