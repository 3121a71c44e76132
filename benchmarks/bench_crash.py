"""More SIGKILLs than the test suite: the crash test's loop, run for longer, with a summary.

Reuses ``tests/test_crash.py`` (same checks after every kill: the file loads, every
complete line survives, an append after the crash stands on its own line, and every tenth
kill is resumed by the real ``opi resume -p``). Prints kills, kills that hit a live session,
and time per kill.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.test_crash as crash  # noqa: E402
from benchmarks._report import Figure, Report, quick  # noqa: E402


def main() -> None:
    batches = 2 if quick() else 12
    crash.KILLS_PER_BATCH = 25
    report = Report(f"SIGKILL durability: {batches * crash.KILLS_PER_BATCH} kills of the real opi --json")
    t0 = time.perf_counter()
    for b in range(batches):
        with tempfile.TemporaryDirectory() as tmp:
            crash.test_sigkill_at_random_moments_loses_nothing_complete(100 + b, Path(tmp))
    elapsed = time.perf_counter() - t0
    kills = batches * crash.KILLS_PER_BATCH
    report.add(Figure("kills, every check passed", kills, "kills"))
    report.add(Figure("time per kill (run + checks)", elapsed / kills * 1000, "ms"))
    report.finish()


if __name__ == "__main__":
    main()
