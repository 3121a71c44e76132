"""Startup wall time of `opi --version` and `opi --help`, against the bare interpreter and the budget.

Runs the installed console script (see ``_procs.find_opi``) N times each, after one warm-up
run, and reports median and minimum. ``python -c pass`` (with and without ``site``) is
measured too, because no Python CLI can start faster than its interpreter: on this machine
``site`` runs the ``.pth`` hooks of site-packages (editable-install finders and anything
else installed there), which every console script pays for. pi's ``--version`` and
``--help`` are timed in the same rounds, as the peer's figures. Finally it lists what
``opi --version`` imports, from ``python -X importtime``.

Run alone: ``python3 benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _agents import find_pi
from _importtime import children, parse_importtime, top_level
from _procs import OpiCommand, clean_env, find_opi, time_interleaved, time_runs
from _report import Figure, Report, Stats, quick, stats

VERSION_BUDGET_MS = 60.0
HELP_BUDGET_MS = 250.0
# Modules opi --version must not pull in (ARCHITECTURE.md: "imports nothing heavy").
HEAVY = (
    "httpx", "httpcore", "anyio", "ssl", "asyncio", "typer", "click", "rich", "prompt_toolkit",
    "pydantic", "jsonschema", "tiktoken", "psycopg", "websockets", "json", "opi_cli.ai", "opi_cli.agent",
    "opi_cli.cli.main",
)


def _add_ms(report: Report, name: str, s: Stats, budget: float | None, peer: Stats | None = None) -> None:
    report.add(Figure(f"{name} median", s.median * 1000, "ms", budget,
                      note=f"n={s.n}, min {s.minimum * 1000:.1f} ms, max {s.maximum * 1000:.1f} ms",
                      peer=None if peer is None else peer.median * 1000))


def _imports(report: Report, opi: OpiCommand) -> None:
    argv = [sys.executable, "-X", "importtime", "-m", "opi_cli", "--version"]
    proc = subprocess.run(argv, env=dict(opi.env), cwd="/", capture_output=True, text=True, timeout=60)
    rows = parse_importtime(proc.stderr)
    if not rows:
        report.note("`python -X importtime -m opi_cli --version` printed no import lines")
        return
    top = top_level(rows)
    total = sum(r.cumulative_us for r in top)
    site = sum(r.cumulative_us for r in top if r.name == "site")
    own = sum(r.cumulative_us for r in top if r.name.startswith("opi_cli"))
    report.line(f"imports of `python -m opi_cli --version`: {len(rows)} modules, {total / 1000:.1f} ms in total")
    report.line(f"  site (+ .pth hooks of site-packages): {site / 1000:.1f} ms; opi_cli.*: {own / 1000:.1f} ms")
    report.line("  inside site: " + ", ".join(f"{r.name} {r.cumulative_us / 1000:.1f} ms" for r in children(rows, "site")[:6]))
    report.line("  top-level imports by cumulative time:")
    for r in top[:10]:
        report.line(f"    {r.cumulative_us / 1000:7.2f} ms  {r.name}")
    biggest = sorted(rows, key=lambda r: r.self_us, reverse=True)[:8]
    report.line("  largest single modules (self time): " + ", ".join(f"{r.name} {r.self_us / 1000:.1f} ms" for r in biggest))
    names = {r.name for r in rows}
    heavy = [h for h in HEAVY if h in names]
    opi_mods = sorted(n for n in names if n.startswith("opi_cli"))
    report.line(f"  opi_cli modules imported: {', '.join(opi_mods) or 'none'}")
    if heavy:
        report.note(f"`opi --version` imports heavy modules: {', '.join(heavy)}")
    else:
        report.line("  heavy modules imported: none (checked: " + ", ".join(HEAVY) + ")")
    report.add(Figure("--version import time (opi_cli.*)", own / 1000, "ms", note="from -X importtime"))


def main() -> None:
    report = Report("startup: opi --version / opi --help")
    opi = find_opi()
    report.line(f"opi: {opi.description}")
    if opi.warning:
        report.note(opi.warning)
    n_version, n_help = (10, 4) if quick() else (30, 10)
    env = dict(opi.env)
    pi_bin = find_pi(report)
    pi_env = clean_env()
    report.section(f"interpreter alone vs opi --version{' and pi --version' if pi_bin else ''}, "
                   f"{n_version} runs each, interleaved")
    commands = [([sys.executable, "-c", "pass"], clean_env()), ([sys.executable, "-S", "-c", "pass"], clean_env()),
                ([*opi.argv, "--version"], env)]
    if pi_bin is not None:
        commands.append(([str(pi_bin), "--version"], pi_env))
    samples = [stats(x) for x in time_interleaved(commands, n_version)]
    bare, no_site, version = samples[:3]
    pi_version = samples[3] if pi_bin is not None else None
    _add_ms(report, "python -c pass", bare, None)
    _add_ms(report, "python -S -c pass (no site)", no_site, None)
    _add_ms(report, "opi --version", version, VERSION_BUDGET_MS, pi_version)
    report.add(Figure("opi --version min", version.minimum * 1000, "ms", note="best case: the quiet-machine figure"))
    report.add(Figure("opi --version minus python -c pass", (version.minimum - bare.minimum) * 1000, "ms",
                      note="opi's own share (minimums)"))
    report.section("opi --help")
    pi_help = stats(time_runs([str(pi_bin), "--help"], n_help, env=pi_env, cwd="/")) if pi_bin else None
    _add_ms(report, "opi --help", stats(time_runs([*opi.argv, "--help"], n_help, env=env, cwd="/")), HELP_BUDGET_MS,
            pi_help)
    report.section("what `opi --version` imports")
    _imports(report, opi)
    report.finish()


if __name__ == "__main__":
    main()
