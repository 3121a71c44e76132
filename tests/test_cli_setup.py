"""Getting going (issue 12): the first run without a key, `opi login`, and a start that fails cleanly."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import jsonschema

from opi_cli.cli.schema import event_stream_schema
from tests.conftest import run_opi
from tests.mock_llm import MockLLM

OK = {"repeat_last": True, "responses": [{"steps": [{"text": "ok from the mock"}]}]}


def _session_files(home: Path) -> list[Path]:
    return list((home / "sessions").glob("**/*.jsonl")) if (home / "sessions").exists() else []


def test_first_run_without_key_or_server_names_the_three_ways(workdir: Path) -> None:
    proc = run_opi(["-p", "hi"], cwd=workdir)
    assert proc.returncode == 2
    err = proc.stderr
    assert "OPENAI_API_KEY" in err and "ANTHROPIC_API_KEY" in err  # 1. a key in the environment
    assert err.count("OPENAI_API_KEY") == 1, err  # each variable named once
    assert "opi login" in err  # 2. store a key
    assert "--base-url" in err and "11434" in err  # 3. a local server
    assert "Traceback" not in err


def test_json_config_failure_ends_with_session_summary_and_leaves_no_file(workdir: Path, opi_home: Path) -> None:
    validator = jsonschema.Draft202012Validator(event_stream_schema())
    cases = [
        ["--provider", "openai", "hi"],  # a provider without a key
        ["--model", "nosuch-model", "hi"],  # an unknown model
        ["--provider", "openai", "--api-key", "k", "--tools", "read,frobnicate", "hi"],  # after the model
        ["--provider", "openai", "--api-key", "k", "--system-prompt", "./missing.md", "hi"],
    ]
    for args in cases:
        proc = run_opi(["--json", *args], cwd=workdir)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = [json.loads(x) for x in proc.stdout.splitlines()]
        assert lines, args
        last = lines[-1]
        assert last["type"] == "session_summary" and last["exitCode"] == 2 and last["stopReason"] == "error"
        assert last["errorMessage"] and last["errorMessage"] in proc.stderr
        for line in lines:
            assert not list(validator.iter_errors(line)), line
        assert _session_files(opi_home) == [], args  # a failed start leaves no empty session


def test_a_failed_start_of_a_resumed_session_keeps_its_file(workdir: Path, opi_home: Path) -> None:
    with MockLLM(OK) as srv:
        made = run_opi(["--json", "--provider", "openai", "--api", "openai-completions", "--base-url",
                        f"{srv.base_url}/v1", "--api-key", "k", "--model", "mock-model", "hello"], cwd=workdir)
    assert made.returncode == 0, made.stderr
    path = Path(json.loads(made.stdout.splitlines()[-1])["sessionFile"])
    before = path.read_bytes()
    proc = run_opi(["resume", str(path), "--json", "--tools", "frobnicate", "again"], cwd=workdir)
    assert proc.returncode == 2
    assert json.loads(proc.stdout.splitlines()[-1])["type"] == "session_summary"
    assert path.read_bytes() == before


def test_login_stores_the_key_in_auth_json_0600_and_runs_use_it(workdir: Path, opi_home: Path) -> None:
    (opi_home / "auth.json").write_text(json.dumps({"anthropic": {"type": "api_key", "key": "sk-ant-old"}}))
    proc = run_opi(["login", "openai"], cwd=workdir, stdin="sk-stored-key\n")
    assert proc.returncode == 0, proc.stderr
    assert "sk-stored-key" not in proc.stdout + proc.stderr  # never echoed
    auth = opi_home / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    data = json.loads(auth.read_text())
    assert data == {"anthropic": {"type": "api_key", "key": "sk-ant-old"},
                    "openai": {"type": "api_key", "key": "sk-stored-key"}}
    with MockLLM(OK) as srv:
        run = run_opi(["-p", "--provider", "openai", "--api", "openai-completions", "--base-url",
                       f"{srv.base_url}/v1", "--model", "mock-model", "hi"], cwd=workdir)
        assert run.returncode == 0, run.stderr
        assert srv.requests[0]["had_auth"]


def test_login_refuses_unknown_providers_and_empty_keys(workdir: Path, opi_home: Path) -> None:
    unknown = run_opi(["login", "nosuch"], cwd=workdir, stdin="k\n")
    assert unknown.returncode == 2 and "nosuch" in unknown.stderr and "openai" in unknown.stderr
    empty = run_opi(["login", "openai"], cwd=workdir, stdin="\n")
    assert empty.returncode == 2 and "key" in empty.stderr.lower()
    assert not (opi_home / "auth.json").exists()
    listed = run_opi(["login"], cwd=workdir, stdin="")
    assert listed.returncode == 2 and "openai" in listed.stderr and "anthropic" in listed.stderr


def test_login_never_widens_an_existing_file(workdir: Path, opi_home: Path) -> None:
    auth = opi_home / "auth.json"
    auth.write_text("{}")
    os.chmod(auth, 0o644)
    proc = run_opi(["login", "groq"], cwd=workdir, stdin="gsk-1\n")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert json.loads(auth.read_text()) == {"groq": {"type": "api_key", "key": "gsk-1"}}


def test_a_connection_error_names_the_url_that_failed(workdir: Path, opi_home: Path) -> None:
    (opi_home / "settings.json").write_text(json.dumps({"retry": {"enabled": True, "maxRetries": 1, "baseDelayMs": 50}}))
    with socket.socket() as closed:  # bound but never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        args = ["--provider", "openai", "--api", "openai-completions", "--base-url", base, "--api-key", "k",
                "--model", "mock-model", "hi"]
        printed = run_opi(["-p", *args], cwd=workdir)
        streamed = run_opi(["--json", *args], cwd=workdir)
    assert printed.returncode == 1 and "Traceback" not in printed.stderr
    assert f"{base}/chat/completions" in printed.stderr, printed.stderr
    summary = json.loads(streamed.stdout.splitlines()[-1])
    assert summary["type"] == "session_summary" and f"{base}/chat/completions" in summary["errorMessage"]
