"""Choosing model, key and thinking level: flags > settings > environment, with clear errors."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from opi_cli.ai.catalog import ModelRegistry, parse_models_json
from opi_cli.ai.model import Model
from opi_cli.ai.resolve import (
    LOCAL_SERVERS,
    LocalServer,
    ModelQuery,
    NoModelError,
    clamp_thinking,
    detect_local_server,
    parse_thinking_level,
    require_api_key,
    resolve_api_key,
    resolve_config_value,
    resolve_model,
    supports_xhigh,
)
from opi_cli.errors import ConfigError


@pytest.fixture
def registry() -> ModelRegistry:
    return ModelRegistry.builtin()


def auth_file(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def pick(
    registry: ModelRegistry, env: dict[str, str] | None = None, **kw: object
) -> tuple[Model, str | None]:
    return resolve_model(registry, ModelQuery(**kw), env=env or {})  # type: ignore[arg-type]


# -- keys --------------------------------------------------------------------------------------


def test_key_order_cli_auth_env_models_json(tmp_path: Path) -> None:
    auth = auth_file(tmp_path, {"openai": {"type": "api_key", "key": "from-auth"}})
    env = {"OPENAI_API_KEY": "from-env"}
    full = {"auth_path": auth, "env": env, "models_json_key": "from-models"}
    assert resolve_api_key("openai", cli_key="from-cli", **full) == "from-cli"  # type: ignore[arg-type]
    assert resolve_api_key("openai", **full) == "from-auth"  # type: ignore[arg-type]
    assert resolve_api_key("openai", env=env, models_json_key="from-models") == "from-env"
    assert resolve_api_key("openai", env={}, models_json_key="from-models") == "from-models"
    assert resolve_api_key("openai", env={}) is None
    assert resolve_api_key("openai", auth_path=tmp_path / "missing.json", env={}) is None


def test_anthropic_env_names() -> None:
    assert resolve_api_key("anthropic", env={"ANTHROPIC_API_KEY": "k"}) == "k"
    assert resolve_api_key("Anthropic", env={"ANTHROPIC_OAUTH_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}) == "t"
    assert resolve_api_key("groq", env={"GROQ_API_KEY": "g"}) == "g"


def test_auth_values_env_name_literal_and_command(tmp_path: Path) -> None:
    cmd = f"!{sys.executable} -c \"print(' secret-from-cmd ')\""
    auth = auth_file(
        tmp_path,
        {
            "a": {"type": "api_key", "key": "MY_VAR"},
            "b": {"type": "api_key", "key": "literal-key"},
            "c": {"type": "api_key", "key": cmd},
        },
    )
    env = {"MY_VAR": "value-of-var"}
    assert resolve_api_key("a", auth_path=auth, env=env) == "value-of-var"
    assert resolve_api_key("b", auth_path=auth, env=env) == "literal-key"
    assert resolve_api_key("c", auth_path=auth, env=env) == "secret-from-cmd"


def test_command_failure_and_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="failed"):
        resolve_config_value(f'!{sys.executable} -c "import sys; sys.exit(3)"', {})
    monkeypatch.setattr("opi_cli.ai.resolve.COMMAND_TIMEOUT_S", 0.2)
    with pytest.raises(ConfigError, match="timed out"):
        resolve_config_value(f'!{sys.executable} -c "import time; time.sleep(5)"', {})


def test_command_sees_given_env_only() -> None:
    out = resolve_config_value(
        f"!{sys.executable} -c \"import os; print(os.environ['ONLY_HERE'])\"",
        {"ONLY_HERE": "yes", "PATH": "/usr/bin:/bin"},
    )
    assert out == "yes"


def test_malformed_auth_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text('{\n  "openai": {"key": "x"\n  "other": 1}\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"auth\.json:3:") as info:
        resolve_api_key("openai", auth_path=path, env={})
    assert info.value.exit_code == 2
    bad = auth_file(tmp_path, {"openai": {"type": "api_key", "key": 5}})
    with pytest.raises(ConfigError, match=r"auth\.json:1: openai\.key: must be a string, not 5"):
        resolve_api_key("openai", auth_path=bad, env={})


def test_models_json_provider_key_is_used(tmp_path: Path, registry: ModelRegistry) -> None:
    registry.apply(
        parse_models_json(
            '{"providers": {"corp": {"baseUrl": "https://llm.corp/v1", "apiKey": "CORP_KEY", "models": [{"id": "m"}]}}}',
            tmp_path / "models.json",
        )
    )
    corp = registry.provider("corp")
    assert corp is not None
    assert resolve_api_key(corp, env={"CORP_KEY": "from-var"}) == "from-var"


def test_require_api_key(registry: ModelRegistry) -> None:
    gpt = registry.get("openai", "gpt-4o")
    assert gpt is not None
    with pytest.raises(ConfigError, match="No API key found for openai: set OPENAI_API_KEY") as info:
        require_api_key(gpt, registry, env={})
    assert info.value.exit_code == 2
    assert require_api_key(gpt, registry, cli_key="k", env={}) == "k"
    local = registry.unknown_model("ollama", "qwen3")
    assert require_api_key(local, registry, env={}) is None
    loop = registry.unknown_model("custom", "m", base_url="http://127.0.0.1:5555/v1")
    assert require_api_key(loop, registry, env={}) is None
    remote = registry.unknown_model("custom", "m", base_url="https://example.com/v1")
    with pytest.raises(ConfigError, match="custom"):
        require_api_key(remote, registry, env={})


# -- models ------------------------------------------------------------------------------------


def test_model_flag_patterns(registry: ModelRegistry) -> None:
    m, level = pick(registry, model="sonnet:high")
    assert (m.ref, level) == ("anthropic/claude-sonnet-4-6", "high")
    m, level = pick(registry, model="openai/gpt-4.1")
    assert (m.ref, m.api, level) == ("openai/gpt-4.1", "openai-responses", None)


def test_unknown_model_with_known_provider(registry: ModelRegistry) -> None:
    m, level = pick(registry, provider="openai", model="gpt-7-turbo:low")
    assert (m.ref, m.known, m.context_window, m.max_tokens, level) == (
        "openai/gpt-7-turbo",
        False,
        128000,
        16384,
        "low",
    )
    m, _ = pick(registry, model="groq/llama-4-maverick")
    assert (m.ref, m.known, m.base_url) == ("groq/llama-4-maverick", False, "https://api.groq.com/openai/v1")


def test_base_url_flag(registry: ModelRegistry) -> None:
    url = "http://127.0.0.1:4321/v1"
    m, _ = pick(registry, provider="openai", base_url=url, model="any-model")
    assert (m.provider, m.id, m.api, m.base_url, m.known) == (
        "openai",
        "any-model",
        "openai-completions",
        url,
        False,
    )
    m, _ = pick(registry, provider="openai", base_url=url, model="any-model", api="openai-responses")
    assert m.api == "openai-responses"
    m, _ = pick(registry, provider="anthropic", base_url="http://127.0.0.1:4321", model="any-model")
    assert (m.api, m.base_url) == ("anthropic-messages", "http://127.0.0.1:4321/v1")
    m, _ = pick(registry, base_url=url, model="llama3.1:8b")
    assert (m.provider, m.id, m.api, m.base_url) == ("custom", "llama3.1:8b", "openai-completions", url)
    m, _ = pick(registry, base_url=url, model="gpt-4o")  # known metadata, custom endpoint
    assert (m.ref, m.known, m.api, m.base_url, m.context_window) == (
        "openai/gpt-4o",
        True,
        "openai-completions",
        url,
        128000,
    )
    m, _ = pick(registry, provider="myserver", base_url=url, model="x")
    assert (m.provider, m.base_url) == ("myserver", url)


def test_base_url_env_reroutes(registry: ModelRegistry) -> None:
    env = {"OPENAI_BASE_URL": "http://gw.local/v1/", "ANTHROPIC_BASE_URL": "https://proxy.example"}
    m, _ = pick(registry, env, model="gpt-5")
    assert (m.base_url, m.api) == ("http://gw.local/v1", "openai-completions")
    m, _ = pick(registry, env, model="claude-haiku-4-5")
    assert (m.base_url, m.api) == ("https://proxy.example/v1", "anthropic-messages")
    m, _ = pick(registry, {"OPENAI_BASE_URL": "https://api.openai.com/v1"}, model="gpt-5")
    assert m.api == "openai-responses"


def test_settings_defaults(registry: ModelRegistry) -> None:
    m, _ = pick(registry, default_provider="anthropic", default_model="claude-opus-4-1")
    assert m.ref == "anthropic/claude-opus-4-1"
    m, _ = pick(registry, default_provider="anthropic")
    assert m.ref == "anthropic/claude-sonnet-4-5"
    m, _ = pick(registry, model="gpt-4o", default_provider="anthropic", default_model="claude-opus-4-1")
    assert m.ref == "openai/gpt-4o"
    m, _ = pick(registry, provider="openai", default_provider="anthropic", default_model="claude-opus-4-1")
    assert m.ref == "openai/gpt-5.1"
    m, _ = pick(registry, provider="anthropic", default_provider="anthropic", default_model="claude-opus-4-1")
    assert m.ref == "anthropic/claude-opus-4-1"


def test_first_provider_with_a_key(registry: ModelRegistry, tmp_path: Path) -> None:
    m, _ = pick(registry, {"ANTHROPIC_API_KEY": "k"})
    assert m.ref == "anthropic/claude-sonnet-4-5"
    m, _ = pick(registry, {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"})
    assert m.provider == "openai"
    auth = auth_file(tmp_path, {"anthropic": {"type": "api_key", "key": "k"}})
    m, _ = pick(registry, auth_path=auth)
    assert m.provider == "anthropic"
    m, _ = pick(registry, {"DEEPSEEK_API_KEY": "k"})
    assert (m.provider, m.id) == ("deepseek", "deepseek-chat")


def test_no_model_configured(registry: ModelRegistry) -> None:
    with pytest.raises(NoModelError, match="No model configured: set OPENAI_API_KEY") as info:
        pick(registry)
    assert info.value.exit_code == 2
    assert isinstance(info.value, ConfigError)


def test_unknown_provider_lists_known(registry: ModelRegistry) -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown provider 'nope'\. Known providers: openai, anthropic"
    ) as info:
        pick(registry, provider="nope", model="x")
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="Unknown provider 'nope'"):
        pick(registry, default_provider="nope")


def test_other_config_errors(registry: ModelRegistry) -> None:
    with pytest.raises(ConfigError, match="Unknown --api 'grpc'"):
        pick(registry, model="gpt-4o", api="grpc")
    with pytest.raises(ConfigError, match="Unknown model 'zzz-unknown'"):
        pick(registry, model="zzz-unknown")
    with pytest.raises(ConfigError, match="--base-url needs a model"):
        pick(registry, base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="No default model for provider 'ollama'"):
        pick(registry, provider="ollama")


def test_cli_key_alone_does_not_select_a_provider(registry: ModelRegistry) -> None:
    with pytest.raises(NoModelError):
        pick(registry, cli_key="k")
    m, _ = pick(registry, provider="anthropic", cli_key="k")
    assert m.provider == "anthropic"


# -- thinking ----------------------------------------------------------------------------------


def test_clamp_thinking(registry: ModelRegistry) -> None:
    def get(ref: str) -> Model:
        p, _, i = ref.partition("/")
        m = registry.get(p, i)
        assert m is not None
        return m

    assert clamp_thinking(get("openai/gpt-4o"), "high") == "off"
    assert clamp_thinking(get("openai/gpt-5"), "xhigh") == "high"
    assert clamp_thinking(get("openai/gpt-5.2"), "xhigh") == "xhigh"
    assert clamp_thinking(get("anthropic/claude-opus-4-6"), "xhigh") == "xhigh"
    assert clamp_thinking(get("anthropic/claude-sonnet-4-5"), "xhigh") == "high"
    assert clamp_thinking(get("anthropic/claude-sonnet-4-5"), "minimal") == "minimal"
    assert clamp_thinking(get("openai/o3"), "off") == "off"
    assert not supports_xhigh(registry.unknown_model("openai", "gpt-5.2-new"))  # not reasoning by default


def test_parse_thinking_level() -> None:
    assert parse_thinking_level("HIGH") == "high"
    assert parse_thinking_level(" off ") == "off"
    assert parse_thinking_level("max") is None


# -- local servers -----------------------------------------------------------------------------


def test_local_server_candidates() -> None:
    ports = [s.base_url.rsplit(":", 1)[1] for s in LOCAL_SERVERS]
    assert ports == ["11434/v1", "1234/v1", "8080/v1", "8000/v1"]
    assert [s.provider for s in LOCAL_SERVERS] == ["ollama", "lmstudio", "llamacpp", "vllm"]


def test_detect_local_server_prefers_order() -> None:
    asked: list[str] = []

    async def probe(url: str) -> bool:
        asked.append(url)
        return url.endswith((":8080/v1", ":8000/v1"))

    found = asyncio.run(detect_local_server(probe))
    assert found == LocalServer("llamacpp", "http://localhost:8080/v1")
    assert sorted(asked) == sorted(s.base_url for s in LOCAL_SERVERS)


def test_detect_local_server_none_and_network_errors() -> None:
    async def refuse(url: str) -> bool:
        raise ConnectionRefusedError(url)

    assert asyncio.run(detect_local_server(refuse)) is None

    async def broken(url: str) -> bool:
        raise ValueError("bug in probe")

    with pytest.raises(ValueError, match="bug in probe"):
        asyncio.run(detect_local_server(broken))


def test_base_url_sends_the_id_as_typed(registry: ModelRegistry) -> None:
    url = "http://127.0.0.1:4321/v1"
    m, _ = pick(registry, base_url=url, model="mini")
    assert (m.provider, m.id, m.known) == ("custom", "mini", False)
    m, _ = pick(registry, provider="openai", base_url=url, model="4o")
    assert (m.id, m.known) == ("4o", False)
    m, level = pick(registry, provider="openai", base_url=url, model="gpt-5:high")
    assert (m.id, m.known, m.reasoning, level) == ("gpt-5", True, True, "high")
