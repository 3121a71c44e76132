"""A test client for the real ``opi --mode rpc`` process: send commands, wait on what comes back.

stdout is read by a thread into a list (every line parsed as JSON, so a stray non-JSON line
fails the test that meets it); waits are on a condition with generous timeouts, never sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.mock_llm import MockLLM

Json = dict[str, Any]
WAIT = 60.0


def mock_args(srv: MockLLM, *extra: str) -> list[str]:
    """Options that point opi at the mock server (OpenAI Chat Completions)."""
    return ["--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
            "--api-key", "sk-test", "--model", "mock-model", *extra]


class RpcProcess:
    """``python -m opi_cli <args>`` with pipes; :meth:`send` a command, :meth:`wait_for` a line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        full = dict(os.environ)
        full.update(env or {})
        full.setdefault("PYTHONPATH", str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opi_cli", *args], cwd=cwd, env=full,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines: list[Json] = []
        self.raw: list[bytes] = []
        self.stderr = b""
        self._cond = threading.Condition()
        self._done = False
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            obj = json.loads(line)
            with self._cond:
                self.raw.append(line)
                self.lines.append(obj)
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, kind: str, **params: Any) -> int:
        """Send one command with a fresh id; returns the id."""
        self._next_id += 1
        self.write(json.dumps({"id": self._next_id, "type": kind, **params}).encode() + b"\n")
        return self._next_id

    def wait_for(self, pred: Callable[[Json], bool], *, after: int = 0, timeout: float = WAIT) -> Json:
        """The first line (at index ``after`` or later) for which ``pred`` holds."""
        seen = after
        with self._cond:
            while True:
                for obj in self.lines[seen:]:
                    if pred(obj):
                        return obj
                seen = len(self.lines)
                if self._done:
                    raise AssertionError(f"stdout ended without the line; stderr: {self.stderr[-2000:]!r}")
                if not self._cond.wait(timeout):
                    raise TimeoutError(f"no matching line in {timeout}s; last lines: {self.lines[-5:]}")

    def response(self, cid: int, timeout: float = WAIT) -> Json:
        return self.wait_for(lambda o: o.get("type") == "response" and o.get("id") == cid, timeout=timeout)

    def call(self, kind: str, **params: Any) -> Json:
        """Send a command and wait for its response."""
        return self.response(self.send(kind, **params))

    def event(self, kind: str, *, after: int = 0) -> Json:
        return self.wait_for(lambda o: o.get("type") == kind, after=after)

    def mark(self) -> int:
        """The number of lines so far (for ``after=``)."""
        with self._cond:
            return len(self.lines)

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = WAIT) -> int:
        """Close stdin (EOF) and wait for the exit code; stdout read to its end."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        with self._cond:
            self._cond.wait_for(lambda: self._done, timeout)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def responses(lines: list[Json]) -> list[Json]:
    return [o for o in lines if o.get("type") == "response"]


def events(lines: list[Json]) -> list[Json]:
    return [o for o in lines if o.get("type") != "response"]


def output_validator(*, snapshots: bool = False) -> Any:
    """A validator for any stdout line of --mode rpc (`opi schema --rpc`'s ``$defs/output``)."""
    import jsonschema

    from opi_cli.cli.rpc_schema import rpc_schema

    schema = rpc_schema(snapshots=snapshots)
    return jsonschema.Draft202012Validator({"$ref": "#/$defs/output", "$defs": schema["$defs"]})


def assert_valid(lines: list[Json], *, snapshots: bool = False) -> None:
    validator = output_validator(snapshots=snapshots)
    for obj in lines:
        errors = list(validator.iter_errors(obj))
        assert not errors, (obj.get("type"), obj.get("command"), [e.message[:200] for e in errors[:3]])
