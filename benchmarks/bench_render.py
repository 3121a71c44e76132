"""REPL rendering cost: a scripted reply of 1,000 and of 10,000 text deltas through the live view.

The events go through :class:`opi_cli.cli.live.StreamView`, the same code path as
``opi chat``: finished pieces are committed to a ``Console(file=StringIO())`` (the
scrollback), and a frame of the live area is rendered every ``FRAME_EVERY`` deltas (about
what the REPL's 25 frames per second see at 250 tokens per second). The budget of
ARCHITECTURE.md: 10x the deltas costs about 10x the time, not 100x; and no frame redraws
the whole reply (the largest frame stays the same size whatever the reply's length).

Run alone: ``python3 benchmarks/bench_render.py``.
"""

from __future__ import annotations

import sys
import time
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import Figure, Report, quick, stats
from rich.console import Console, RenderableType

from opi_cli.agent.events import AgentEnd, AgentEvent, AgentStart, MessageEnd, MessageUpdate
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart
from opi_cli.ai.types import AssistantMessage, TextContent, Usage
from opi_cli.cli.live import StreamView

WIDTH = 100
LIVE_LINES = 24
FRAME_EVERY = 10
DELTA_CHARS = 5
RATIO_BUDGET = 12.0  # "about linear": 10x the deltas within 12x the time

_BLOCK = (
    "The parser reads the **input** one line at a time and keeps the `state` it needs,\n"
    "so a long file costs no more per line than a short one. Here is the idea:\n"
    "\n"
    "```python\n"
    "def parse(lines):\n"
    "    state = {}\n"
    "    for line in lines:\n"
    "        state = step(state, line)\n"
    "    return state\n"
    "```\n"
    "\n"
    "- it never looks back\n"
    "- it never re-reads a line\n"
    "\n"
)


class _NoSnapshot:
    """Text deltas never need the message snapshot; asking for it would be a bug here."""

    def message(self) -> AssistantMessage:
        raise AssertionError("the live view materialised a snapshot for a text delta")


def script(n_deltas: int) -> tuple[list[AgentEvent], int]:
    """The events of one reply of ``n_deltas`` text deltas, and its length in characters."""
    need = n_deltas * DELTA_CHARS
    text = (_BLOCK * (need // len(_BLOCK) + 1))[:need]
    snap = _NoSnapshot()
    events: list[AgentEvent] = [AgentStart(), MessageUpdate(ContentStart("text", 0, snap))]
    for i in range(0, len(text), DELTA_CHARS):
        events.append(MessageUpdate(ContentDelta("text", 0, text[i : i + DELTA_CHARS], snap)))
    events.append(MessageUpdate(ContentEnd("text", 0, TextContent(text), snap)))
    final = AssistantMessage((TextContent(text),), "openai-completions", "mock", "mock-model", Usage(), "stop", 0)
    events += [MessageEnd(final), AgentEnd((final,))]
    return events, len(text)


def run(events: list[AgentEvent]) -> tuple[float, int, int]:
    """Seconds, the largest frame (live area + what was committed since the last frame) in
    bytes, and the total bytes written to the scrollback."""
    out = StringIO()
    console = Console(file=out, width=WIDTH, force_terminal=True, color_system="truecolor")
    pending: list[RenderableType] = []
    view = StreamView(pending.append, clock=lambda: 0.0)
    max_frame = 0
    t0 = time.perf_counter()
    for i, ev in enumerate(events):
        view.handle(ev)
        if i % FRAME_EVERY == 0 or i == len(events) - 1:
            before = out.tell()
            for r in pending:  # what the REPL prints above the input in this frame
                console.print(r)
            pending.clear()
            frame = view.render_live(WIDTH, LIVE_LINES)
            max_frame = max(max_frame, out.tell() - before + len(frame.encode()))
    elapsed = time.perf_counter() - t0
    return elapsed, max_frame, out.tell()


def main() -> None:
    report = Report("REPL rendering: live view, 1,000 vs 10,000 deltas")
    reps = 2 if quick() else 5
    results: dict[int, tuple[float, int, int, int]] = {}
    for n in (1_000, 10_000):
        events, chars = script(n)
        runs = [run(events) for _ in range(reps)]
        secs = stats([r[0] for r in runs])
        results[n] = (secs.median, runs[0][1], runs[0][2], chars)
        report.add(Figure(f"{n:,} deltas ({chars:,} chars): total", secs.median * 1000, "ms",
                          note=f"min {secs.minimum * 1000:.1f} ms over {reps} runs"))
        report.add(Figure(f"{n:,} deltas: largest frame", runs[0][1], "bytes",
                          note=f"scrollback total {runs[0][2]:,} bytes"))
    ratio = results[10_000][0] / results[1_000][0]
    report.add(Figure("time ratio 10,000 / 1,000 deltas", ratio, "x", RATIO_BUDGET, "linear would be 10x"))
    frame_ratio = results[10_000][1] / max(1, results[1_000][1])
    report.add(Figure("largest-frame ratio 10,000 / 1,000", frame_ratio, "x", 2.0,
                      "1x means no frame grows with the reply"))
    report.finish()


if __name__ == "__main__":
    main()
