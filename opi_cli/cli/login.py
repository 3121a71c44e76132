"""``opi login PROVIDER`` and ``/login``: store an API key in ``OPI_HOME/auth.json`` (mode 0600).

The key is read without echo (or from stdin when it is piped), never printed, and written
with the rest of auth.json kept as it was: the file is replaced atomically through a 0600
temporary file beside it (:func:`~opi_cli._util.atomic.write_atomic`), so it is never
half-written and never readable by others, even for a moment. The entry has pi's shape
(``{"PROVIDER": {"type": "api_key", "key": "..."}}``), so pi and opi share the file format.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from opi_cli._util.atomic import write_atomic
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.cli.settings import load_json_file
from opi_cli.errors import ConfigError, UsageError

__all__ = [
    "check_provider",
    "first_run_help",
    "login_providers",
    "read_auth_file",
    "read_key",
    "run_login",
    "store_api_key",
]


def login_providers(registry: ModelRegistry) -> list[str]:
    """The providers a key can be stored for (every known one, models.json included)."""
    return [p.name for p in registry.providers()]


def check_provider(registry: ModelRegistry, name: str) -> str:
    """``name`` as a known provider name (case-insensitive).

    Raises:
        UsageError: unknown provider (the message lists the known ones).
    """
    if registry.provider(name) is None:
        raise UsageError(
            f"Unknown provider '{name}'. Store a key for one of: {', '.join(login_providers(registry))}."
        )
    return name.lower()


def read_key(provider: str) -> str:
    """The key typed on the terminal (no echo) or the first line of piped stdin.

    Raises:
        UsageError: nothing was given.
    """
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        key = getpass.getpass(f"API key for {provider} (not shown): ")
    else:
        key = sys.stdin.readline() if sys.stdin is not None else ""
    key = key.strip()
    if not key:
        raise UsageError(f"No API key given for {provider}: type it, or pipe it (echo $KEY | opi login {provider}).")
    return key


def read_auth_file(path: Path) -> dict[str, object]:
    """auth.json as a dict ({} when missing).

    Raises:
        ConfigError: unreadable or malformed (the file is never changed).
    """
    return load_json_file(path) or {}


def store_api_key(auth_path: Path, provider: str, key: str) -> None:
    """Set ``provider``'s key in auth.json, keeping every other entry.

    Raises:
        ConfigError: auth.json exists but is malformed (it is left untouched), or cannot be written.
    """
    data = read_auth_file(auth_path)
    data[provider] = {"type": "api_key", "key": key}
    try:
        auth_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(auth_path, (json.dumps(data, indent=2) + "\n").encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise ConfigError(f"Cannot write {auth_path}: {exc.strerror}") from exc


def run_login(provider: str | None) -> int:
    """``opi login PROVIDER``: read the key and store it; returns the exit code.

    Raises:
        UsageError: no or an unknown provider, or no key given.
        ConfigError: auth.json is malformed or cannot be written.
    """
    from opi_cli.cli.settings import load_settings

    settings = load_settings()
    registry = ModelRegistry.load(settings.models_json)
    if not provider:
        raise UsageError(f"Name the provider: opi login PROVIDER (one of: {', '.join(login_providers(registry))}).")
    name = check_provider(registry, provider)
    store_api_key(settings.auth_json, name, read_key(name))
    sys.stderr.write(f"Stored the {name} key in {settings.auth_json} (readable only by you).\n")
    return 0


def first_run_help(registry: ModelRegistry) -> str:
    """What to do when no model is configured and no local server answers: three ways in."""
    keyed = [p for p in registry.providers() if p.key_env and not p.local]
    variables = ", ".join(v for v in (p.key_env[-1] for p in keyed[:5]) if v != "OPENAI_API_KEY")
    return (
        "No model configured yet, and no local server answers (Ollama 11434, LM Studio 1234, llama.cpp 8080, "
        "vLLM 8000). Three ways to get going:\n"
        f"  1. a key in the environment: export OPENAI_API_KEY=... (or {variables}, ...)\n"
        "  2. store a key once: opi login openai   (or anthropic, groq, ...; kept in OPI_HOME/auth.json, 0600)\n"
        "  3. a local server: opi --base-url http://localhost:11434/v1 --model qwen2.5-coder:7b"
    )
