"""Fixtures of the MCP tests: the fixture server as a stdio entry or as a live HTTP/SSE server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SERVER = [sys.executable, "-m", "tests.mcp.fixture_server"]


def stdio_entry(*args: str, module: str = "tests.mcp.fixture_server") -> dict[str, Any]:
    """An ``mcpServers`` entry that runs the fixture server (or ``module``) over stdio."""
    return {"command": sys.executable, "args": ["-m", module, *args], "env": {"PYTHONPATH": str(ROOT)}}


def write_settings(opi_home: Path, servers: dict[str, Any], **extra: Any) -> Path:
    """User settings with these servers. The first request waits for them as long as they take
    to start (a loaded machine may need seconds to import the SDK) unless ``mcp`` says otherwise."""
    extra.setdefault("mcp", {})
    extra["mcp"].setdefault("startupWaitMs", 120000)
    path = opi_home / "settings.json"
    path.write_text(json.dumps({"mcpServers": servers, **extra}))
    return path


def llm_args(base_url: str, *extra: str) -> list[str]:
    return ["--base-url", f"{base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "x", "--model", "m", *extra]


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.strip()]


def tool_ends(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["toolCallId"]: e for e in events(stdout) if e["type"] == "tool_execution_end"}


def result_text(end: dict[str, Any]) -> str:
    return "".join(c.get("text", "") for c in end["result"]["content"])


def tool_names(request: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in request["body"].get("tools", [])]


class HttpServer:
    """The fixture server as its own process on 127.0.0.1 (``kind``: http or sse)."""

    def __init__(self, kind: str, tmp: Path, *args: str) -> None:
        port_file = tmp / f"port-{kind}-{time.monotonic_ns()}"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([*SERVER, "--transport", kind, "--port-file", str(port_file), *args],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} fixture server did not start")
            time.sleep(0.02)
        port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{port}/mcp" if kind == "http" else f"http://127.0.0.1:{port}/sse"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    started: list[HttpServer] = []

    def start(kind: str = "http", *args: str) -> HttpServer:
        server = HttpServer(kind, tmp_path, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
