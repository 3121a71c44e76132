"""``opi mcp list|get|add|remove|approve|deny``: the real process, the files it edits, its messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import ROOT, run_opi


def _settings(opi_home: Path) -> dict[str, object]:
    return json.loads((opi_home / "settings.json").read_text())


def test_add_list_get_remove_keep_other_settings(workdir: Path, opi_home: Path) -> None:
    (opi_home / "settings.json").write_text(json.dumps({"defaultModel": "gpt-x", "retry": {"maxRetries": 7}}))
    added = run_opi(["mcp", "add", "fx", "-e", f"PYTHONPATH={ROOT}", "--", sys.executable, "-m",
                     "tests.mcp.fixture_server", "--name", "from-cli"], cwd=workdir)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"Added MCP server 'fx' to {opi_home / 'settings.json'}."
    data = _settings(opi_home)
    assert data["defaultModel"] == "gpt-x" and data["retry"] == {"maxRetries": 7}
    assert data["mcpServers"] == {"fx": {"type": "stdio", "command": sys.executable,
                                         "args": ["-m", "tests.mcp.fixture_server", "--name", "from-cli"],
                                         "env": {"PYTHONPATH": str(ROOT)}}}
    listed = run_opi(["mcp", "list"], cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("fx  user  stdio ") and "✓ ready · 13 tools, 1 prompts" in listed.stdout
    got = run_opi(["mcp", "get", "fx"], cwd=workdir)
    assert got.returncode == 0, got.stderr
    assert "mcp__fx__echo" in got.stdout and "prompts: review" in got.stdout
    assert f"log: {opi_home / 'logs' / 'mcp' / 'fx.log'}" in got.stdout
    removed = run_opi(["mcp", "remove", "fx"], cwd=workdir)
    assert removed.returncode == 0 and "Removed MCP server 'fx'" in removed.stdout
    assert _settings(opi_home) == {"defaultModel": "gpt-x", "retry": {"maxRetries": 7}, "mcpServers": {}}


def test_add_http_with_headers_and_a_project_server(workdir: Path, opi_home: Path) -> None:
    added = run_opi(["mcp", "add", "--transport", "http", "--scope", "project", "api", "https://example.com/mcp",
                     "-H", "Authorization: Bearer ${API_TOKEN}"], cwd=workdir)
    assert added.returncode == 0, added.stderr
    assert "Project servers start only once approved here: opi mcp approve api" in added.stdout
    assert json.loads((workdir / ".mcp.json").read_text()) == {"mcpServers": {"api": {
        "type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}}
    listed = run_opi(["mcp", "list"], cwd=workdir)
    assert "api  project  http  https://example.com/mcp  needs approval (opi mcp approve api)" in listed.stdout
    denied = run_opi(["mcp", "deny", "api"], cwd=workdir)
    assert denied.returncode == 0 and f"MCP server 'api' denied for {workdir}" in denied.stdout
    assert "denied for this folder" in run_opi(["mcp", "list", "--no-check"], cwd=workdir).stdout


def test_bad_input_is_one_line_and_files_are_never_clobbered(workdir: Path, opi_home: Path) -> None:
    settings = opi_home / "settings.json"
    settings.write_text('{"defaultModel": "x", // my favourite\n "mcpServers": {}}')
    before = settings.read_text()
    commented = run_opi(["mcp", "add", "fx", "--", "some-server"], cwd=workdir)
    assert commented.returncode == 2 and settings.read_text() == before
    assert commented.stderr == (f"opi: {settings} has comments or trailing commas, which rewriting it would lose; "
                                "edit its mcpServers by hand (it was not changed)\n")
    settings.write_text('{"mcpServers": {"a": ')
    broken = run_opi(["mcp", "add", "fx", "--", "some-server"], cwd=workdir)
    assert broken.returncode == 2 and settings.read_text() == '{"mcpServers": {"a": '
    assert broken.stderr.startswith(f"opi: {settings}:1:") and "Traceback" not in broken.stderr
    settings.write_text(json.dumps({"mcpServers": {"fx": {"command": "x"}}}))
    for args, message in [
        (["mcp", "add", "fx", "--", "y"], "already has an MCP server named 'fx'; remove it first"),
        (["mcp", "add", "web", "--transport", "ws", "ws://x"], "Unknown transport 'ws': use stdio, http or sse."),
        (["mcp", "add", "web", "-t", "http", "ftp://x"], "expected an http:// or https:// URL, got 'ftp://x'"),
        (["mcp", "add", "fy", "-e", "NOEQUALS", "--", "y"], "Bad --env 'NOEQUALS': write it as NAME=VALUE."),
        (["mcp", "add", "fz", "--scope", "global", "--", "y"], "Unknown scope 'global'"),
        (["mcp", "remove", "nope"], "No MCP server named 'nope' in"),
        (["mcp", "get", "nope"], "No MCP server named 'nope'. `opi mcp list` shows the configured ones."),
        (["mcp", "approve", "fx"], "'fx' is not a project MCP server here"),
    ]:
        proc = run_opi(args, cwd=workdir)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("opi: ") and message in proc.stderr and proc.stderr.count("\n") == 1, args
    assert json.loads(settings.read_text()) == {"mcpServers": {"fx": {"command": "x"}}}


def test_a_malformed_mcp_json_is_a_warning_not_a_stop(workdir: Path, opi_home: Path) -> None:
    (workdir / ".mcp.json").write_text('{"mcpServers": [')
    listed = run_opi(["mcp", "list"], cwd=workdir)
    assert listed.returncode == 0
    assert f"{workdir / '.mcp.json'}:1:17: malformed JSON" in listed.stdout and "(its MCP servers were not started)" in listed.stdout
    refused = run_opi(["mcp", "add", "-s", "project", "fx", "--", "y"], cwd=workdir)
    assert refused.returncode == 2 and (workdir / ".mcp.json").read_text() == '{"mcpServers": ['


def test_list_without_servers(workdir: Path, opi_home: Path) -> None:
    proc = run_opi(["mcp", "list"], cwd=workdir)
    assert proc.returncode == 0
    assert proc.stdout.strip() == "No MCP servers configured. Add one with `opi mcp add NAME -- COMMAND [ARGS...]`."


def test_mcp_settings_are_checked_with_the_settings_file(workdir: Path, opi_home: Path) -> None:
    settings = opi_home / "settings.json"
    settings.write_text('{"mcp": {"toolTimeoutMs": "slow"}}')
    proc = run_opi(["-p", "hi"], cwd=workdir)
    assert proc.returncode == 2 and settings.read_text() == '{"mcp": {"toolTimeoutMs": "slow"}}'
    assert proc.stderr.startswith(f"opi: {settings}:1: mcp.toolTimeoutMs: must be a number") and proc.stderr.count("\n") == 1
    settings.write_text('{"enabledMcpjsonServers": "all"}')
    proc = run_opi(["mcp", "list"], cwd=workdir)
    assert proc.returncode == 2 and "enabledMcpjsonServers: must be a list" in proc.stderr
