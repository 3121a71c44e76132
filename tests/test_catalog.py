"""The model catalogue: built-in table, models.json merging and pi's matching rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from opi_cli.ai.catalog import ModelRegistry, load_models_json, parse_models_json, split_thinking_suffix
from opi_cli.ai.model import OpenAICompat
from opi_cli.errors import ConfigError


@pytest.fixture
def registry() -> ModelRegistry:
    return ModelRegistry.builtin()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.json"
    path.write_text(text, encoding="utf-8")
    return path


# -- built-in table ----------------------------------------------------------------------------


def test_builtin_table_is_consistent(registry: ModelRegistry) -> None:
    models = registry.all_models()
    refs = [m.ref for m in models]
    assert len(refs) == len(set(refs)), "duplicate provider/id"
    for m in models:
        assert m.known
        assert m.max_tokens <= m.context_window
        assert m.cost.output >= m.cost.input > 0
        assert m.cost.cache_read < m.cost.input or m.cost.cache_read == 0
        assert "text" in m.input
        assert registry.provider(m.provider) is not None


@pytest.mark.parametrize(
    "ref",
    [
        "openai/gpt-5",
        "openai/gpt-5-mini",
        "openai/gpt-5-nano",
        "openai/gpt-5.1",
        "openai/gpt-5.2",
        "openai/gpt-4.1",
        "openai/gpt-4.1-mini",
        "openai/gpt-4.1-nano",
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "openai/o3",
        "openai/o3-mini",
        "openai/o4-mini",
        "anthropic/claude-opus-4-6",
        "anthropic/claude-opus-4-5",
        "anthropic/claude-sonnet-4-5",
        "anthropic/claude-sonnet-4-0",
        "anthropic/claude-haiku-4-5",
        "anthropic/claude-3-7-sonnet-latest",
        "anthropic/claude-3-5-haiku-latest",
    ],
)
def test_required_models_present(registry: ModelRegistry, ref: str) -> None:
    provider, _, mid = ref.partition("/")
    assert registry.get(provider, mid) is not None


def test_builtin_values(registry: ModelRegistry) -> None:
    gpt5 = registry.get("openai", "gpt-5")
    assert gpt5 is not None
    assert (gpt5.api, gpt5.base_url) == ("openai-responses", "https://api.openai.com/v1")
    assert (gpt5.context_window, gpt5.max_tokens, gpt5.reasoning, gpt5.supports_images) == (
        400000,
        128000,
        True,
        True,
    )
    assert (gpt5.cost.input, gpt5.cost.output, gpt5.cost.cache_read) == (1.25, 10.0, 0.125)
    sonnet = registry.get("anthropic", "claude-sonnet-4-5")
    assert sonnet is not None
    assert (sonnet.api, sonnet.base_url) == ("anthropic-messages", "https://api.anthropic.com/v1")
    assert (sonnet.cost.input, sonnet.cost.output, sonnet.cost.cache_read, sonnet.cost.cache_write) == (
        3,
        15,
        0.3,
        3.75,
    )
    mini = registry.get("openai", "gpt-4o-mini")
    assert mini is not None and not mini.reasoning
    o3mini = registry.get("openai", "o3-mini")
    assert o3mini is not None and o3mini.reasoning and not o3mini.supports_images


def test_known_providers(registry: ModelRegistry) -> None:
    names = [p.name for p in registry.providers()]
    for name in (
        "openai",
        "anthropic",
        "groq",
        "openrouter",
        "deepseek",
        "mistral",
        "xai",
        "cerebras",
        "together",
        "ollama",
        "lmstudio",
        "llamacpp",
        "vllm",
    ):
        assert name in names
    ollama = registry.provider("Ollama")
    assert ollama is not None and ollama.local
    assert (ollama.api, ollama.base_url) == ("openai-completions", "http://localhost:11434/v1")
    assert registry.provider("lmstudio").base_url.endswith(":1234/v1")  # type: ignore[union-attr]
    assert registry.provider("llamacpp").base_url.endswith(":8080/v1")  # type: ignore[union-attr]
    assert registry.provider("vllm").base_url.endswith(":8000/v1")  # type: ignore[union-attr]
    openai = registry.provider("openai")
    assert (
        openai is not None
        and openai.key_env == ("OPENAI_API_KEY",)
        and openai.base_url_env == "OPENAI_BASE_URL"
    )


def test_default_for(registry: ModelRegistry) -> None:
    assert registry.default_for("openai").ref == "openai/gpt-5.1"  # type: ignore[union-attr]
    assert registry.default_for("anthropic").ref == "anthropic/claude-sonnet-4-5"  # type: ignore[union-attr]
    groq = registry.default_for("groq")
    assert groq is not None and not groq.known and groq.base_url == "https://api.groq.com/openai/v1"
    assert registry.default_for("ollama") is None
    assert registry.default_for("nope") is None


def test_unknown_model_gets_defaults(registry: ModelRegistry) -> None:
    m = registry.unknown_model("openai", "gpt-9-preview")
    assert (m.known, m.context_window, m.max_tokens, m.input, m.reasoning) == (
        False,
        128000,
        16384,
        ("text",),
        False,
    )
    assert (m.cost.input, m.cost.output) == (0, 0)
    assert (m.api, m.base_url) == ("openai-responses", "https://api.openai.com/v1")
    custom = registry.unknown_model("mine", "any-model", base_url="http://127.0.0.1:9/v1/")
    assert (custom.provider, custom.api, custom.base_url) == (
        "mine",
        "openai-completions",
        "http://127.0.0.1:9/v1",
    )
    with pytest.raises(ConfigError, match="Unknown provider 'mine'"):
        registry.unknown_model("mine", "x")


# -- matching (pi §8.5) ------------------------------------------------------------------------


def _ids(registry: ModelRegistry, pattern: str, provider: str | None = None) -> tuple[str, str | None] | None:
    found = registry.find(pattern, provider)
    return None if found is None else (found[0].ref, found[1])


def test_find_exact_ref_and_id(registry: ModelRegistry) -> None:
    assert _ids(registry, "openai/gpt-4o") == ("openai/gpt-4o", None)
    assert _ids(registry, "OPENAI/GPT-4O") == ("openai/gpt-4o", None)
    assert _ids(registry, "gpt-4o") == ("openai/gpt-4o", None)
    assert _ids(registry, "claude-sonnet-4-5-20250929") == ("anthropic/claude-sonnet-4-5-20250929", None)


def test_find_substring_prefers_aliases_then_highest(registry: ModelRegistry) -> None:
    assert _ids(registry, "sonnet") == ("anthropic/claude-sonnet-4-6", None)
    assert _ids(registry, "haiku") == ("anthropic/claude-haiku-4-5", None)
    assert _ids(registry, "sonnet-4-5") == ("anthropic/claude-sonnet-4-5", None)
    assert _ids(registry, "Claude Opus 4.1") == ("anthropic/claude-opus-4-1", None)  # by name


def test_find_dated_only_takes_newest(tmp_path: Path) -> None:
    reg = ModelRegistry.builtin()
    reg.apply(
        parse_models_json(
            '{"providers": {"p": {"baseUrl": "http://x/v1", "models": ['
            '{"id": "zeta-20240101"}, {"id": "zeta-20250101"}]}}}',
            tmp_path / "m.json",
        )
    )
    assert _ids(reg, "zeta") == ("p/zeta-20250101", None)


def test_find_thinking_suffix(registry: ModelRegistry) -> None:
    assert _ids(registry, "sonnet:high") == ("anthropic/claude-sonnet-4-6", "high")
    assert _ids(registry, "openai/gpt-5:xhigh") == ("openai/gpt-5", "xhigh")
    assert _ids(registry, "gpt-5:bogus") is None
    assert _ids(registry, "nothing-like-this") is None


def test_find_colon_ids_match_whole_first(tmp_path: Path) -> None:
    reg = ModelRegistry.builtin()
    reg.apply(
        parse_models_json(
            '{"providers": {"ollama": {"models": [{"id": "qwen3:high"}, {"id": "llama3.1:8b"}]}}}',
            tmp_path / "m",
        )
    )
    assert _ids(reg, "qwen3:high") == ("ollama/qwen3:high", None)
    assert _ids(reg, "llama3.1:8b") == ("ollama/llama3.1:8b", None)
    assert _ids(reg, "llama3.1:8b:low") == ("ollama/llama3.1:8b", "low")


def test_find_with_provider_restricts(registry: ModelRegistry) -> None:
    assert _ids(registry, "mini", "openai") is not None
    assert _ids(registry, "sonnet", "openai") is None


def test_find_ambiguous_exact_id(tmp_path: Path) -> None:
    reg = ModelRegistry.builtin()
    reg.apply(
        parse_models_json(
            '{"providers": {"proxy": {"baseUrl": "http://p/v1", "models": [{"id": "gpt-4o"}]}}}',
            tmp_path / "m",
        )
    )
    with pytest.raises(ConfigError, match="ambiguous"):
        reg.find("gpt-4o")
    assert _ids(reg, "gpt-4o", "proxy") == ("proxy/gpt-4o", None)
    assert _ids(reg, "proxy/gpt-4o") == ("proxy/gpt-4o", None)


def test_split_thinking_suffix() -> None:
    assert split_thinking_suffix("a:b:medium") == ("a:b", "medium")
    assert split_thinking_suffix("a:OFF") == ("a", "off")
    assert split_thinking_suffix(":high") == (":high", None)
    assert split_thinking_suffix("x:8b") == ("x:8b", None)


# -- models.json -------------------------------------------------------------------------------

PI_EXAMPLE = """
// my local models
{
  "providers": {
    "ollama": {
      "baseUrl": "http://localhost:11434/v1",
      "api": "openai-completions",
      "apiKey": "ollama",
      "compat": { "supportsDeveloperRole": false, "supportsReasoningEffort": false, },
      "models": [ { "id": "qwen2.5-coder:7b" }, ],  /* trailing commas are fine */
    },
    "my-proxy": {
      "baseUrl": "https://proxy.example/v1/",
      "api": "anthropic-messages",
      "apiKey": "PROXY_KEY",
      "authHeader": true,
      "headers": {"x-team": "a//b"},
      "models": [{
        "id": "big", "name": "Big One", "reasoning": true, "input": ["text", "image"],
        "contextWindow": 1000000, "maxTokens": 64000,
        "cost": {"input": 1.5, "output": 6, "cacheRead": 0.15},
        "compat": {"maxTokensField": "max_tokens"}
      }]
    }
  }
}
"""


def test_models_json_pi_example(tmp_path: Path) -> None:
    reg = ModelRegistry.builtin()
    reg.apply(load_models_json(write(tmp_path, PI_EXAMPLE)))
    qwen = reg.get("ollama", "qwen2.5-coder:7b")
    assert qwen is not None
    assert (qwen.context_window, qwen.max_tokens, qwen.input, qwen.reasoning, qwen.name) == (
        128000,
        16384,
        ("text",),
        False,
        "qwen2.5-coder:7b",
    )
    assert (qwen.cost.input, qwen.cost.output) == (0, 0)
    assert qwen.compat == OpenAICompat(supports_developer_role=False, supports_reasoning_effort=False)
    assert reg.provider("ollama").api_key == "ollama"  # type: ignore[union-attr]
    big = reg.get("my-proxy", "big")
    assert big is not None
    assert (big.api, big.base_url, big.name, big.reasoning, big.supports_images) == (
        "anthropic-messages",
        "https://proxy.example/v1",
        "Big One",
        True,
        True,
    )
    assert (big.context_window, big.max_tokens) == (1000000, 64000)
    assert (big.cost.input, big.cost.output, big.cost.cache_read, big.cost.cache_write) == (1.5, 6, 0.15, 0)
    assert big.headers == {"x-team": "a//b"}
    assert big.compat.max_tokens_field == "max_tokens"
    proxy = reg.provider("my-proxy")
    assert proxy is not None and proxy.auth_header and proxy.api_key == "PROXY_KEY"


def test_models_json_reroutes_builtin_provider(tmp_path: Path) -> None:
    reg = ModelRegistry.builtin()
    reg.apply(load_models_json(write(tmp_path, '{"providers": {"openai": {"baseUrl": "http://gw/v1"}}}')))
    gpt = reg.get("openai", "gpt-4o")
    assert gpt is not None and gpt.base_url == "http://gw/v1" and gpt.known
    assert gpt.api == "openai-responses"


def test_models_json_upserts_and_overrides(tmp_path: Path) -> None:
    reg = ModelRegistry.builtin()
    text = """{"providers": {"anthropic": {
        "models": [{"id": "claude-haiku-4-5", "contextWindow": 50000}],
        "modelOverrides": {"claude-opus-4-6": {"maxTokens": 1000, "cost": {"input": 1}}}}}}"""
    reg.apply(load_models_json(write(tmp_path, text)))
    haiku = reg.get("anthropic", "claude-haiku-4-5")
    assert haiku is not None and haiku.context_window == 50000 and haiku.max_tokens == 16384
    assert len([m for m in reg.all_models() if m.ref == "anthropic/claude-haiku-4-5"]) == 1
    opus = reg.get("anthropic", "claude-opus-4-6")
    assert opus is not None and opus.max_tokens == 1000 and opus.cost.input == 1 and opus.cost.output == 25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"providers": {\n  "x": {\n    "baseUrl": "u",\n  \n  "api": 1}}}', r"models\.json:5:"),
        (
            '{\n"providers": {"x": {"baseUrl": "u",\n "api": "google-generative-ai"}}}',
            r":3: .*unknown api 'google-generative-ai'",
        ),
        ('{"providers": {"x": {"models": [{"id": "m"}]}}}', "provider 'x' needs a baseUrl"),
        ('{"providers": {"x": {"baseUrl": "u", "models": [{"name": "no id"}]}}}', "needs a string 'id'"),
        (
            '{"providers": {"x": {"baseUrl": "u", "models": [{"id": "m", "contextWindow": "big"}]}}}',
            "'contextWindow' must be a positive integer",
        ),
        ('{"providers": {"x": {"baseUrl": "u", "models": [{"id": "m", "input": ["audio"]}]}}}', "'input'"),
        (
            '{"providers": {"x": {"baseUrl": "u", "compat": {"maxTokensField": "n"}}}}',
            "compat.maxTokensField",
        ),
        (
            '{"providers": {"x": {"baseUrl": "u", "models": [{"id": "m", "cost": {"input": -1}}]}}}',
            "cost.input",
        ),
        (
            '{"providers": {"openai": {"modelOverrides": {"gpt-0": {"maxTokens": 5}}}}}',
            "unknown model 'gpt-0'",
        ),
        ('{"providers": []}', "'providers' must be an object"),
        ("[1, 2]", "top level must be an object"),
        (
            '{"providers": {\n "a": {"baseUrl": "u", "api": "openai-completions"},\n "b": {"baseUrl": "u",\n "api": "nope"}}}',
            r":4: provider 'b': unknown api 'nope'",
        ),
        (
            '{"providers": {"a": {"baseUrl": "u", "models": [{"id": "m1", "maxTokens": 5},\n\n{"id": "m2", "maxTokens": 0}]}}}',
            r":3: model 'a/m2': 'maxTokens'",
        ),
        ("{\n\n  oops\n}", r"models\.json:3:3: malformed JSON"),
    ],
)
def test_models_json_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        ModelRegistry.builtin().apply(load_models_json(path))
    assert str(path) in str(info.value)
    assert info.value.exit_code == 2


def test_comment_markers_inside_strings_are_kept(tmp_path: Path) -> None:
    text = '{"providers": {"p": {"baseUrl": "http://h/v1", "apiKey": "a/*b*/c//d,]", "models": []}}}'
    reg = ModelRegistry.builtin()
    reg.apply(load_models_json(write(tmp_path, text)))
    assert reg.provider("p").api_key == "a/*b*/c//d,]"  # type: ignore[union-attr]


def test_escaped_quotes_inside_strings(tmp_path: Path) -> None:
    text = '{"providers": {"p": {"baseUrl": "http://h/v1", "apiKey": "q\\"//x", "models": [],}}}'
    reg = ModelRegistry.builtin()
    reg.apply(load_models_json(write(tmp_path, text)))
    assert reg.provider("p").api_key == 'q"//x'  # type: ignore[union-attr]


def test_load_registry_from_path(tmp_path: Path) -> None:
    assert len(ModelRegistry.load(tmp_path / "missing.json").all_models()) == len(
        ModelRegistry.builtin().all_models()
    )
    reg = ModelRegistry.load(write(tmp_path, PI_EXAMPLE))
    assert reg.get("my-proxy", "big") is not None


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read"):
        load_models_json(path)
