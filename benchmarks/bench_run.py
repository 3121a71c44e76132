"""A whole scripted 2-turn tool-call run: `opi --json` vs pi's `--mode json`, and opi's in-process overhead per turn.

Both agents talk to the same scripted mock server (``tests/mock_llm.py``) on 127.0.0.1:
turn 1 streams a sentence and a ``bash`` call running ``ls``, turn 2 the answer. Both are
configured the same way, through a ``models.json`` provider ``mock`` in a temporary
config folder (``OPI_HOME`` / ``PI_CODING_AGENT_DIR``), with sessions off, in a temporary
working folder holding one file. Runs of the two alternate, so machine noise hits both.

pi (``@mariozechner/pi-coding-agent``) is installed once into ``benchmarks/.peer`` with
npm; without npm or network the comparison is skipped with a note.

Finally the same conversation runs in-process through :class:`opi_cli.agent.agent.Agent`
with the faux provider and a no-op ``bash`` tool: the loop's own cost per turn (the faux
provider's streaming, measured alone, is subtracted).

Run alone: ``python3 benchmarks/bench_run.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _importtime import parse_importtime, top_level
from _procs import ROOT, OpiCommand, clean_env, find_opi
from _report import Figure, Report, quick, stats

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.events import AgentEvent
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, text_result
from opi_cli.ai.provider import LlmContext, StreamOptions
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.ai.types import TextContent, UserMessage
from tests.mock_llm import MockLLM

PI_PACKAGE = "@mariozechner/pi-coding-agent@0.73.1"
PEER_DIR = Path(__file__).resolve().parent / ".peer"
PI_BIN = PEER_DIR / "node_modules" / ".bin" / "pi"
TURN_BUDGET_MS = 5.0
PROMPT = "list files"
SCRIPT: dict[str, Any] = {
    "responses": [
        {"steps": [{"text": "I'll list the files."},
                   {"tool_call": {"name": "bash", "arguments": {"command": "ls"}, "id": "call_1"}}]},
        {"steps": [{"text": "There is one file: a.txt"}]},
    ]
}


def models_json(base_url: str) -> str:
    """pi's models.json format, read by both agents."""
    provider = {"baseUrl": f"{base_url}/v1", "api": "openai-completions", "apiKey": "x",
                "models": [{"id": "mock-model"}]}
    return json.dumps({"providers": {"mock": provider}}, indent=2)


def install_pi(report: Report) -> Path | None:
    """pi's executable, installing it into benchmarks/.peer on first use; None if unavailable."""
    if PI_BIN.exists():
        return PI_BIN
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        report.note("npm/node not found: pi comparison skipped")
        return None
    report.line(f"installing {PI_PACKAGE} into {PEER_DIR} (once) ...")
    try:
        proc = subprocess.run(
            [npm, "install", "--prefix", str(PEER_DIR), "--no-audit", "--no-fund", PI_PACKAGE],
            capture_output=True, text=True, timeout=240,
        )
    except subprocess.TimeoutExpired:
        report.note("npm install timed out (no network?): pi comparison skipped")
        return None
    if proc.returncode != 0 or not PI_BIN.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        report.note(f"npm install failed: pi comparison skipped ({' | '.join(tail)})")
        return None
    return PI_BIN


