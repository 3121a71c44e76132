"""Keys and passwords stay where they belong: stripped, masked in every form, sent only to
their endpoint, kept out of the commands' environment (issue 11)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import fast_retry_settings, run_opi
from tests.mock_llm import MockLLM


def sha16(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _session_text(opi_home: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in opi_home.glob("sessions/*/*.jsonl"))


def test_crlf_key_from_the_environment_is_stripped(workdir: Path, opi_home: Path) -> None:
    key = "sk-crlf-secret-0123456789"
    with MockLLM({"responses": [{"steps": [{"text": "key accepted"}]}]}) as srv:
        r = run_opi(["--json", "--provider", "openai", "--base-url", f"{srv.base_url}/v1", "--api",
                     "openai-completions", "--model", "mock-model", "hi"],
                    cwd=workdir, env={"OPENAI_API_KEY": key + "\r"})
        assert [q["auth_sha256"] for q in srv.requests] == [sha16(key)]
    assert r.returncode == 0, r.stderr
    assert key not in r.stdout and key not in r.stderr and key not in _session_text(opi_home)


def _forms(key: str) -> list[str]:
    return [key, quote(key, safe=""), key.replace("/", "\\/"), json.dumps(key)[1:-1]]


def test_a_key_echoed_by_the_server_is_masked_in_every_form(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home)
    key = "sk-echo/Se+cret=0123456789"
    slashed = key.replace("/", "\\/")
    echo = f"bad key {key}; escaped {slashed}; in a URL ?key={quote(key, safe='')}"
    script = {"responses": [
        {"steps": [{"text": "partial answer"}], "stream_error_after_events": 2,
         "stream_error": {"type": "server_error", "message": f"upstream said: {echo}"}},
        {"error": {"status": 401, "message": echo, "type": "invalid_request_error", "code": "invalid_api_key"}},
    ]}
    with MockLLM(script) as srv:
        r = run_opi(["--json", "--provider", "openai", "--base-url", f"{srv.base_url}/v1", "--api",
                     "openai-completions", "--api-key", key, "--model", "mock-model", "hi"], cwd=workdir)
        assert len(srv.requests) == 2
    assert r.returncode == 1
    events = _events(r.stdout)
    assert any(e["type"] == "auto_retry_start" and "upstream said" in e["errorMessage"] for e in events)
    assert "bad key ***" in r.stderr
    for text in (r.stdout, r.stderr, _session_text(opi_home)):
        for form in _forms(key):
            assert form not in text


@pytest.mark.parametrize("dsn", [
    "postgresql:/opiuser:Hunter2Secret@localhost/db",          # a slash missing
    "postgresql://opiuser:Hunter2%ZZSecret@127.0.0.1:1/db",    # libpq quotes the bad token
    "postgresql://opiuser:Hunter2Secret@[::1:1/db",            # libpq quotes the whole URI
])
def test_a_dsn_password_is_never_printed(workdir: Path, dsn: str) -> None:
    r = run_opi(["-p", "--store", dsn, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "hi"], cwd=workdir)
    assert r.returncode in (1, 2)
    assert r.stderr.startswith("opi: ") and "Traceback" not in r.stderr
    assert "Hunter2" not in r.stderr and "Hunter2" not in r.stdout
    assert "store" in r.stderr.lower()  # still says what failed


ENV_SCRIPT = {"responses": [
    {"steps": [{"tool_call": {"name": "bash", "arguments": {"command": "env"}, "id": "call_env"}}]},
    {"steps": [{"text": "seen the environment"}]},
]}
SECRETS = {
    "OPENAI_API_KEY": "sk-openai-envsecret-0001",
    "GITHUB_TOKEN": "ghp-githubsecret-0002",
    "MY_SERVICE_SECRET": "service-secret-0003",
    "DB_PASSWORD": "db-password-0004",
}


def _env_run(workdir: Path, opi_home: Path, settings: dict[str, Any] | None = None) -> tuple[str, str]:
    if settings is not None:
        (opi_home / "settings.json").write_text(json.dumps(settings))
    with MockLLM(ENV_SCRIPT) as srv:
        r = run_opi(["--json", "--provider", "openai", "--base-url", f"{srv.base_url}/v1", "--api",
                     "openai-completions", "--model", "mock-model", "show env"],
                    cwd=workdir, env={**SECRETS, "PLAIN_SETTING": "plain-visible-0005"})
        assert r.returncode == 0, r.stderr
        second = json.dumps(srv.requests[1]["body"])
    result = next(e for e in _events(r.stdout) if e["type"] == "tool_execution_end")
    return result["result"]["content"][0]["text"], second


def test_provider_keys_and_secrets_stay_out_of_the_bash_environment(workdir: Path, opi_home: Path) -> None:
    output, next_request = _env_run(workdir, opi_home)
    assert "PLAIN_SETTING=plain-visible-0005" in output
    assert "PATH=" in output and "HOME=" in output
    session = _session_text(opi_home)
    for name, value in SECRETS.items():
        assert name not in output and value not in output and value not in next_request and value not in session


def test_pass_through_lets_a_named_variable_in(workdir: Path, opi_home: Path) -> None:
    output, _ = _env_run(workdir, opi_home, {"shellEnvironmentPolicy": {
        "passThrough": ["GITHUB_TOKEN"], "set": {"CI": "1"}, "exclude": ["PLAIN_*"]}})
    assert "GITHUB_TOKEN=ghp-githubsecret-0002" in output
    assert "CI=1" in output
    assert "PLAIN_SETTING" not in output
    assert "sk-openai-envsecret-0001" not in output and "service-secret-0003" not in output


def test_bad_shell_policy_is_one_line_exit_2(workdir: Path, opi_home: Path) -> None:
    (opi_home / "settings.json").write_text(json.dumps({"shellEnvironmentPolicy": {"inherit": "most"}}))
    r = run_opi(["-p", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "hi"], cwd=workdir)
    assert r.returncode == 2
    assert "shellEnvironmentPolicy.inherit" in r.stderr and "settings.json" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_export_masks_a_key_found_in_the_session(workdir: Path, opi_home: Path) -> None:
    key = "sk-export-secret-0123456789"
    with MockLLM({"responses": [{"steps": [{"text": "noted"}]}]}) as srv:
        r = run_opi(["-p", "--provider", "openai", "--base-url", f"{srv.base_url}/v1", "--api", "openai-completions",
                     "--model", "mock-model", f"my key is {key}"], cwd=workdir, env={"OPENAI_API_KEY": key})
    assert r.returncode == 0, r.stderr
    session = next(opi_home.glob("sessions/*/*.jsonl"))
    for out in ("out.html", "out.md"):
        e = run_opi(["export", str(session), str(workdir / out)], cwd=workdir, env={"OPENAI_API_KEY": key})
        assert e.returncode == 0, e.stderr
        text = (workdir / out).read_text()
        assert "my key is ***" in text and key not in text
