"""Run opi and pi as a user does, against the scripted mock server, and time what the user waits for.

Both agents read the same ``models.json`` (pi's format: provider ``mock`` at the mock
server, Chat Completions) from a temporary config folder (``OPI_HOME`` /
``PI_CODING_AGENT_DIR``), run in a temporary working folder holding one file, and write
their sessions (when on) there too: nothing goes into the checkout.

pi (``@mariozechner/pi-coding-agent``) is installed with npm, once, into a cache folder
outside the checkout (:func:`cache_dir`); without npm or network the comparison is
skipped with a note.

:func:`timed_run` starts one process and records, on the clock the mock server stamps its
log with (``time.monotonic``): when it started, when each stdout line arrived, when it
exited, its peak resident memory (``wait4``) and the connections it opened. It also notes
the CPU time the process had used (all its threads, from ``/proc``) as each request arrived
and as each answer was written: on a busy machine wall time counts the waits for a CPU too,
and the CPU figures say what a quiet machine's wall time would be.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _procs import OpiCommand, cache_dir, clean_env
from _report import Report

from tests.mock_llm import MockLLM

__all__ = ["PI_PACKAGE", "PROMPT", "Agent", "RunResult", "Workspace", "find_pi", "interleave",
           "per_turn_overheads", "timed_run"]

PI_PACKAGE = "@mariozechner/pi-coding-agent@0.73.1"
PROMPT = "list files"


def find_pi(report: Report) -> Path | None:
    """pi's executable, installed into the cache on first use; None (with a note) if unavailable."""
    prefix = cache_dir() / ("pi-" + PI_PACKAGE.rsplit("@", 1)[1])
    binary = prefix / "node_modules" / ".bin" / "pi"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        report.note("npm/node not found: pi comparison skipped")
        return None
    report.line(f"installing {PI_PACKAGE} into {prefix} (once) ...")
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", PI_PACKAGE],
            capture_output=True, text=True, timeout=300, cwd=prefix,
        )
    except subprocess.TimeoutExpired:
        report.note("npm install timed out (no network?): pi comparison skipped")
        return None
    if proc.returncode != 0 or not binary.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        report.note(f"npm install failed: pi comparison skipped ({' | '.join(tail)})")
        return None
    return binary


def models_json(base_url: str) -> str:
    """pi's models.json format, read by both agents."""
    provider = {"baseUrl": f"{base_url}/v1", "api": "openai-completions", "apiKey": "x",
                "models": [{"id": "mock-model"}]}
    return json.dumps({"providers": {"mock": provider}}, indent=2)


@dataclass
class Workspace:
    """A temporary home, config folders and working folder for both agents."""

    root: Path
    srv: MockLLM

    @property
    def work(self) -> Path:
        return self.root / "work"

    @classmethod
    def create(cls, root: Path, srv: MockLLM) -> Workspace:
        ws = cls(root, srv)
        for name in ("work", "home", "opi-home", "pi-agent"):
            (root / name).mkdir()
        (ws.work / "a.txt").write_text("hi\n")
        for name in ("opi-home", "pi-agent"):
            (root / name / "models.json").write_text(models_json(srv.base_url))
        return ws

    def opi(self, opi: OpiCommand, *, sessions: bool) -> Agent:
        extra = [] if sessions else ["--no-session"]
        env = {**opi.env, "HOME": str(self.root / "home"), "OPI_HOME": str(self.root / "opi-home")}
        return Agent("opi", [*opi.argv, "--json", *extra, "--provider", "mock", "--model", "mock-model", PROMPT],
                     env, check_opi)

    def pi(self, binary: Path, *, sessions: bool) -> Agent:
        extra = [] if sessions else ["--no-session"]
        env = clean_env({"HOME": str(self.root / "home"), "PI_CODING_AGENT_DIR": str(self.root / "pi-agent"),
                         "PI_OFFLINE": "1", "PI_SKIP_VERSION_CHECK": "1"})
        return Agent("pi", [str(binary), "--mode", "json", *extra, "--offline", "--provider", "mock", "--model",
                            "mock-model", PROMPT], env, check_pi)


@dataclass
class Agent:
    """One agent's command line and environment, and a check that a run did the whole job."""

    name: str
    argv: list[str]
    env: dict[str, str]
    check: Callable[[str], str | None]
    results: list[RunResult] = field(default_factory=list)


