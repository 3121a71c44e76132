"""Large sessions: write and load a ~100 MB session (~100k entries), time ``opi resume -p`` to the first request.

Two shapes are measured, because they behave differently and both happen:

* ``compacted``: a long-lived session as opi leaves it, with a compaction every ~2,000
  entries; the kept context is small, so resume cost is the index scan of the file.
* ``never compacted``: the worst case, at 25 MB: the whole file is the kept context (and
  the context is far past any window, so opi compacts before sending).

For each: time to write the file through the real JSONL store, time to open it and build
the context in-process, and the real ``opi resume FILE -p hi`` process from start to the
moment the mock LLM server receives the request, with the child's peak RSS compared with
the bytes of the kept context (budget: under 2 s, memory under 3x the kept context).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import Figure, Report, quick  # noqa: E402
from opi_cli._util.ids import now_ms  # noqa: E402
from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, ToolResultMessage, Usage, UserMessage  # noqa: E402
from opi_cli.session.stores import JsonlStore  # noqa: E402
from opi_cli.session.writer import SessionWriter  # noqa: E402
from tests.mock_llm import MockLLM  # noqa: E402

TARGET_BYTES = 100 * 1024 * 1024
_ID = re.compile(rb'"id":"([0-9a-f]+)"')
RESUME_BUDGET_S = 2.0
MEMORY_BUDGET_X = 3.0


def _messages(i: int, pad: str) -> list[object]:
    ts = now_ms()
    call = ToolCall(f"call_{i}", "read", {"path": f"src/module_{i % 97}.py"})
    return [
        UserMessage((TextContent(f"step {i}: look at module {i % 97} " + pad),), ts),
        AssistantMessage((TextContent("Reading it."), call), "openai-completions", "mock", "mock-model",
                         Usage(1000, 50, 0, 0, 1050), "toolUse", ts),
        ToolResultMessage(call.id, "read", (TextContent(pad * 3),), False, ts),
        AssistantMessage((TextContent(f"Done with step {i}. " + pad[:200]),), "openai-completions", "mock",
                         "mock-model", Usage(1200, 60, 0, 0, 1260), "stop", ts),
    ]


async def _write(folder: Path, cwd: str, compact_every: int | None, target: int) -> tuple[Path, float, int]:
    store = JsonlStore(folder)
    writer = await SessionWriter.create(store, cwd=cwd)
    pad = "lorem ipsum dolor sit amet " * 10
    t0 = time.perf_counter()
    i = 0
    path = Path(writer.location)
    while path.stat().st_size < target:
        for m in _messages(i, pad):
            await writer.append_message(m)  # type: ignore[arg-type]
        i += 1
        if compact_every and i % compact_every == 0:
            kept = writer.leaf_id
            assert kept is not None
            await writer.append_compaction(f"## Goal\nSummary up to step {i}.", kept, 50000, {"readFiles": []})
    await writer.sync()
    elapsed = time.perf_counter() - t0
    entries = len(writer.tree)
    await writer.close()
    await store.close()
    return path, elapsed, entries


async def _load(path: Path) -> tuple[float, int, int]:
    store = JsonlStore(path.parent.parent)
    t0 = time.perf_counter()
    writer = await SessionWriter.open(store, str(path))
    ctx = await writer.context()
    elapsed = time.perf_counter() - t0
    kept_bytes = 0
    ids = {i.encode() for i in ctx.entry_ids}
    with path.open("rb") as f:
        for line in f:
            found = _ID.search(line, 0, 120)
            if found is not None and found.group(1) in ids:
                kept_bytes += len(line)
    n = len(ctx.messages)
    await writer.close()
    await store.close()
    return elapsed, n, kept_bytes


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _resume(path: Path, home: Path) -> tuple[float, float]:
    """(seconds from process start to the first request, child peak RSS in MB)."""
    with MockLLM({"responses": [{"steps": [{"text": "ok"}]}], "repeat_last": True}) as srv:
        env = {**os.environ, "OPI_HOME": str(home), "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "opi_cli", "resume", str(path), "-p", "--provider", "openai", "--api",
             "openai-completions", "--base-url", f"{srv.base_url}/v1", "--api-key", "x", "--model", "mock-model",
             "hi"],
            env=env, cwd=str(path.parent), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        rss_kb = 0
        first_request = 0.0
        while proc.poll() is None:  # VmHWM: this process's own peak (ru_maxrss would include
            rss_kb = max(rss_kb, _vm_hwm_kb(proc.pid))  # the bench's size at fork time)
            if not first_request and srv.requests:
                first_request = time.perf_counter() - t0
            time.sleep(0.01)
        first_request = first_request or time.perf_counter() - t0
        if proc.returncode != 0:
            assert proc.stderr is not None
            print("resume failed:", proc.stderr.read().decode()[-500:])
    return first_request, rss_kb / 1024


def main() -> None:
    report = Report("Large sessions (~100 MB, ~100k entries)")
    target = TARGET_BYTES // (10 if quick() else 1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / "sessions").mkdir(parents=True)
        tiny, _, _ = asyncio.run(_write(home / "sessions", tmp, None, 2000))
        _, base_mb = _resume(tiny, home)
        report.add(Figure("baseline: peak RSS resuming a tiny session", base_mb, "MB"))
        # the realistic shape at full size; the worst case (nothing ever compacted) at a quarter
        for label, every, size in (("compacted", 500, target), ("never compacted", None, target // 4)):
            path, write_s, entries = asyncio.run(_write(home / "sessions", tmp, every, size))
            size_mb = path.stat().st_size / 1e6
            load_s, n_msgs, kept = asyncio.run(_load(path))
            resume_s, rss_mb = _resume(path, home)
            kept_mb = kept / 1e6
            report.add(Figure(f"{label}: file", size_mb, "MB", note=f"{entries:,} entries"))
            report.add(Figure(f"{label}: write", write_s, "s"))
            report.add(Figure(f"{label}: open + build context", load_s, "s", note=f"{n_msgs:,} messages kept"))
            report.add(Figure(f"{label}: opi resume -p to first request", resume_s, "s", RESUME_BUDGET_S))
            report.add(Figure(f"{label}: peak RSS", rss_mb, "MB", note=f"kept context {kept_mb:.1f} MB"))
            report.add(Figure(f"{label}: memory above baseline / kept context", (rss_mb - base_mb) / max(kept_mb, 0.1),
                              "x", MEMORY_BUDGET_X))
            path.unlink()
    report.finish()


if __name__ == "__main__":
    main()
