"""Issue 11: settings.json, models.json and auth.json are checked against JSON Schemas.

A wrong type is a ConfigError (exit 2) naming the file, the line and the key; unknown keys
stay allowed (pi's settings have many keys opi does not use); nothing is silently ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opi_cli.ai.catalog import ModelRegistry, load_models_json
from opi_cli.ai.config_check import quick_valid, validate_config
from opi_cli.ai.file_schemas import AUTH_SCHEMA, MODELS_SCHEMA
from opi_cli.ai.resolve import resolve_api_key
from opi_cli.cli.settings import load_settings
from opi_cli.cli.settings_schema import settings_schema
from opi_cli.errors import ConfigError
from tests.conftest import run_opi


def _settings(home: Path, cwd: Path, text: str, *, project: bool = False) -> Path:
    path = (cwd / ".opi" / "settings.json") if project else (home / "settings.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "retry": {\n    "maxRetries": "three"\n  }\n}', ':3: retry.maxRetries: must be an integer, not "three"'),
        ('{"retry": "off"}', ':1: retry: must be an object, not "off"'),
        ('{\n"compaction": {"enabled": "yes"}}', ':2: compaction.enabled: must be true or false, not "yes"'),
        ('{"defaultThinkingLevel": "huge"}', ":1: defaultThinkingLevel: must be one of off, minimal, low, medium, high, xhigh"),
        ('{"retry": {"maxRetries": -1}}', ":1: retry.maxRetries: must be at least 0"),
        ('{"defaultModel": 5}', ":1: defaultModel: must be a string, not 5"),
        ('// comment\n{"steeringMode": "some",}', ':2: steeringMode: must be one of one-at-a-time, all'),
    ],
)
def test_wrong_settings_name_file_line_and_key(opi_home: Path, tmp_path: Path, text: str, message: str) -> None:
    path = _settings(opi_home, tmp_path, text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env={"OPI_HOME": str(opi_home)})
    assert str(info.value) == f"{path}{message}. Fix the file (it was not changed)."
    assert info.value.exit_code == 2 and path.read_bytes() == before


def test_project_settings_are_checked_and_named(opi_home: Path, tmp_path: Path) -> None:
    _settings(opi_home, tmp_path, '{"retry": {"maxRetries": 2}}')
    project = _settings(opi_home, tmp_path, '{"hideThinkingBlock": "no"}', project=True)
    with pytest.raises(ConfigError, match=f"^{project}:1: hideThinkingBlock: must be true or false"):
        load_settings(tmp_path, env={"OPI_HOME": str(opi_home)})


def test_unknown_settings_keys_and_pi_keys_are_allowed(opi_home: Path, tmp_path: Path) -> None:
    _settings(opi_home, tmp_path, json.dumps({
        "quietStartup": True, "packages": ["x"], "terminal": {"showImages": False}, "someFutureKey": {"a": [1]},
        "retry": {"maxRetries": 5, "provider": {"timeoutMs": 10}}, "compaction": {"enabled": False},
    }))
    settings = load_settings(tmp_path, env={"OPI_HOME": str(opi_home)})
    assert settings.section("retry")["maxRetries"] == 5 and settings.get("someFutureKey") == {"a": [1]}


def test_schemas_are_valid_json_schemas() -> None:
    for schema in (settings_schema(), MODELS_SCHEMA, AUTH_SCHEMA):
        jsonschema.Draft202012Validator.check_schema(schema)


def test_models_json_wrong_type_outside_the_parser_checks(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{"providers": {"p": {"baseUrl": "http://h/v1",\n "models": [{"id": "m", "input": "text"}]}}}')
    with pytest.raises(ConfigError) as info:
        ModelRegistry.builtin().apply(load_models_json(path))
    assert str(info.value).startswith(f"{path}:2: ")
    path.write_text('{"providers": {"p": {"baseUrl": "http://h/v1", "api": "openai-completions",\n'
                    ' "headers": {"X-A": "1"}, "models": [{"id": "m"}]}}, "unknownTop": 1}')
    ModelRegistry.builtin().apply(load_models_json(path))  # unknown keys: fine


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"openai": 5}', ":1: openai: must be a string or an object, not 5"),
        ('{\n "openai": {"type": "api_key", "key": 7}}', ":2: openai.key: must be a string, not 7"),
        ('{"openai": {"type": "password", "key": "k"}}', ":1: openai.type: must be one of api_key, oauth"),
        ("[1]", ": must be an object, not [1]"),
    ],
)
def test_auth_json_is_checked(tmp_path: Path, text: str, message: str) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve_api_key("openai", auth_path=auth, env={})
    assert str(info.value) == f"{auth}{message}. Fix the file (it was not changed)."


def test_auth_json_readable_by_others_warns_once(workdir: Path, opi_home: Path) -> None:
    auth = opi_home / "auth.json"
    auth.write_text('{"openai": {"type": "api_key", "key": "sk-test"}}')
    auth.chmod(0o644)
    (opi_home / "settings.json").write_text('{"retry": {"enabled": false}}')  # port 9 refuses: no backoff waits
    proc = run_opi(["-p", "--model", "openai/gpt-4o", "--base-url", "http://127.0.0.1:9/v1", "hi"], cwd=workdir)
    warnings = [line for line in proc.stderr.splitlines() if "auth.json" in line]
    assert warnings == [f"opi: warning: {auth} is readable by other users (mode 0644); run: chmod 600 {auth}"]
    auth.chmod(0o600)
    quiet = run_opi(["-p", "--model", "openai/gpt-4o", "--base-url", "http://127.0.0.1:9/v1", "hi"], cwd=workdir)
    assert "auth.json" not in quiet.stderr
    assert "sk-test" not in proc.stderr + quiet.stderr


# -- the fast path agrees with jsonschema ---------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "medium", "all", "one-at-a-time", "api_key", "oauth", "off"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(
        ["retry", "maxRetries", "enabled", "compaction", "reserveTokens", "defaultModel", "steeringMode",
         "defaultThinkingLevel", "providers", "p", "baseUrl", "models", "id", "type", "key", "openai",
         "headers", "cost", "input", "contextWindow", "other"]), children, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_fast_check_never_passes_what_jsonschema_rejects(value: Any) -> None:
    for schema in (settings_schema(), MODELS_SCHEMA, AUTH_SCHEMA):
        valid = jsonschema.Draft202012Validator(schema).is_valid(value)
        if quick_valid(value, schema):
            assert valid, (value, schema)
        if valid:  # the fast path must also let valid files through without jsonschema in most cases
            validate_config(value, schema, Path("x.json"), json.dumps(value))


def test_valid_files_do_not_import_jsonschema(opi_home: Path, workdir: Path) -> None:
    _settings(opi_home, workdir, json.dumps({"retry": {"maxRetries": 2}, "defaultThinkingLevel": "low"}))
    (opi_home / "models.json").write_text(json.dumps(
        {"providers": {"p": {"baseUrl": "http://h/v1", "api": "openai-completions", "models": [{"id": "m"}]}}}))
    (opi_home / "auth.json").write_text('{"p": {"type": "api_key", "key": "k"}}')
    os.chmod(opi_home / "auth.json", 0o600)
    code = (
        "import sys; from pathlib import Path\n"
        "from opi_cli.cli.settings import load_settings\n"
        "from opi_cli.ai.catalog import ModelRegistry\n"
        "from opi_cli.ai.resolve import resolve_api_key\n"
        "s = load_settings()\n"
        "ModelRegistry.load(s.models_json)\n"
        "assert resolve_api_key('p', auth_path=s.auth_json, env={}) == 'k'\n"
        "print('jsonschema' in sys.modules)\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert proc.stdout.strip() == "False", proc.stderr
