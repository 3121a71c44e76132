"""Bytes on stdout for a long reply: `opi --json` stays linear in the reply (issue 15).

A 1 MB and a 10 MB text reply, streamed by the mock server (``tests/mock_llm.py``) in
64-byte deltas, go through the real ``opi --json`` of this checkout; the figures are the
stdout bytes per reply byte (budget 3) and the wall time. For scale: with a snapshot of the
message in every ``message_update`` (pi's shape, opi's before this), the 1 MB reply wrote
8.7 GB in 29 s and the 10 MB one was on course for about 870 GB. A run that passes 3× is
stopped at once, so a regression costs seconds, not the disk.

Run alone: ``python3 benchmarks/bench_json_stream.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _procs import ROOT, clean_env
from _report import Figure, Report

from tests.mock_llm import MockLLM

MB = 1_000_000
BUDGET = 3.0
CHUNK = 64


def one(report: Report, size: int, home: Path, work: Path) -> None:
    reply = ("0123456789abcdef" * (size // 16 + 1))[:size]
    script = {"responses": [{"steps": [{"text": reply}], "chunk_size": CHUNK}]}
    env = clean_env({"PYTHONPATH": str(ROOT), "HOME": str(home), "OPI_HOME": str(home / ".opi")})
    with MockLLM(script) as srv:
        argv = [sys.executable, "-m", "opi_cli", "--json", "--no-session", "--base-url", f"{srv.base_url}/v1",
                "--provider", "openai", "--api", "openai-completions", "--api-key", "x", "--model", "m", "go"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        written = lines = 0
        while chunk := proc.stdout.read1(1 << 20):
            written += len(chunk)
            lines += chunk.count(b"\n")
            if written > BUDGET * size:
                proc.kill()
                break
        code = proc.wait()
        elapsed = time.perf_counter() - t0
    label = f"{size // MB} MB reply"
    if code != 0 and written <= BUDGET * size:
        raise RuntimeError(f"{label}: opi exited {code}: {proc.stderr.read()[-500:]!r}")
    report.line(f"{label} in {CHUNK}-byte deltas: {written:,} bytes of stdout in {lines} lines, {elapsed:.1f} s")
    report.add(Figure(f"--json stdout per reply byte, {label}", written / size, "×", BUDGET,
                      note=f"{written / MB:.1f} MB" + (" (stopped at the budget)" if written > BUDGET * size else "")))
    report.add(Figure(f"--json wall time, {label}", elapsed * 1000, "ms"))


def main() -> None:
    report = Report("--json output size for long replies (linear stream)")
    with tempfile.TemporaryDirectory(prefix="opi-bench-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        (home / ".opi").mkdir(parents=True)
        work.mkdir()
        # a long reply passes the default context window: no compaction, only the stream is measured
        (home / ".opi" / "settings.json").write_text(json.dumps({"compaction": {"enabled": False}}))
        os.chdir(ROOT)
        for size in (MB, 10 * MB):
            one(report, size, home, work)
    report.finish()


if __name__ == "__main__":
    main()
