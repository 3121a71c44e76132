"""Durability under SIGKILL: the real ``opi --json`` killed at random moments (PROTOCOL.md §4.2).

After every kill: the session file loads; every complete line is an entry that loads; an
append after the crash lands on its own line (never glued to a torn one); and for every
tenth kill the real ``opi resume FILE -p continue`` works and sends the surviving history.
``make test`` runs a representative slice (2 batches of 12 kills: start-up kills, kills at
random points of the run, resumes); ``make bench`` (benchmarks/bench_crash.py) runs the same
loop for 300 kills.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opi_cli._util.ids import now_ms
from opi_cli.ai.types import TextContent, UserMessage
from opi_cli.session.stores import JsonlStore
from opi_cli.session.writer import SessionWriter
from tests.conftest import ROOT, run_opi
from tests.mock_llm import MockLLM

BATCHES = 2
KILLS_PER_BATCH = 12  # the slice of make test; benchmarks/bench_crash.py sets 25 per batch

SCRIPT = {
    "repeat_last": True,
    "responses": [
        {"steps": [{"thinking": "Thinking about files and more files."}, {"text": "Listing the files now, one moment."},
                   {"tool_call": {"name": "bash", "arguments": {"command": "ls; sleep 0.05; echo done"}}}],
         "delay_ms": 4, "chunk_size": 3},
        {"steps": [{"text": "There are files here. " * 8}], "delay_ms": 3, "chunk_size": 5},
    ],
}


def _files(home: Path) -> list[Path]:
    return sorted((home / "sessions").glob("*/*.jsonl"))


def _complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    return [ln for ln in lines[:-1] if ln.strip()]  # the last element is "" or a torn tail


async def _reopen_and_append(path: Path, home: Path, text: str) -> int:
    store = JsonlStore(home / "sessions")
    writer = await SessionWriter.open(store, str(path))
    try:
        ctx = await writer.context()
        await writer.append_message(UserMessage((TextContent(text),), now_ms()))
        await writer.sync()
        return len(ctx.messages)
    finally:
        await writer.close()
        await store.close()


@pytest.mark.parametrize("batch", range(BATCHES))
def test_sigkill_at_random_moments_loses_nothing_complete(batch: int, tmp_path: Path) -> None:
    rng = random.Random(1000 + batch)
    home = tmp_path / "opi-home"
    work = tmp_path / "work"
    work.mkdir()
    (work / "file.txt").write_text("x\n")
    env = {**os.environ, "OPI_HOME": str(home), "PYTHONPATH": str(ROOT)}
    hit = 0
    with MockLLM(SCRIPT) as srv:
        args = ["--json", "--provider", "openai", "--api", "openai-completions", "--base-url", f"{srv.base_url}/v1",
                "--api-key", "x", "--model", "mock-model"]
        # calibrate on this machine, now: when does the session start, when does the run end?
        t0 = time.monotonic()
        cal = subprocess.Popen([sys.executable, "-m", "opi_cli", *args, "calibration"], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert cal.stdout is not None
        first = cal.stdout.readline()
        started = time.monotonic() - t0
        assert json.loads(first)["type"] == "session"
        n_events = 1 + len(cal.stdout.read().splitlines())
        assert cal.wait(timeout=120) == 0
        for k in range(KILLS_PER_BATCH):
            before = set(_files(home))
            proc = subprocess.Popen(
                [sys.executable, "-m", "opi_cli", *args, f"task {batch}-{k}"],
                cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            assert proc.stdout is not None
            # a few kills during start-up; most at a random point of progress (after a random
            # number of the run's own events), so the spread does not depend on machine load
            if k % 5 == 0:
                time.sleep(rng.uniform(0.0, started))
            else:
                for _ in range(rng.randrange(n_events)):
                    if not proc.stdout.readline():
                        break
                time.sleep(rng.uniform(0.0, 0.02))
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            proc.stdout.close()
            new = [p for p in _files(home) if p not in before]
            if not new:
                continue  # killed before the session existed: nothing to lose
            path = new[0]
            lines = _complete_lines(path)
            hit += any(b'"role":"assistant"' in ln for ln in lines)
            # every complete line is valid JSON (one record per line)
            for ln in lines:
                json.loads(ln)
            kept = asyncio.run(_reopen_and_append(path, home, f"after crash {k}"))
            assert kept >= 0
            after = path.read_bytes()
            assert after.endswith(b"\n")
            records = [json.loads(ln) for ln in after.split(b"\n") if ln.strip()]
            # nothing complete was lost, the append is the last record and stands alone
            assert len(records) == len(lines) + 1
            assert records[-1]["message"]["content"][0]["text"] == f"after crash {k}"
            assert [json.dumps(r, sort_keys=True) for r in records[:-1]] == [
                json.dumps(json.loads(ln), sort_keys=True) for ln in lines
            ]
            if k % 10 == 0:
                n_before = len(srv.requests)
                resumed = run_opi(["resume", str(path), "-p", *args[1:], "continue"], cwd=work,
                                  env={"OPI_HOME": str(home)})
                assert resumed.returncode == 0, resumed.stderr
                sent = json.dumps(srv.requests[n_before]["body"]["messages"])
                assert f"after crash {k}" in sent
                # the prompt is in the resumed context exactly when its line was complete on disk
                task_on_disk = any(f"task {batch}-{k}".encode() in ln for ln in lines)
                assert (f"task {batch}-{k}" in sent) == task_on_disk
    # the kills must land inside real runs, not only before the session existed
    assert hit >= KILLS_PER_BATCH // 4, f"only {hit} kills happened after an assistant message"
