"""``import opi_cli`` stays cheap, and the library never pulls in the CLI's UI libraries."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ["httpx", "rich", "prompt_toolkit", "typer", "tiktoken", "psycopg", "websockets"]
UI = ["rich", "prompt_toolkit", "typer"]


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_import_opi_cli_imports_nothing_heavy() -> None:
    assert _loaded_after("import opi_cli; opi_cli.__version__") == []


def test_library_names_stay_free_of_ui_libraries() -> None:
    code = (
        "from opi_cli import Agent, AgentBuilder, Config, ToolRegistry, tool, MemoryStore, JsonlStore, "
        "PostgresStore, RealtimeEvent, count_tokens, OpiError"
    )
    loaded = _loaded_after(code)
    assert not set(loaded) & set(UI)
    # the optional and heavy ones load only when used
    assert not {"psycopg", "websockets", "tiktoken"} & set(loaded)


def test_lazy_names_resolve_and_unknown_names_fail() -> None:
    import opi_cli

    assert opi_cli.Agent.__module__ == "opi_cli.sdk.agent"
    assert opi_cli.ConfigError.__module__ == "opi_cli.errors"
    assert "AgentBuilder" in dir(opi_cli)
    assert set(opi_cli.__all__) >= {
        "Agent",
        "AgentBuilder",
        "Config",
        "ToolRegistry",
        "tool",
        "RegisteredTool",
        "ToolDefinition",
        "ConversationMetadata",
        "generate_id",
        "count_tokens",
        "truncate_text_to_tokens",
        "MemoryStore",
        "JsonlStore",
        "PostgresStore",
        "PersistenceStore",
        "OpiError",
        "RequestError",
        "ToolError",
        "ConfigError",
        "ParseError",
        "AgentError",
    }
    for name in opi_cli.__all__:
        assert getattr(opi_cli, name) is not None
    try:
        opi_cli.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
