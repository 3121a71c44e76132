"""opi against pi as the user meets them: whole runs, start-up, per-turn overhead, memory; and opi's in-process overhead.

Both agents run as real processes against the same scripted mock server
(``tests/mock_llm.py`` in keep-alive mode, as real APIs answer) with the same
``models.json``, alternating so machine noise hits both (see ``_agents.py``):

- **whole 2-turn run** (``--no-session``): turn 1 streams a sentence and a ``bash`` call
  running ``ls``, turn 2 the answer. Wall time (budget: at most 0.25× pi's), peak resident
  memory (budget: at most 0.25× pi's) and the TCP connections it opened (one keep-alive
  connection serves a conversation).
- **a 9-turn run** (sessions on, as a user runs): eight ``bash`` calls, then the answer.
  Start to first request (budget 200 ms) and the overhead per turn as the user sees it:
  real process, real HTTP, real tool, the tool's own time taken out (budget 5 ms; see
  ``_agents.per_turn_overheads``).

Beside the wall times: the CPU time each agent used (whole run; to the first request; per
turn), read from ``/proc`` as the server logged each request. On a busy machine wall time
also counts waits for a CPU; the CPU figures say what a quiet machine's would rest on.

Then the same conversation runs in-process through :class:`opi_cli.agent.agent.Agent`
with the faux provider and a no-op ``bash`` tool: the loop's own cost per turn (the faux
provider's streaming, measured alone, is subtracted).

Run alone: ``python3 benchmarks/bench_run.py``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _agents import PROMPT, Agent, Workspace, find_pi, interleave, per_turn_overheads
from _importtime import parse_importtime, top_level
from _procs import OpiCommand, find_opi
from _report import Figure, Report, quick, stats

from opi_cli._util.abort import AbortSignal
from opi_cli.agent.agent import Agent as LoopAgent
from opi_cli.agent.agent import AgentOptions
from opi_cli.agent.events import AgentEvent
from opi_cli.agent.tool import ExecutionMode, ToolResult, UpdateCallback, text_result
from opi_cli.ai.provider import LlmContext, StreamOptions
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.ai.types import TextContent, UserMessage
from tests.mock_llm import MockLLM

TURN_BUDGET_MS = 5.0
FIRST_REQUEST_BUDGET_MS = 200.0
WALL_RATIO_BUDGET = 0.25
RSS_RATIO_BUDGET = 0.25
TOOL_TURNS = 8
TWO_TURNS: dict[str, Any] = {
    "responses": [
        {"steps": [{"text": "I'll list the files."},
                   {"tool_call": {"name": "bash", "arguments": {"command": "ls"}, "id": "call_1"}}]},
        {"steps": [{"text": "There is one file: a.txt"}]},
    ]
}
MANY_TURNS: dict[str, Any] = {
    "responses": [
        *({"steps": [{"text": f"Step {i}: listing."},
                     {"tool_call": {"name": "bash", "arguments": {"command": "ls"}, "id": f"call_{i}"}}]}
          for i in range(TOOL_TURNS)),
        {"steps": [{"text": "There is one file: a.txt"}]},
    ]
}


def whole_runs(report: Report, n: int) -> None:
    opi = find_opi()
    report.line(f"opi: {opi.description}")
    if opi.warning:
        report.note(opi.warning)
    pi_bin = find_pi(report)
    with tempfile.TemporaryDirectory(prefix="opi-bench-") as tmp, MockLLM(TWO_TURNS, keep_alive=True) as srv:
        ws = Workspace.create(Path(tmp), srv)
        opi_imports(report, opi, ws)
        report.section(f"whole 2-turn run (--no-session), {n} runs each after one warm-up, alternating")
        agents = [ws.opi(opi, sessions=False)] + ([ws.pi(pi_bin, sessions=False)] if pi_bin else [])
        for a in agents:
            report.line(f"{a.name}: {' '.join(a.argv)}")
        report_whole(report, interleave(agents, ws, TWO_TURNS, 2, n, report))
        report.section(f"{TOOL_TURNS + 1}-turn run ({TOOL_TURNS} bash calls, sessions on), {max(n // 2, 3)} runs each")
        agents = [ws.opi(opi, sessions=True)] + ([ws.pi(pi_bin, sessions=True)] if pi_bin else [])
        report_turns(report, interleave(agents, ws, MANY_TURNS, TOOL_TURNS + 1, max(n // 2, 3), report))


def opi_imports(report: Report, opi: OpiCommand, ws: Workspace) -> None:
    """One opi run under ``-X importtime``: where its start-up goes (figures inflated by the tracing)."""
    ws.srv.set_script(TWO_TURNS)
    agent = ws.opi(opi, sessions=False)
    argv = [sys.executable, "-X", "importtime", "-m", "opi_cli", *agent.argv[len(opi.argv):]]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=agent.env, cwd=ws.work, capture_output=True, text=True,
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
                           "prompt_toolkit", "tiktoken", "importlib.metadata", "ssl") if m in names]
    report.line(f"  heavy packages loaded: {', '.join(present) or 'none'}")
    report.add(Figure("opi run: import time (under -X importtime)", total / 1000, "ms",
                      note=f"{len(rows)} modules"))


def _median(agent: Agent | None, value: Callable[[Any], float]) -> float | None:
    if agent is None:
        return None
    return statistics.median(value(r) for r in agent.results)


def _cpu_median(samples: list[float | None]) -> float | None:
    """Median of the CPU samples that could be read (None where ``/proc`` is missing)."""
    known = [s for s in samples if s is not None]
    return statistics.median(known) if known else None


def report_whole(report: Report, agents: list[Agent]) -> None:
    opi = agents[0]
    pi = agents[1] if len(agents) > 1 else None
    walls = stats([r.wall_s for r in opi.results])
    pi_wall = _median(pi, lambda r: r.wall_s)
    report.add(Figure("whole 2-turn --json run, median", walls.median * 1000, "ms",
                      peer=None if pi_wall is None else pi_wall * 1000,
                      note=f"n={walls.n}, min {walls.minimum * 1000:.0f} ms, max {walls.maximum * 1000:.0f} ms"))
    rss = _median(opi, lambda r: r.peak_rss_kb) or 0.0
    pi_rss = _median(pi, lambda r: r.peak_rss_kb)
    report.add(Figure("peak RSS, 2-turn run, median", rss / 1024, "MB",
                      peer=None if pi_rss is None else pi_rss / 1024))
    cpu = _median(opi, lambda r: r.cpu_s) or 0.0
    pi_cpu = _median(pi, lambda r: r.cpu_s)
    report.add(Figure("CPU time, whole 2-turn run, median", cpu * 1000, "ms",
                      peer=None if pi_cpu is None else pi_cpu * 1000,
                      note="user + system, the tool's process included: what a quiet machine's wall time rests on"))
    conns = _median(opi, lambda r: r.connections) or 0.0
    report.add(Figure("TCP connections per 2-turn run", conns, "", 1.0, peer=_median(pi, lambda r: r.connections)))
    if pi_wall is not None and pi_rss is not None:
        report.add(Figure("opi / pi: whole run (medians)", walls.median / pi_wall, "×", WALL_RATIO_BUDGET))
        report.add(Figure("opi / pi: peak RSS (medians)", rss / pi_rss, "×", RSS_RATIO_BUDGET))


def report_turns(report: Report, agents: list[Agent]) -> None:
    opi = agents[0]
    pi = agents[1] if len(agents) > 1 else None
    first = _median(opi, lambda r: r.first_request_s) or 0.0
    pi_first = _median(pi, lambda r: r.first_request_s)
    report.add(Figure("start → first request (sessions on), median", first * 1000, "ms", FIRST_REQUEST_BUDGET_MS,
                      peer=None if pi_first is None else pi_first * 1000,
                      note="process start to the request's arrival at the server"))
    first_cpu = _cpu_median([r.first_request_cpu_s for r in opi.results])
    pi_first_cpu = _cpu_median([r.first_request_cpu_s for r in pi.results]) if pi is not None else None
    if first_cpu is not None:
        report.add(Figure("start → first request, CPU time, median", first_cpu * 1000, "ms",
                          peer=None if pi_first_cpu is None else pi_first_cpu * 1000,
                          note="the process's threads (/proc), as the request arrived"))
    turns = [o for r in opi.results for o in per_turn_overheads(r)]
    pi_turns = [o for r in pi.results for o in per_turn_overheads(r)] if pi is not None else []
    s = stats(turns)
    report.add(Figure("overhead per turn, real process + HTTP + tool, median", s.median * 1000, "ms", TURN_BUDGET_MS,
                      peer=statistics.median(pi_turns) * 1000 if pi_turns else None,
                      note=f"{s.n} turns; min {s.minimum * 1000:.2f} ms, max {s.maximum * 1000:.2f} ms; "
                           "answer written → next request, minus the tool's time"))
    turn_cpu = _cpu_median([c for r in opi.results for c in r.turn_cpu_s()])
    pi_turn_cpu = _cpu_median([c for r in pi.results for c in r.turn_cpu_s()]) if pi is not None else None
    if turn_cpu is not None:
        report.add(Figure("CPU time per turn, answer written → next request, median", turn_cpu * 1000, "ms",
                          peer=None if pi_turn_cpu is None else pi_turn_cpu * 1000,
                          note="the agent process's threads only (the tool's own process not counted)"))
    conns = _median(opi, lambda r: r.connections) or 0.0
    report.add(Figure(f"TCP connections per {TOOL_TURNS + 1}-turn run", conns, "", 1.0,
                      peer=_median(pi, lambda r: r.connections)))


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
    agent = LoopAgent(AgentOptions(model=faux_model(), provider=FauxProvider(list(_responses())), tools=[NoopBash()]))
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
    report.add(Figure("agent overhead per turn, in-process", (bare - faux) / 2 * 1000, "ms", TURN_BUDGET_MS,
                      note=f"2-turn run {bare * 1000:.2f} ms"))
    report.add(Figure("agent overhead per turn, in-process, events as JSON", (with_json - faux) / 2 * 1000, "ms",
                      TURN_BUDGET_MS,
                      note="a subscriber json.dumps()-ing every event, as --json does"))


def main() -> None:
    report = Report("opi --json vs pi --mode json: whole runs, start-up, per-turn overhead, memory")
    whole_runs(report, 3 if quick() else 10)
    asyncio.run(in_process(report, 0.2 if quick() else 0.6))
    report.finish()


if __name__ == "__main__":
    main()