class Run:
    """One agent's command line and environment, and a check that a run did the whole job."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str],
                 check: Callable[[str], str | None]) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.check = check
        self.samples: list[float] = []

    def once(self, srv: MockLLM, cwd: Path) -> float:
        """Run once against a fresh copy of the script; returns seconds. Raises RuntimeError."""
        srv.set_script(SCRIPT)
        before = len(srv.requests)
        t0 = time.perf_counter()
        proc = subprocess.run(self.argv, env=self.env, cwd=cwd, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        elapsed = time.perf_counter() - t0
        problem = f"exit {proc.returncode}" if proc.returncode != 0 else self.check(proc.stdout)
        requests = srv.requests[before:]
        if problem is None and len(requests) != 2:
            problem = f"{len(requests)} model requests instead of 2"
        if problem is None and "a.txt" not in json.dumps(requests[1]["body"]):
            problem = "the second request does not carry the `ls` output"
        if problem:
            raise RuntimeError(f"{self.name}: {problem}\nstderr: {proc.stderr[-800:]}\nstdout: {proc.stdout[-800:]}")
        return elapsed


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def check_opi(stdout: str) -> str | None:
    events = _json_lines(stdout)
    if not events or events[-1].get("type") != "session_summary":
        return "no session_summary at the end of the stream"
    return None


def check_pi(stdout: str) -> str | None:
    types = [e.get("type") for e in _json_lines(stdout)]
    if "tool_execution_end" not in types or "agent_end" not in types:
        return "no tool_execution_end/agent_end in pi's stream"
    if "There is one file" not in stdout:
        return "pi's stream lacks the final answer"
    return None


def whole_runs(report: Report, n: int) -> None:
    opi = find_opi()
    if opi.warning:
        report.note(opi.warning)
    pi_bin = install_pi(report)
    with tempfile.TemporaryDirectory(prefix="opi-bench-") as tmp, MockLLM(SCRIPT) as srv:
        base = Path(tmp)
        work, home, opi_home, pi_dir = base / "work", base / "home", base / "opi-home", base / "pi-agent"
        for d in (work, home, opi_home, pi_dir):
            d.mkdir()
        (work / "a.txt").write_text("hi\n")
        for d in (opi_home, pi_dir):
            (d / "models.json").write_text(models_json(srv.base_url))
        common = ["--provider", "mock", "--model", "mock-model"]
        runs = [Run("opi", [*opi.argv, "--json", "--no-session", *common, PROMPT],
                    {**opi.env, "HOME": str(home), "OPI_HOME": str(opi_home)}, check_opi)]
        if pi_bin is not None:
            pi_env = clean_env({"HOME": str(home), "PI_CODING_AGENT_DIR": str(pi_dir), "PI_OFFLINE": "1",
                                "PI_SKIP_VERSION_CHECK": "1"})
            runs.append(Run("pi", [str(pi_bin), "--mode", "json", "--no-session", "--offline", *common, PROMPT],
                            pi_env, check_pi))
        report.line(f"opi: {' '.join(runs[0].argv)}")
        if len(runs) > 1:
            report.line(f"pi:  {' '.join(runs[1].argv)}")
        report.line(f"{n} runs each after one warm-up, alternating; mock at {srv.base_url}")
        opi_imports(report, opi, runs[0], srv, work)
        for i in range(n + 1):
            for r in runs:
                try:
                    elapsed = r.once(srv, work)
                except RuntimeError as exc:
                    if r.name == "pi":
                        report.note(f"pi run failed, comparison skipped: {exc}")
                        runs.remove(r)
                        break
                    raise
                if i > 0:
                    r.samples.append(elapsed)
    report_whole(report, runs)


def opi_imports(report: Report, opi: OpiCommand, run: Run, srv: MockLLM, cwd: Path) -> None:
    """One opi run under ``-X importtime``: where its start-up goes (figures inflated by the tracing)."""
    srv.set_script(SCRIPT)
    argv = [sys.executable, "-X", "importtime", "-m", "opi_cli", *run.argv[len(opi.argv):]]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=run.env, cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    elapsed = time.perf_counter() - t0
    rows = parse_importtime(proc.stderr)
    top = top_level(rows)
    total = sum(r.cumulative_us for r in top)
    report.line(f"one opi run under -X importtime: {elapsed * 1000:.0f} ms wall, {len(rows)} modules, "
                f"{total / 1000:.0f} ms importing; heaviest imports by the program itself (cumulative):")
    report.line("  " + ", ".join(f"{r.name} {r.cumulative_us / 1000:.0f} ms" for r in top[:10]))
    names = {r.name for r in rows}
    present = [m for m in ("httpx", "rich", "pygments", "click", "typer", "pydantic", "jsonschema",
                           "prompt_toolkit", "tiktoken", "importlib.metadata") if m in names]
    report.line(f"  heavy packages loaded: {', '.join(present) or 'none'}")
    report.add(Figure("opi run: import time (under -X importtime)", total / 1000, "ms",
                      note=f"{len(rows)} modules"))


def report_whole(report: Report, runs: list[Run]) -> None:
    medians: dict[str, float] = {}
    for r in runs:
        s = stats(r.samples)
        medians[r.name] = s.median
        report.add(Figure(f"{r.name} whole 2-turn run, median", s.median * 1000, "ms",
                          note=f"n={s.n}, min {s.minimum * 1000:.0f} ms, max {s.maximum * 1000:.0f} ms"))
    if "pi" in medians:
        report.add(Figure("opi / pi (whole run, medians)", medians["opi"] / medians["pi"], "×", 1.0))


class NoopBash:
    """A ``bash`` tool that returns at once: the loop's cost without a real subprocess."""

    name = "bash"
    description = "Run a shell command."
    parameters: dict[str, Any] = {  # noqa: RUF012 - mirrors the Tool protocol's attribute
        "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"],
    }
    execution_mode: ExecutionMode = "parallel"

    async def execute(self, call_id: str, args: dict[str, Any], signal: AbortSignal,
                      on_update: UpdateCallback | None) -> ToolResult:
        return text_result("a.txt")


