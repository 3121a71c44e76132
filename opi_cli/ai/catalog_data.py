"""The built-in table of providers and models: plain data, no logic.

Prices are dollars per million tokens (input, output, cache read, cache write), as the
providers publish them for standard (not batch, not long-context) use. Anthropic's cache
write price is the 5-minute TTL rate (1.25x input), its cache read 0.1x input. OpenAI has
no cache-write charge. Anything missing or newer can be added in ``OPI_HOME/models.json``;
unknown ids of a known provider work with default metadata.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ANTHROPIC_MODELS", "OPENAI_MODELS", "PROVIDERS", "ModelRow", "ProviderRow"]


class ProviderRow(NamedTuple):
    """One known provider: wire API, endpoint and the environment variables it reads."""

    name: str
    api: str
    base_url: str
    key_env: tuple[str, ...]
    base_url_env: str | None
    default_model: str | None
    local: bool = False


class ModelRow(NamedTuple):
    """One built-in model (provider, api and base URL come from its provider)."""

    id: str
    name: str
    context_window: int
    max_tokens: int
    reasoning: bool
    images: bool
    input: float
    output: float
    cache_read: float
    cache_write: float


# fmt: off
PROVIDERS: tuple[ProviderRow, ...] = (
    ProviderRow("openai", "openai-responses", "https://api.openai.com/v1",
                ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "gpt-5.1"),
    ProviderRow("anthropic", "anthropic-messages", "https://api.anthropic.com/v1",
                ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"), "ANTHROPIC_BASE_URL", "claude-sonnet-4-5"),
    ProviderRow("openrouter", "openai-completions", "https://openrouter.ai/api/v1",
                ("OPENROUTER_API_KEY",), None, "anthropic/claude-sonnet-4.5"),
    ProviderRow("groq", "openai-completions", "https://api.groq.com/openai/v1",
                ("GROQ_API_KEY",), None, "openai/gpt-oss-120b"),
    ProviderRow("deepseek", "openai-completions", "https://api.deepseek.com/v1",
                ("DEEPSEEK_API_KEY",), None, "deepseek-chat"),
    ProviderRow("mistral", "openai-completions", "https://api.mistral.ai/v1",
                ("MISTRAL_API_KEY",), None, "devstral-medium-latest"),
    ProviderRow("xai", "openai-completions", "https://api.x.ai/v1",
                ("XAI_API_KEY",), None, "grok-4"),
    ProviderRow("cerebras", "openai-completions", "https://api.cerebras.ai/v1",
                ("CEREBRAS_API_KEY",), None, "gpt-oss-120b"),
    ProviderRow("together", "openai-completions", "https://api.together.xyz/v1",
                ("TOGETHER_API_KEY",), None, "openai/gpt-oss-120b"),
    ProviderRow("fireworks", "openai-completions", "https://api.fireworks.ai/inference/v1",
                ("FIREWORKS_API_KEY",), None, None),
    ProviderRow("ollama", "openai-completions", "http://localhost:11434/v1",
                (), "OLLAMA_BASE_URL", None, local=True),
    ProviderRow("lmstudio", "openai-completions", "http://localhost:1234/v1",
                (), "LMSTUDIO_BASE_URL", None, local=True),
    ProviderRow("llamacpp", "openai-completions", "http://localhost:8080/v1",
                (), "LLAMACPP_BASE_URL", None, local=True),
    ProviderRow("vllm", "openai-completions", "http://localhost:8000/v1",
                ("VLLM_API_KEY",), "VLLM_BASE_URL", None, local=True),
)

#         id                          name                    context    max out  reason images  in     out     cache r  cache w
OPENAI_MODELS: tuple[ModelRow, ...] = (
    ModelRow("gpt-5.2",               "GPT-5.2",              400_000,   128_000, True,  True,  1.75,  14.0,   0.175,   0.0),
    ModelRow("gpt-5.2-chat-latest",   "GPT-5.2 Chat",         128_000,    16_384, False, True,  1.75,  14.0,   0.175,   0.0),
    ModelRow("gpt-5.2-codex",         "GPT-5.2 Codex",        400_000,   128_000, True,  True,  1.75,  14.0,   0.175,   0.0),
    ModelRow("gpt-5.2-pro",           "GPT-5.2 Pro",          400_000,   128_000, True,  True, 21.0,  168.0,   0.0,     0.0),
    ModelRow("gpt-5.1",               "GPT-5.1",              400_000,   128_000, True,  True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5.1-chat-latest",   "GPT-5.1 Chat",         128_000,    16_384, False, True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5.1-codex",         "GPT-5.1 Codex",        400_000,   128_000, True,  True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5.1-codex-max",     "GPT-5.1 Codex Max",    400_000,   128_000, True,  True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5.1-codex-mini",    "GPT-5.1 Codex mini",   400_000,   128_000, True,  True,  0.25,   2.0,   0.025,   0.0),
    ModelRow("gpt-5",                 "GPT-5",                400_000,   128_000, True,  True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5-chat-latest",     "GPT-5 Chat",           128_000,    16_384, False, True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5-codex",           "GPT-5 Codex",          400_000,   128_000, True,  True,  1.25,  10.0,   0.125,   0.0),
    ModelRow("gpt-5-mini",            "GPT-5 mini",           400_000,   128_000, True,  True,  0.25,   2.0,   0.025,   0.0),
    ModelRow("gpt-5-nano",            "GPT-5 nano",           400_000,   128_000, True,  True,  0.05,   0.4,   0.005,   0.0),
    ModelRow("gpt-5-pro",             "GPT-5 Pro",            400_000,   272_000, True,  True, 15.0,  120.0,   0.0,     0.0),
    ModelRow("gpt-4.1",               "GPT-4.1",            1_047_576,    32_768, False, True,  2.0,    8.0,   0.5,     0.0),
    ModelRow("gpt-4.1-mini",          "GPT-4.1 mini",       1_047_576,    32_768, False, True,  0.4,    1.6,   0.1,     0.0),
    ModelRow("gpt-4.1-nano",          "GPT-4.1 nano",       1_047_576,    32_768, False, True,  0.1,    0.4,   0.025,   0.0),
    ModelRow("gpt-4o",                "GPT-4o",               128_000,    16_384, False, True,  2.5,   10.0,   1.25,    0.0),
    ModelRow("gpt-4o-2024-08-06",     "GPT-4o (2024-08-06)",  128_000,    16_384, False, True,  2.5,   10.0,   1.25,    0.0),
    ModelRow("gpt-4o-mini",           "GPT-4o mini",          128_000,    16_384, False, True,  0.15,   0.6,   0.075,   0.0),
    ModelRow("o3",                    "o3",                   200_000,   100_000, True,  True,  2.0,    8.0,   0.5,     0.0),
    ModelRow("o3-pro",                "o3-pro",               200_000,   100_000, True,  True, 20.0,   80.0,   0.0,     0.0),
    ModelRow("o3-mini",               "o3-mini",              200_000,   100_000, True,  False, 1.1,    4.4,   0.55,    0.0),
    ModelRow("o4-mini",               "o4-mini",              200_000,   100_000, True,  True,  1.1,    4.4,   0.275,   0.0),
    ModelRow("o1",                    "o1",                   200_000,   100_000, True,  True, 15.0,   60.0,   7.5,     0.0),
)

ANTHROPIC_MODELS: tuple[ModelRow, ...] = (
    ModelRow("claude-opus-4-6",            "Claude Opus 4.6",   200_000, 128_000, True,  True,  5.0,  25.0,   0.5,    6.25),
    ModelRow("claude-sonnet-4-6",          "Claude Sonnet 4.6", 200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-opus-4-5",            "Claude Opus 4.5",   200_000,  64_000, True,  True,  5.0,  25.0,   0.5,    6.25),
    ModelRow("claude-opus-4-5-20251101",   "Claude Opus 4.5",   200_000,  64_000, True,  True,  5.0,  25.0,   0.5,    6.25),
    ModelRow("claude-sonnet-4-5",          "Claude Sonnet 4.5", 200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-haiku-4-5",           "Claude Haiku 4.5",  200_000,  64_000, True,  True,  1.0,   5.0,   0.1,    1.25),
    ModelRow("claude-haiku-4-5-20251001",  "Claude Haiku 4.5",  200_000,  64_000, True,  True,  1.0,   5.0,   0.1,    1.25),
    ModelRow("claude-opus-4-1",            "Claude Opus 4.1",   200_000,  32_000, True,  True, 15.0,  75.0,   1.5,   18.75),
    ModelRow("claude-opus-4-1-20250805",   "Claude Opus 4.1",   200_000,  32_000, True,  True, 15.0,  75.0,   1.5,   18.75),
    ModelRow("claude-opus-4-0",            "Claude Opus 4",     200_000,  32_000, True,  True, 15.0,  75.0,   1.5,   18.75),
    ModelRow("claude-opus-4-20250514",     "Claude Opus 4",     200_000,  32_000, True,  True, 15.0,  75.0,   1.5,   18.75),
    ModelRow("claude-sonnet-4-0",          "Claude Sonnet 4",   200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-sonnet-4-20250514",   "Claude Sonnet 4",   200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-3-7-sonnet-latest",   "Claude Sonnet 3.7", 200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", 200_000,  64_000, True,  True,  3.0,  15.0,   0.3,    3.75),
    ModelRow("claude-3-5-haiku-latest",    "Claude Haiku 3.5",  200_000,   8_192, False, True,  0.8,   4.0,   0.08,   1.0),
    ModelRow("claude-3-5-haiku-20241022",  "Claude Haiku 3.5",  200_000,   8_192, False, True,  0.8,   4.0,   0.08,   1.0),
)
# fmt: on
