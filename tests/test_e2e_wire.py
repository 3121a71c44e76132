"""What servers really send: gzip streams, proxy error pages, plain-text answers, refused
connections, a tool-call id used twice, and a session that cannot be saved (issue 11)."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, fast_retry_settings, run_opi
from tests.mock_llm import MockLLM


def _args(base_url: str, mode: str = "-p", *extra: str) -> list[str]:
    return [mode, "--base-url", f"{base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "sk-test-wire-key", "--model", "mock-model", *extra, "hello"]


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_gzip_compressed_stream_is_decoded(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home)
    script = {"responses": [{"steps": [{"text": "Compressed hello, all of it."}], "gzip": True}]}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url), cwd=workdir)
        assert "gzip" in srv.requests[0]["headers"].get("accept-encoding", "")
        assert len(srv.requests) == 1  # no retry
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Compressed hello, all of it.\n"


PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
    "<script>var tracking = 'SCRIPT-BODY';</script></head><body><center><h1>502 Bad Gateway</h1></center>"
    + "<p>filler paragraph</p>" * 200
    + "<p>DEEP-IN-THE-PAGE</p><hr><center>nginx/1.25.3</center></body></html>"
)


def test_html_502_page_is_reported_short(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home)
    script = {"responses": [{"raw": {"status": 502, "content_type": "text/html; charset=utf-8", "body": PAGE}}],
              "repeat_last": True}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url), cwd=workdir)
    assert r.returncode == 1
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "502 Bad Gateway" in err and "text/html" in err and f"{srv.base_url}/v1/chat/completions" in err
    assert "<" not in err and "SCRIPT-BODY" not in err and "DEEP-IN-THE-PAGE" not in err
    assert len(err) < 400, err


def test_plain_text_200_is_reported_with_status_type_and_excerpt(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home)
    body = "Welcome to the captive portal. Please log in to continue.\n" * 50
    script = {"responses": [{"raw": {"status": 200, "content_type": "text/plain", "body": body}}], "repeat_last": True}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url), cwd=workdir)
    assert r.returncode == 1
    err = r.stderr.strip()
    assert "200" in err and "text/plain" in err and "Welcome to the captive portal" in err, err
    assert "stream ended" not in err.lower()
    assert len(err) < 400, err


def test_connection_refused_names_the_endpoint(workdir: Path, opi_home: Path) -> None:
    fast_retry_settings(opi_home)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    r = run_opi(_args(f"http://127.0.0.1:{port}"), cwd=workdir)
    assert r.returncode == 1
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in r.stderr, r.stderr


def test_same_tool_call_id_twice_stays_two_calls(workdir: Path, opi_home: Path) -> None:
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "bash", "arguments": {"command": "echo first-call"}, "id": "call_dup"}},
                   {"tool_call": {"name": "bash", "arguments": {"command": "echo second-call"}, "id": "call_dup"}}]},
        {"steps": [{"text": "both ran"}]},
    ]}
    with MockLLM(script) as srv:
        r = run_opi(_args(srv.base_url, "--json"), cwd=workdir)
        second = srv.requests[1]["body"]["messages"]
    assert r.returncode == 0, r.stderr
    ends = [e for e in _events(r.stdout) if e["type"] == "tool_execution_end"]
    assert len(ends) == 2
    assert not any(e["isError"] for e in ends)
    assert sorted(e["result"]["content"][0]["text"].strip() for e in ends) == ["first-call", "second-call"]
    ids = [e["toolCallId"] for e in ends]
    assert len(set(ids)) == 2
    calls = next(m for m in second if m["role"] == "assistant")["tool_calls"]
    assert [json.loads(c["function"]["arguments"])["command"] for c in calls] == ["echo first-call", "echo second-call"]
    assert len({c["id"] for c in calls}) == 2
    results = [m["tool_call_id"] for m in second if m["role"] == "tool"]
    assert sorted(results) == sorted(c["id"] for c in calls)


def _small_files() -> None:
    # the session file may grow to 4 KB: the long reply cannot be saved (EFBIG; Python ignores SIGXFSZ)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_failed_session_save_under_print_warns_on_stderr(workdir: Path, opi_home: Path) -> None:
    reply = "A long reply that does not fit. " * 300
    with MockLLM({"responses": [{"steps": [{"text": reply}]}]}) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "opi_cli", *_args(srv.base_url)], cwd=workdir, capture_output=True, text=True,
            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
            preexec_fn=_small_files,
        )
    assert proc.stdout == reply.rstrip() + "\n" or proc.stdout == reply + "\n"
    assert "warning" in proc.stderr and "not being saved" in proc.stderr, proc.stderr
    session = next(opi_home.glob("sessions/*/*.jsonl"))
    assert str(session) in proc.stderr
