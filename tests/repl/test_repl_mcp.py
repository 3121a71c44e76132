"""MCP in the real REPL (pseudo-terminal): /mcp, prompts as commands, @server:uri, the approval question."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.mcp.conftest import stdio_entry, tool_names, write_settings
from tests.mock_llm import MockLLM

pytestmark = pytest.mark.pty


def _last_user(srv: MockLLM) -> str:
    return json.dumps(srv.requests[-1]["body"]["messages"][-1]["content"])


def test_mcp_command_prompts_and_resources(start_repl: Any, opi_home: Path) -> None:
    write_settings(opi_home, {"fx": stdio_entry(), "missing": {"command": "no-such-mcp-binary-q"}})
    script = {"responses": [{"steps": [{"text": "first answer"}]}, {"steps": [{"text": "reviewed"}]},
                            {"steps": [{"text": "noted"}]}]}
    drv, srv = start_repl(script, rows=40, cols=120)
    drv.type_line("hello")  # the first request waits for the servers to start
    drv.wait_for("first answer", timeout=120)
    assert "mcp__fx__echo" in tool_names(srv.requests[0])
    drv.wait_for("MCP server 'missing' failed to start (command not found: no-such-mcp-binary-q")
    drv.type_line("/mcp")
    drv.wait_for(lambda: "echo, add, getenv" in "\n".join(drv.all_lines()))
    shown = "\n".join(drv.all_lines())
    assert "ready" in shown and "failed" in shown and "command not found: no-such-mcp-binary-q" in shown
    drv.type_line("/mcp fx")
    drv.wait_for("/mcp__fx__review")
    shown = "\n".join(drv.all_lines())
    assert "mcp__fx__sleepy" in shown
    assert str(opi_home / "logs" / "mcp" / "fx.log") in "".join(line.strip() for line in drv.all_lines())
    drv.type_line('/mcp__fx__review "x = 1" style')
    drv.wait_for("reviewed")
    assert _last_user(srv) == json.dumps("Please review this code for style:\nx = 1")
    drv.type_line("summarise @fx:notes://today please")
    drv.wait_for("noted")
    sent = _last_user(srv)
    assert "NOTES: water the plants" in sent and "summarise @fx:notes://today please" in sent
    drv.send("\x04")
    assert drv.wait_exit() == 0


def test_a_project_server_is_asked_about_once(start_repl: Any, workdir: Path, opi_home: Path) -> None:
    (workdir / ".mcp.json").write_text(json.dumps({"mcpServers": {
        "tiny": stdio_entry(module="tests.mcp.tiny_server")}}))
    script = {"responses": [{"steps": [{"text": "with tiny"}]}]}
    drv, srv = start_repl(script, rows=40, cols=120)
    # (the question may wrap at a space: read the screen's lines as one text)
    drv.wait_for(lambda: "asks to start the MCP server 'tiny'" in " ".join(drv.screen_lines()))
    assert "Yes, and remember for this folder" in drv.screen_text()
    drv.type_line("1")
    drv.wait_for("MCP server 'tiny' approved for this folder; starting it.")
    drv.type_line("hi")
    drv.wait_for("with tiny")
    assert "mcp__tiny__hello" in tool_names(srv.requests[0])
    approvals = json.loads((opi_home / "mcp-approvals.json").read_text())
    assert approvals["projects"][str(workdir.resolve())]["tiny"]["approved"] is True
    assert oct(os.stat(opi_home / "mcp-approvals.json").st_mode & 0o777) == "0o600"
    drv.send("\x04")
    assert drv.wait_exit() == 0
    # asked once: the next start has the server without a question
    drv2, _ = start_repl({"responses": [{"steps": [{"text": "again"}]}]}, rows=40, cols=120)
    drv2.type_line("/mcp")
    drv2.wait_for("tiny")
    assert "asks to start" not in drv2.screen_text()