@dataclass
class RunResult:
    """What one run did, on the mock server's clock (``time.monotonic``)."""

    started: float
    ended: float
    lines: list[tuple[float, dict[str, Any]]]  # each JSON line of stdout, with its arrival time
    requests: list[dict[str, Any]]  # the mock server's log entries of this run
    peak_rss_kb: int
    connections: int
    cpu_s: float  # user + system time of the process and the children it waited for

    @property
    def wall_s(self) -> float:
        return self.ended - self.started

    @property
    def first_request_s(self) -> float:
        return float(self.requests[0]["received_at"]) - self.started

    @property
    def first_request_cpu_s(self) -> float | None:
        cpu = self.requests[0].get("cpu_received")
        return None if cpu is None else float(cpu)

    def turn_cpu_s(self) -> list[float]:
        """CPU time of the process from each answer written to the next request (tool spawn included)."""
        out = []
        for before, after in zip(self.requests, self.requests[1:], strict=False):
            a, b = before.get("cpu_answered"), after.get("cpu_received")
            if a is not None and b is not None:
                out.append(float(b) - float(a))
        return out


def cpu_seconds(pid: int) -> float | None:
    """CPU time process ``pid`` has run so far, all threads (``/proc/PID/task/*/schedstat``, Linux)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip().startswith("{")]


def check_opi(stdout: str) -> str | None:
    events = _json_lines(stdout)
    if not events or events[-1].get("type") != "session_summary":
        return "no session_summary at the end of the stream"
    return None


def check_pi(stdout: str) -> str | None:
    types = [e.get("type") for e in _json_lines(stdout)]
    if "tool_execution_end" not in types or "agent_end" not in types:
        return "no tool_execution_end/agent_end in pi's stream"
    return None


def timed_run(agent: Agent, ws: Workspace, script: dict[str, Any], requests: int) -> RunResult:
    """Run ``agent`` once against a fresh copy of ``script``. Raises RuntimeError if the run failed."""
    srv = ws.srv
    srv.set_script(script)
    before, conns = len(srv.requests), srv.connections
    lines: list[tuple[float, bytes]] = []
    err = bytearray()
    started = time.monotonic()
    proc = subprocess.Popen(agent.argv, env=agent.env, cwd=ws.work, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    srv.observe = lambda moment, entry: entry.__setitem__(f"cpu_{moment}", cpu_seconds(proc.pid))
    assert proc.stdout is not None and proc.stderr is not None
    out_pipe, err_pipe = proc.stdout, proc.stderr

    def read_out() -> None:
        for line in out_pipe:
            lines.append((time.monotonic(), line))

    readers = [threading.Thread(target=read_out), threading.Thread(target=lambda: err.extend(err_pipe.read()))]
    for t in readers:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.monotonic()
    srv.observe = None
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    out_pipe.close()
    err_pipe.close()
    stdout = b"".join(line for _, line in lines).decode("utf-8", "replace")
    log = srv.requests[before:]
    problem = f"exit {proc.returncode}" if proc.returncode != 0 else agent.check(stdout)
    if problem is None and len(log) != requests:
        problem = f"{len(log)} model requests instead of {requests}"
    if problem is None and "a.txt" not in json.dumps(log[1]["body"]):
        problem = "the second request does not carry the `ls` output"
    if problem:
        raise RuntimeError(f"{agent.name}: {problem}\nstderr: {err.decode(errors='replace')[-800:]}\n"
                           f"stdout: {stdout[-800:]}")
    events = [(t, json.loads(line)) for t, line in lines if line.strip().startswith(b"{")]
    return RunResult(started, ended, events, log, usage.ru_maxrss, srv.connections - conns,
                     usage.ru_utime + usage.ru_stime)


def per_turn_overheads(run: RunResult) -> list[float]:
    """Seconds the agent itself spent between one model answer and the next request, per tool turn.

    For each turn that ran a tool: the time from the moment the server finished writing the
    answer to the moment the next request arrived, minus the tool's own time (from its
    ``tool_execution_start`` line to its ``tool_execution_end`` line on stdout). What is left
    is reading the end of the answer, parsing it, checking the call, the events, the session,
    building and sending the next request: the agent's cost, as the user waits for it.
    """
    starts = [t for t, ev in run.lines if ev.get("type") == "tool_execution_start"]
    ends = [t for t, ev in run.lines if ev.get("type") == "tool_execution_end"]
    out: list[float] = []
    for i, (t0, t1) in enumerate(zip(starts, ends, strict=False)):
        if i + 1 >= len(run.requests):
            break
        gap = float(run.requests[i + 1]["received_at"]) - float(run.requests[i]["answered_at"])
        out.append(gap - (t1 - t0))
    return out


def interleave(agents: Sequence[Agent], ws: Workspace, script: dict[str, Any], requests: int, n: int,
               report: Report) -> list[Agent]:
    """One warm-up run each, then ``n`` runs each, alternating so load changes hit all alike.

    A pi run that fails drops pi with a note (the comparison is then skipped); an opi
    failure is raised.
    """
    alive = list(agents)
    for i in range(n + 1):
        for agent in list(alive):
            try:
                result = timed_run(agent, ws, script, requests)
            except RuntimeError as exc:
                if agent.name != "pi":
                    raise
                report.note(f"pi run failed, comparison skipped: {exc}")
                alive.remove(agent)
                continue
            if i > 0:
                agent.results.append(result)
    return alive

