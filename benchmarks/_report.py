"""Figures, budgets and verdicts for the benchmarks: printed as tables, handed to run_all as JSON.

A bench builds a :class:`Report`, adds :class:`Figure` rows while it measures, and calls
:meth:`Report.finish` at the end. ``finish`` prints the bench's own table and, when the
environment names a results file (``OPI_BENCH_RESULTS``, set by ``run_all.py``), writes
the figures there as JSON so the runner can build one summary table for all benches.

Timing helpers (:func:`stats`, :func:`repeat_for`) live here too: every bench summarises
samples the same way (median and minimum; the minimum is the least noisy figure on a
busy machine, the median the honest one).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "QUICK_ENV", "RESULTS_ENV", "Figure", "Report", "Stats", "fmt_value", "load_average", "quick", "render_rows", "repeat_for",
    "stats", "table",
]

RESULTS_ENV = "OPI_BENCH_RESULTS"
QUICK_ENV = "OPI_BENCH_QUICK"


def quick() -> bool:
    """True when run_all asked for a short run (fewer repetitions)."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def load_average() -> str:
    """The 1/5/15-minute load averages and CPU count: how quiet the machine was."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of timing samples, in seconds."""

    n: int
    median: float
    minimum: float
    maximum: float


def stats(samples: Sequence[float]) -> Stats:
    """Median, minimum and maximum of ``samples`` (seconds)."""
    if not samples:
        raise ValueError("no samples")
    return Stats(len(samples), statistics.median(samples), min(samples), max(samples))


def repeat_for(fn: Callable[[], object], *, min_time_s: float = 0.3, min_runs: int = 3,
               clock: Callable[[], float] = time.perf_counter) -> Stats:
    """Call ``fn`` until ``min_time_s`` has passed and at least ``min_runs`` calls were made;
    each call is timed with ``clock`` (wall time by default; ``time.thread_time`` for CPU time)."""
    samples: list[float] = []
    deadline = time.perf_counter() + min_time_s
    while len(samples) < min_runs or time.perf_counter() < deadline:
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return stats(samples)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure and, if there is one, its budget (an upper bound, same unit).

    Every budget of ARCHITECTURE.md is an upper bound; a figure without a budget is
    reported for reference only.
    """

    name: str
    value: float
    unit: str
    budget: float | None = None
    note: str = ""
    peer: float | None = None  # pi's figure, same unit, from the same run

    @property
    def ratio(self) -> float | None:
        if self.budget is None or self.budget == 0:
            return None
        return self.value / self.budget

    @property
    def verdict(self) -> str:
        r = self.ratio
        if r is None:
            return "-"
        return "ok" if r <= 1.0 else "OVER"


def fmt_value(value: float, unit: str) -> str:
    """A number with a sensible number of digits for its size."""
    if value == 0:
        text = "0"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def table(rows: Sequence[Figure], *, benches: Sequence[str] | None = None) -> str:
    """Plain-text table: figure, value, budget, pi's figure, ratio, verdict; with a bench column if given."""
    head = (["bench"] if benches is not None else []) + ["figure", "value", "budget", "pi", "ratio", "verdict"]
    body: list[list[str]] = []
    for i, f in enumerate(rows):
        ratio = f.ratio
        cells = [
            f.name,
            fmt_value(f.value, f.unit),
            "-" if f.budget is None else "≤ " + fmt_value(f.budget, f.unit),
            "-" if f.peer is None else fmt_value(f.peer, f.unit),
            "-" if ratio is None else f"{ratio:.2f}",
            f.verdict,
        ]
        body.append(([benches[i]] if benches is not None else []) + cells)
    return render_rows(head, body)


def render_rows(head: list[str], body: list[list[str]]) -> str:
    """Align columns of strings under a header and a rule."""
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines)


@dataclass
class Report:
    """Collects a bench's figures and notes, prints them, and hands them to run_all."""

    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        print(f"== {self.title} ==", flush=True)
        print(f"load average: {load_average()}", flush=True)

    def section(self, title: str) -> None:
        print(f"\n-- {title}", flush=True)

    def line(self, text: str = "") -> None:
        print(text, flush=True)

    def note(self, text: str) -> None:
        """A remark worth repeating in the summary (a skipped measurement, a warning)."""
        self.notes.append(text)
        print(f"NOTE: {text}", flush=True)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        extra = f"  ({figure.note})" if figure.note else ""
        budget = "" if figure.budget is None else f"   budget ≤ {fmt_value(figure.budget, figure.unit)}"
        verdict = "" if figure.budget is None else f"  [{figure.verdict}]"
        peer = "" if figure.peer is None else f"   pi {fmt_value(figure.peer, figure.unit)}"
        print(f"  {figure.name}: {fmt_value(figure.value, figure.unit)}{budget}{peer}{verdict}{extra}", flush=True)
        return figure

    def finish(self) -> None:
        """Print this bench's table and write the results file if run_all asked for one."""
        if self.figures:
            print("\n" + table(self.figures), flush=True)
        target = os.environ.get(RESULTS_ENV)
        if target:
            payload = {"title": self.title, "figures": [asdict(f) for f in self.figures], "notes": self.notes}
            Path(target).write_text(json.dumps(payload), encoding="utf-8")
