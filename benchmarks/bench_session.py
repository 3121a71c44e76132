"""Large sessions: write and load a ~100 MB session (~100k entries), time ``opi resume -p`` to the first request.

The sessions are written as opi leaves them: every assistant message reports the context
size the provider would have measured (its usage), and when that passes the model's window
minus the reserve a compaction keeps the most recent ~20k tokens, as ``/compact`` would.
Two shapes are measured:

* ``gpt-4o (128k)``: a long session resumed wherever it ends; the kept context is whatever
  followed its latest compaction;
* ``gpt-4.1 (1M), full window``: the largest kept context there can be, a 1M-token window
  resumed just before its next compaction (about 7 MB of kept entries).

For each: time to write the file through the real JSONL store, time to open it and build
the context in-process, the real ``opi resume FILE -p hi`` process from start to the
moment the mock LLM server receives the request, the interactive ``opi resume FILE`` in a
pseudo-terminal from start to its prompt, and the ``-p`` child's peak RSS above that of
resuming a tiny session, compared with the bytes of the kept entries (budget: under 2 s to
the first prompt, memory under 3x the kept context).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import Figure, Report, quick  # noqa: E402
from opi_cli._util.ids import now_ms  # noqa: E402
from opi_cli.agent.messages import AgentMessage  # noqa: E402
from opi_cli.ai.types import AssistantMessage, TextContent, ToolCall, ToolResultMessage, Usage, UserMessage  # noqa: E402
from opi_cli.session.compaction_cut import CompactionSettings, estimate_message_tokens  # noqa: E402
from opi_cli.session.stores import JsonlStore  # noqa: E402
from opi_cli.session.writer import SessionWriter  # noqa: E402
from tests.mock_llm import MockLLM  # noqa: E402

TARGET_BYTES = 100 * 1024 * 1024
_ID = re.compile(rb'"id":"([0-9a-f]+)"')
RESUME_BUDGET_S = 2.0
RESUMES = 5  # per shape; medians are reported (timings here vary by ±20%, RSS by about a megabyte)
MEMORY_BUDGET_X = 3.0


def _step(i: int, pad: str, model: str, context: int) -> list[AgentMessage]:
    """One turn: a prompt, a tool call, its result and the answer; usage reports ``context`` growing."""
    ts = now_ms()
    call = ToolCall(f"call_{i}", "read", {"path": f"src/module_{i % 97}.py"})
    user = UserMessage((TextContent(f"step {i}: look at module {i % 97} " + pad),), ts)
    result = ToolResultMessage(call.id, "read", (TextContent(pad * 3),), False, ts)
    out: list[AgentMessage] = [user]
    context += estimate_message_tokens(user)
    for content, stop in (((TextContent("Reading it."), call), "toolUse"), ((TextContent(f"Done with step {i}. " + pad[:200]),), "stop")):
        reply = AssistantMessage(content, "openai-responses", "openai", model, Usage(0, 0, 0, 0, 0), stop, ts)  # type: ignore[arg-type]
        out_tokens = estimate_message_tokens(reply)
        context += out_tokens
        out.append(replace(reply, usage=Usage(context - out_tokens, out_tokens, 0, 0, context)))
        if stop == "toolUse":
            out.append(result)
            context += estimate_message_tokens(result)
    return out


async def _write(folder: Path, cwd: str, model: str, window: int, target: int, *, full_window: bool) -> tuple[Path, float, int]:
    """Write turns until the file reaches ``target`` bytes (and, with ``full_window``, until the
    context is within 5% of the compaction threshold); returns (path, seconds, entries)."""
    settings = CompactionSettings()
    threshold = window - settings.reserve_tokens
    store = JsonlStore(folder)
    writer = await SessionWriter.create(store, cwd=cwd)
    pad = "lorem ipsum dolor sit amet " * 10
    summary = "## Goal\nKeep going through the modules.\n\n## Progress\n" + "- read and summarised a module\n" * 60
    t0 = time.perf_counter()
    i = context = 0
    kept: list[tuple[str, int, bool]] = []  # (entry id, estimated tokens, starts a turn) since the kept start
    path = Path(writer.location)
    while path.stat().st_size < target or (full_window and context < 0.95 * threshold):
        for m in _step(i, pad, model, context):
            entry = await writer.append_message(m)
            tokens = estimate_message_tokens(m)
            context += tokens
            kept.append((entry.id, tokens, isinstance(m, UserMessage)))
        i += 1
        if context > threshold:  # compact as opi would: keep the recent ~20k tokens from a turn start
            tail, cut = 0, len(kept) - 1
            while cut > 0 and (tail < settings.keep_recent_tokens or not kept[cut][2]):
                tail += kept[cut][1]
                cut -= 1
            await writer.append_compaction(summary, kept[cut][0], context, {"readFiles": []})
            kept = kept[cut:]
            context = sum(t for _, t, _ in kept) + len(summary) // 4
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


def _resume(path: Path, home: Path, model: str) -> tuple[float, float, float]:
    """(seconds from process start to the first request, the child's peak RSS in MB up to then,
    and over its whole run, which for a session at the edge of its window includes the
    compaction after the reply)."""
    with MockLLM({"responses": [{"steps": [{"text": "ok"}]}], "repeat_last": True}) as srv:
        env = {**os.environ, "OPI_HOME": str(home), "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "opi_cli", "resume", str(path), "-p", "--provider", "openai", "--api",
             "openai-completions", "--base-url", f"{srv.base_url}/v1", "--api-key", "x", "--model", model, "hi"],
            env=env, cwd=str(path.parent), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        rss_kb = at_request_kb = 0
        first_request = 0.0
        while proc.poll() is None:  # VmHWM: this process's own peak (ru_maxrss would include
            rss_kb = max(rss_kb, _vm_hwm_kb(proc.pid))  # the bench's size at fork time)
            if not first_request and srv.requests:
                first_request = time.perf_counter() - t0
                at_request_kb = rss_kb
            time.sleep(0.005)
        first_request = first_request or time.perf_counter() - t0
        if proc.returncode != 0:
            assert proc.stderr is not None
            print("resume failed:", proc.stderr.read().decode()[-500:])
    return first_request, (at_request_kb or rss_kb) / 1024, rss_kb / 1024


def _prompt(path: Path, home: Path, model: str) -> float:
    """Seconds from starting the interactive ``opi resume FILE`` (in a pseudo-terminal) until
    its input prompt is on screen under the resumed conversation."""
    from tests.repl.driver import ReplDriver

    copy = path.with_name("copy-" + path.name)
    shutil.copyfile(path, copy)
    with MockLLM({"responses": []}) as srv:
        t0 = time.perf_counter()
        drv = ReplDriver(["-m", "opi_cli", "resume", str(copy), "--provider", "openai", "--api", "openai-completions",
                          "--base-url", f"{srv.base_url}/v1", "--api-key", "x", "--model", model],
                         path.parent, env={"OPI_HOME": str(home)})
        try:
            drv.wait_for(lambda: "── resumed ──" in drv.screen_text()
                         and any(line.startswith("›") for line in drv.screen_lines()), timeout=60)
            return time.perf_counter() - t0
        finally:
            drv.close()
            copy.unlink()
            Path(f"{copy}.lock").unlink(missing_ok=True)


def _resume_copy(path: Path, home: Path, model: str) -> tuple[float, float, float]:
    """:func:`_resume` on a fresh copy (a resume appends, and may compact after its reply)."""
    copy = path.with_name("copy-" + path.name)
    shutil.copyfile(path, copy)
    try:
        return _resume(copy, home, model)
    finally:
        copy.unlink()
        for side in (Path(f"{copy}.lock"), Path(f"{copy}.torn")):
            side.unlink(missing_ok=True)


def main() -> None:
    report = Report("Large sessions (~100 MB, ~100k entries)")
    target = TARGET_BYTES // (10 if quick() else 1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / "sessions").mkdir(parents=True)
        tiny, _, _ = asyncio.run(_write(home / "sessions", tmp, "gpt-4o", 128000, 2000, full_window=False))
        base_mb = statistics.median(_resume_copy(tiny, home, "gpt-4o")[1] for _ in range(RESUMES))
        report.add(Figure("baseline: peak RSS resuming a tiny session", base_mb, "MB", note=f"median of {RESUMES}"))
        shapes = (("gpt-4o (128k)", "gpt-4o", 128000, False), ("gpt-4.1 (1M), full window", "gpt-4.1", 1047576, True))
        for label, model, window, full in shapes:
            path, write_s, entries = asyncio.run(_write(home / "sessions", tmp, model, window, target, full_window=full))
            size_mb = path.stat().st_size / 1e6
            load_s, n_msgs, kept = asyncio.run(_load(path))
            runs = [_resume_copy(path, home, model) for _ in range(RESUMES)]
            resume_s, rss_mb, whole_mb = (statistics.median(r[i] for r in runs) for i in range(3))  # each its median
            kept_mb = kept / 1e6
            report.add(Figure(f"{label}: file", size_mb, "MB", note=f"{entries:,} entries"))
            report.add(Figure(f"{label}: write", write_s, "s"))
            report.add(Figure(f"{label}: open + build context", load_s, "s", note=f"{n_msgs:,} messages kept"))
            report.add(Figure(f"{label}: opi resume -p to first request", resume_s, "s", RESUME_BUDGET_S,
                              note=f"median of {RESUMES}: " + ", ".join(f"{r[0]:.2f}" for r in sorted(runs))))
            prompts = sorted(_prompt(path, home, model) for _ in range(RESUMES))
            report.add(Figure(f"{label}: opi resume (interactive) to its prompt", prompts[len(prompts) // 2], "s",
                              RESUME_BUDGET_S, note=f"median of {RESUMES}: " + ", ".join(f"{t:.2f}" for t in prompts)))
            report.add(Figure(f"{label}: peak RSS to the first request", rss_mb, "MB",
                              note=f"kept context {kept_mb:.2f} MB; {whole_mb:.0f} MB over the whole run"))
            report.add(Figure(f"{label}: memory above baseline / kept context", (rss_mb - base_mb) / kept_mb,
                              "x", MEMORY_BUDGET_X))
            path.unlink()
    report.finish()


if __name__ == "__main__":
    main()
