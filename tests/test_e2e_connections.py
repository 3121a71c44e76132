"""One keep-alive connection serves a whole conversation, in every wire format.

The mock server runs in keep-alive mode (chunked streams on kept-open connections, as the
real APIs answer) and counts the TCP connections it accepts. A real ``opi --json`` run of
several turns (three tool calls, then the answer) must use one: each response is read to
its end, so its connection goes back to the pool for the next request. A retried failure
(a 429 with its JSON body, a stream cut short) and an abort are also checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fast_retry_settings, run_opi
from tests.mock_llm import MockLLM

WIRES = [
    pytest.param(["--provider", "openai", "--api", "openai-completions"], id="chat-completions"),
    pytest.param(["--provider", "anthropic"], id="anthropic-messages"),
    pytest.param(["--provider", "openai", "--api", "openai-responses"], id="responses"),
]


def _tool_turn(i: int) -> dict[str, Any]:
    return {"steps": [{"text": f"step {i}"},
                      {"tool_call": {"name": "bash", "arguments": {"command": f"echo turn{i}"}, "id": f"call_{i}"}}]}


def _args(srv: MockLLM, wire: list[str], *extra: str) -> list[str]:
    return ["--json", "--no-session", "--base-url", f"{srv.base_url}/v1", "--api-key", "sk-test", "--model", "m",
            *wire, *extra, "go"]


def _summary(stdout: str) -> dict[str, Any]:
    last: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    assert last["type"] == "session_summary", last
    return last


@pytest.mark.parametrize("wire", WIRES)
def test_a_conversation_of_several_turns_uses_one_connection(workdir: Path, wire: list[str]) -> None:
    script = {"responses": [_tool_turn(1), _tool_turn(2), _tool_turn(3), {"steps": [{"text": "all done"}]}]}
    with MockLLM(script, keep_alive=True) as srv:
        proc = run_opi(_args(srv, wire), cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert len(srv.requests) == 4
        assert "turn3" in json.dumps(srv.requests[3]["body"])  # the tool really ran
        assert srv.connections == 1
    assert _summary(proc.stdout)["exitCode"] == 0


@pytest.mark.parametrize("wire", WIRES[:2])
def test_a_retried_error_answer_keeps_the_connection(workdir: Path, opi_home: Path, wire: list[str]) -> None:
    """A 429 is read whole (its body says why), so the retry goes out on the same connection."""
    fast_retry_settings(opi_home)
    rate_limited = {"error": {"status": 429, "message": "Rate limit reached", "type": "rate_limit_error",
                              "headers": {"retry-after": "0"}}}
    script = {"responses": [rate_limited, _tool_turn(1), {"steps": [{"text": "done"}]}]}
    with MockLLM(script, keep_alive=True) as srv:
        proc = run_opi(_args(srv, wire), cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert len(srv.requests) == 3
        assert srv.connections == 1


def test_a_stream_cut_short_costs_its_connection_and_the_retry_opens_one(workdir: Path, opi_home: Path) -> None:
    """A body that never ended cannot be reused: the retry opens a new connection, then keeps it."""
    fast_retry_settings(opi_home)
    dropped = {"steps": [{"text": "partial answer that is cut"}], "drop_after_events": 2}
    script = {"responses": [dropped, _tool_turn(1), {"steps": [{"text": "done"}]}]}
    with MockLLM(script, keep_alive=True) as srv:
        proc = run_opi(_args(srv, WIRES[0].values[0]), cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert len(srv.requests) == 3
        assert srv.connections == 2
