"""SIGTERM and SIGHUP while a tool runs: its whole process group dies, the session is closed
intact, ``--json`` still ends with ``session_summary``, and opi exits 143 / 129 (issue 11)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import session_records, wait_until
from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver, chat_args

CODES = {signal.SIGTERM: 143, signal.SIGHUP: 129}


def group_members(pgid: int) -> list[int]:
    """Live processes (zombies excluded) whose process group is ``pgid``, read from /proc."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(entry))
    return alive


@pytest.fixture
def tool_group(tmp_path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """A script whose bash call records its process group id and leaves two sleepers in it."""
    pidfile = tmp_path / "pgid"
    command = f"echo $$ > {pidfile}; sleep 300 & sleep 300"
    script = {"responses": [
        {"steps": [{"text": "Running it."}, {"tool_call": {"name": "bash", "arguments": {"command": command}}}]},
        {"steps": [{"text": "never requested"}]},
    ]}
    yield script, pidfile
    if pidfile.exists():  # never leave sleepers behind, whatever the outcome
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)


def _wait_for_group(pidfile: Path) -> int:
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the tool to start")
    pgid = int(pidfile.read_text())
    wait_until(lambda: len(group_members(pgid)) >= 2, what="both sleepers")
    return pgid


def _assert_session_intact(opi_home: Path) -> None:
    records = session_records(opi_home)  # every line is one JSON object
    assert records[0]["type"] == "session"
    messages = [r["message"] for r in records if r["type"] == "message"]
    assert messages[0]["role"] == "user"
    calls = [c for m in messages if m["role"] == "assistant" for c in m["content"] if c["type"] == "toolCall"]
    assert [c["name"] for c in calls] == ["bash"]
    results = [m for m in messages if m["role"] == "toolResult"]
    assert [(r["toolName"], r["isError"]) for r in results] == [("bash", True)]
    assert "Command aborted" in results[0]["content"][0]["text"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("mode", ["-p", "--json"])
def test_signal_kills_the_tool_group_and_closes_the_session(
    workdir: Path, opi_home: Path, spawn_opi: Any, tool_group: tuple[dict[str, Any], Path], mode: str,
    sig: signal.Signals,
) -> None:
    script, pidfile = tool_group
    with MockLLM(script) as srv:
        proc = spawn_opi([mode, "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
                          "openai-completions", "--api-key", "sk-test", "--model", "mock-model", "run it"], cwd=workdir)
        pgid = _wait_for_group(pidfile)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert len(srv.requests) == 1
    assert proc.returncode == CODES[sig], err
    assert "Traceback" not in err
    wait_until(lambda: not group_members(pgid), timeout=10, what="the tool's process group to be gone")
    _assert_session_intact(opi_home)
    if mode == "--json":
        last = json.loads(out.splitlines()[-1])
        assert last["type"] == "session_summary"
        assert last["exitCode"] == CODES[sig]
        assert last["stopReason"] == "aborted"


@pytest.mark.pty
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_repl_signal_kills_the_tool_group_and_exits(
    workdir: Path, opi_home: Path, tool_group: tuple[dict[str, Any], Path], sig: signal.Signals
) -> None:
    script, pidfile = tool_group
    with MockLLM(script) as srv:
        drv = ReplDriver(chat_args(srv, "--approval", "yolo"), workdir)  # no permission question
        try:
            drv.wait_ready()
            drv.type_line("run it")
            pgid = _wait_for_group(pidfile)
            os.kill(drv.child.pid, sig)
            assert drv.wait_exit(timeout=60) == CODES[sig]
        finally:
            drv.close()
    wait_until(lambda: not group_members(pgid), timeout=10, what="the tool's process group to be gone")
    _assert_session_intact(opi_home)
