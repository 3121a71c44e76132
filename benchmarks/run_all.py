"""Run every `benchmarks/bench_*.py`, each in its own process with a time limit, then print one summary table.

Each bench prints its own figures as it goes; those that report through ``_report.Report``
also write them to a results file named by ``OPI_BENCH_RESULTS``, from which the summary
at the end is built (figure, value, budget, pi's figure from the same run, ratio, verdict).
A bench that does not use ``_report`` still runs; the summary then says it reported no
figures. Benches run in name order; ``--only`` picks some, ``--quick`` asks them for fewer
repetitions.

Nothing is written into the checkout: scratch files go to temporary folders, pi's npm
install and every process's bytecode to a cache folder (``_procs.cache_dir``), and the
summary compares ``git status --ignored`` before and after the run to prove it.

Usage: ``python3 benchmarks/run_all.py [--quick] [--timeout S] [--only startup,sse]``
(``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # this process's own imports keep out of the checkout too

from _procs import ROOT, cache_dir, pycache_prefix  # noqa: E402
from _report import QUICK_ENV, RESULTS_ENV, Figure, load_average, render_rows, table  # noqa: E402

HERE = Path(__file__).resolve().parent


@dataclass
class Outcome:
    """What one bench process produced."""

    name: str
    status: str  # "ok", "failed (exit N)", "timed out after S s"
    seconds: float
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def discover(only: set[str] | None) -> list[Path]:
    """``bench_*.py`` beside this file, by name; ``only`` filters on the part after ``bench_``."""
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        found = [p for p in found if p.stem.removeprefix("bench_") in only or p.stem in only]
    return found


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_bench(path: Path, timeout_s: float, quick: bool) -> Outcome:
    """Run one bench with its output streaming to ours; collect its figures."""
    with tempfile.TemporaryDirectory(prefix="opi-bench-") as tmp:
        results = Path(tmp) / "results.json"
        env = dict(os.environ)
        env[RESULTS_ENV] = str(results)
        env["PYTHONPYCACHEPREFIX"] = pycache_prefix()
        if quick:
            env[QUICK_ENV] = "1"
        t0 = time.perf_counter()
        # own process group, so a timeout also ends the processes the bench started
        proc = subprocess.Popen([sys.executable, str(path)], env=env, cwd=HERE.parent, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
            status = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            status = f"timed out after {timeout_s:.0f} s"
        except KeyboardInterrupt:
            _kill_group(proc)
            proc.wait()
            raise
        seconds = time.perf_counter() - t0
        outcome = Outcome(path.stem, status, seconds)
        if results.exists():
            payload = json.loads(results.read_text(encoding="utf-8"))
            outcome.figures = [Figure(**f) for f in payload.get("figures", [])]
            outcome.notes = list(payload.get("notes", []))
    return outcome


def checkout_state() -> set[str] | None:
    """Every path ``git status`` reports in the checkout, ignored ones included (None without git)."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(proc.stdout.splitlines()) if proc.returncode == 0 else None


def checkout_report(before: set[str] | None, after: set[str] | None) -> str:
    if before is None or after is None:
        return "checkout: not a git checkout, writes not checked"
    changed = sorted(after - before)
    if not changed:
        return f"checkout: unchanged by the run (git status --ignored); cache: {cache_dir()}"
    shown = ", ".join(line[3:] for line in changed[:10]) + (" ..." if len(changed) > 10 else "")
    return f"checkout: WRITTEN by the run ({len(changed)} paths): {shown}"


def summary(outcomes: list[Outcome], load_before: str, checkout: str = "") -> str:
    """The closing table: every budgeted figure first, then the reference figures, then notes."""
    lines = ["", "=" * 100, "SUMMARY  (`make bench`; budgets from ARCHITECTURE.md; ratio = value / budget)", ""]
    lines.append(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                 f"{platform.system()} {platform.release()}")
    lines.append(f"load average (1/5/15 min): {load_before} before, {load_average()} after "
                 "(figures are wall times: a busy machine inflates them)")
    if _busy(load_before) or _busy(load_average()):
        lines.append("WARNING: the machine was busy (load above its CPU count): wall-time figures are inflated; "
                     "re-run on a quiet machine before judging the budgets")
    if checkout:
        lines.append(checkout)
    lines.append(render_rows(["bench", "status", "time"],
                             [[o.name, o.status, f"{o.seconds:.1f} s"] for o in outcomes]))
    budgeted = [(o.name, f) for o in outcomes for f in o.figures if f.budget is not None]
    reference = [(o.name, f) for o in outcomes for f in o.figures if f.budget is None]
    for title, rows in (("budgeted figures", budgeted), ("reference figures", reference)):
        if rows:
            lines += ["", title + ":"]
            lines.append(_bench_table(rows))
    silent = [o.name for o in outcomes if not o.figures]
    if silent:
        lines += ["", "no figures reported by: " + ", ".join(silent) + " (see their output above)"]
    notes = [f"{o.name}: {n}" for o in outcomes for n in o.notes]
    if notes:
        lines += ["", "notes:"] + [f"- {n}" for n in notes]
    over = [f"{name}: {f.name}" for name, f in budgeted if f.verdict == "OVER"]
    failed = [f"{o.name} {o.status}" for o in outcomes if o.status != "ok"]
    verdict = "all measured budgets met" if not over else "OVER budget: " + "; ".join(over)
    if failed:
        verdict += "; NOT MEASURED: " + "; ".join(failed)
    lines += ["", "verdict: " + verdict]
    return "\n".join(lines)


def _busy(load: str) -> bool:
    try:
        return float(load.split()[0]) > (os.cpu_count() or 1)
    except (ValueError, IndexError):
        return False


def _bench_table(rows: list[tuple[str, Figure]]) -> str:
    return table([f for _, f in rows], benches=[name.removeprefix("bench_") for name, _ in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier figures)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per bench (default 300)")
    parser.add_argument("--only", default="", help="comma-separated bench names, e.g. startup,sse")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    benches = discover(only)
    if not benches:
        print("no benchmarks found", file=sys.stderr)
        return 2
    outcomes: list[Outcome] = []
    load_before = load_average()
    before = checkout_state()
    for path in benches:
        print(f"\n### {path.name}", flush=True)
        outcome = run_bench(path, args.timeout, args.quick)
        print(f"### {path.name}: {outcome.status} in {outcome.seconds:.1f} s", flush=True)
        outcomes.append(outcome)
    print(summary(outcomes, load_before, checkout_report(before, checkout_state())), flush=True)
    return 0 if all(o.status == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