def _responses() -> list[FauxResponse]:
    return [FauxResponse(text="I'll list the files.", tool_calls=[FauxToolCall("bash", {"command": "ls"}, "call_1")]),
            FauxResponse(text="There is one file: a.txt")]


def _serialise(event: AgentEvent) -> None:
    json.dumps(event.to_json())


async def _agent_once(serialise: bool) -> None:
    agent = Agent(AgentOptions(model=faux_model(), provider=FauxProvider(list(_responses())), tools=[NoopBash()]))
    if serialise:
        agent.subscribe(_serialise)
    await agent.prompt(PROMPT)


async def _faux_once() -> None:
    provider = FauxProvider(list(_responses()))
    ctx = LlmContext("", (UserMessage((TextContent(PROMPT),), 1),))
    for _ in range(2):
        async for _ev in provider.stream(faux_model(), ctx, StreamOptions()):
            pass


async def _timed(fn: Callable[[], Any], min_time_s: float) -> float:
    samples: list[float] = []
    deadline = time.perf_counter() + min_time_s
    while len(samples) < 20 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return stats(samples).median


async def in_process(report: Report, min_time_s: float) -> None:
    report.section("agent overhead in-process (Agent + FauxProvider, no model delay, no-op bash tool)")
    faux = await _timed(_faux_once, min_time_s)
    bare = await _timed(lambda: _agent_once(False), min_time_s)
    with_json = await _timed(lambda: _agent_once(True), min_time_s)
    report.line(f"faux provider alone, 2 streams: {faux * 1000:.2f} ms (subtracted below)")
    report.add(Figure("agent overhead per turn", (bare - faux) / 2 * 1000, "ms", TURN_BUDGET_MS,
                      note=f"2-turn run {bare * 1000:.2f} ms"))
    report.add(Figure("agent overhead per turn, events as JSON", (with_json - faux) / 2 * 1000, "ms", TURN_BUDGET_MS,
                      note="a subscriber json.dumps()-ing every event, as --json does"))


def main() -> None:
    report = Report("whole run: opi --json vs pi --mode json, and agent overhead per turn")
    n = 3 if quick() else 10
    report.section("whole process, 2-turn bash-then-answer script against the mock server")
    os.chdir(ROOT)
    whole_runs(report, n)
    asyncio.run(in_process(report, 0.2 if quick() else 0.6))
    report.finish()


if __name__ == "__main__":
    main()
