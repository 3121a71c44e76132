"""Session commands end to end (issue 4): resume, continue, listing, doctor, pi files, errors."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from opi_cli.agent.messages import convert_to_llm
from opi_cli.ai.history import repair_history
from opi_cli.session.stores import JsonlStore
from opi_cli.session.writer import SessionWriter
from tests.conftest import ROOT, run_opi
from tests.mock_llm import MockLLM

EXAMPLES = ROOT / "sessions.example"
OK = {"responses": [{"steps": [{"text": "continued"}]}], "repeat_last": True}


def _args(srv: MockLLM, *extra: str) -> list[str]:
    return ["--provider", "openai", "--api", "openai-completions", "--base-url", f"{srv.base_url}/v1",
            "--api-key", "x", "--model", "m", *extra]


def _texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        c = m.get("content")
        text = c if isinstance(c, str) else "".join(p.get("text", "") for p in (c or []))
        out.append((m["role"], text))
    return out


async def _expected_context(path: Path) -> list[tuple[str, str]]:
    """What the session's own reader says the model should see (path → LLM messages)."""
    store = JsonlStore(path.parent)
    handle = await store.open(str(path), writable=False)
    try:
        writer = SessionWriter(store, handle, await handle.scan())
        ctx = await writer.context()
    finally:
        await handle.close()
    out = []
    for m in repair_history(convert_to_llm(list(ctx.messages))):
        role = {"toolResult": "tool"}.get(m.role, m.role)
        text = "".join(getattr(c, "text", "") for c in m.content)
        out.append((role, text))
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.jsonl")))
def test_resume_every_example_reproduces_its_context(name: str, tmp_path: Path, opi_home: Path) -> None:
    src = tmp_path / name
    shutil.copy(EXAMPLES / name, src)  # resume appends (or forks a pi v1 file): never touch the repo copy
    original = src.read_bytes()
    expected = asyncio.run(_expected_context(src))
    with MockLLM(OK) as srv:
        proc = run_opi(["resume", str(src), "-p", *_args(srv), "go on"], cwd=tmp_path)
        sent = srv.requests[0]["body"]["messages"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "continued\n"
    got = _texts(sent)
    assert got[0][0] == "system"
    assert got[-1] == ("user", "go on")
    assert got[1:-1] == expected
    assert len(expected) >= 2
    if name == "pi-v1.jsonl":
        assert src.read_bytes() == original  # a migrated pi file is never rewritten in place
        forks = list((opi_home / "sessions").rglob("*.jsonl"))
        assert forks and json.loads(forks[0].read_text().splitlines()[0])["parentSession"] == str(src)


def test_resume_by_id_prefix_continue_and_listing(workdir: Path, opi_home: Path) -> None:
    with MockLLM(OK) as srv:
        first = run_opi(["--json", *_args(srv), "remember the word PELICAN"], cwd=workdir)
        assert first.returncode == 0, first.stderr
        sid = json.loads(first.stdout.splitlines()[0])["id"]
        by_id = run_opi(["resume", sid[:6], "-p", *_args(srv), "what word?"], cwd=workdir)
        assert by_id.returncode == 0, by_id.stderr
        assert "PELICAN" in json.dumps(srv.requests[-1]["body"]["messages"])
        cont = run_opi(["-c", "-p", *_args(srv), "and again?"], cwd=workdir)
        assert cont.returncode == 0, cont.stderr
        body = json.dumps(srv.requests[-1]["body"]["messages"])
        assert "PELICAN" in body and "what word?" in body
    files = list((opi_home / "sessions").glob("*/*.jsonl"))
    assert len(files) == 1
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert oct(files[0].parent.stat().st_mode & 0o777) == "0o700"
    listing = run_opi(["sessions", "--json"], cwd=workdir)
    rows = [json.loads(x) for x in listing.stdout.splitlines()]
    assert [r["id"] for r in rows] == [sid] and rows[0]["messageCount"] == 6
    assert rows[0]["firstMessage"].startswith("remember the word PELICAN")
    table = run_opi(["sessions"], cwd=workdir)
    assert sid[:8] in table.stdout and "remember the word" in table.stdout
    elsewhere = run_opi(["sessions"], cwd=workdir.parent)
    assert sid[:8] not in elsewhere.stdout
    assert sid[:8] in run_opi(["sessions", "--all"], cwd=workdir.parent).stdout


def test_resume_unknown_session_exits_2(workdir: Path) -> None:
    proc = run_opi(["resume", "deadbeef", "-p", "--provider", "openai", "--api-key", "x", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "deadbeef" in proc.stderr and proc.stderr.count("\n") == 1


def test_corrupt_header_is_refused_and_untouched(workdir: Path) -> None:
    bad = workdir / "broken.jsonl"
    bad.write_bytes(b'{"type":"sess\n{"type":"message","id":"aaaaaaaa","parentId":null}\n')
    before = bad.read_bytes()
    proc = run_opi(["resume", str(bad), "-p", "--provider", "openai", "--api-key", "x", "hi"], cwd=workdir)
    assert proc.returncode == 2
    assert "doctor" in proc.stderr
    assert bad.read_bytes() == before
    doc = run_opi(["sessions", "doctor", str(bad)], cwd=workdir)
    assert doc.returncode == 1 and "header" in doc.stdout


def test_doctor_repairs_a_torn_tail(tmp_path: Path) -> None:
    src = tmp_path / "s.jsonl"
    shutil.copy(EXAMPLES / "plain-chat.jsonl", src)
    with src.open("ab") as f:
        f.write(b'{"type":"message","id":"torn0000","parentId":')
    check = run_opi(["sessions", "doctor", str(src)], cwd=tmp_path)
    assert check.returncode == 1 and "torn" in check.stdout
    fixed = run_opi(["sessions", "doctor", str(src), "--repair"], cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert (tmp_path / "s.jsonl.bak").exists()
    assert run_opi(["sessions", "doctor", str(src)], cwd=tmp_path).returncode == 0


def test_export_html_and_markdown(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    shutil.copy(EXAMPLES / "tool-run.jsonl", src)
    html = run_opi(["export", str(src), str(tmp_path / "out.html")], cwd=tmp_path)
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "out.html").read_text()
    assert page.startswith("<!DOCTYPE html") or page.lower().startswith("<!doctype html")
    assert "<details" in page and "http" not in page.split("<body", 1)[0].replace("http-equiv", "")
    md = run_opi(["export", str(src), str(tmp_path / "out.md")], cwd=tmp_path)
    assert md.returncode == 0 and (tmp_path / "out.md").read_text().startswith("#")


async def test_store_failure_mid_run_emits_persistence_error_and_run_goes_on() -> None:
    from opi_cli.agent.agent import Agent, AgentOptions
    from opi_cli.agent.events import AgentEvent
    from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, faux_model
    from opi_cli.errors import PersistenceError
    from opi_cli.session.agent_session import AgentSession
    from opi_cli.session.stores import MemoryStore

    store = MemoryStore()
    writer = await SessionWriter.create(store, cwd="/tmp")
    agent = Agent(AgentOptions(model=faux_model(), provider=FauxProvider([FauxResponse(text="still here")])))
    session = await AgentSession.start(agent, writer, record_settings=True)
    events: list[AgentEvent] = []
    session.subscribe(events.append)

    async def disk_full(*_: Any) -> Any:
        raise PersistenceError("No space left on device")

    writer.append_message = disk_full  # type: ignore[method-assign]
    await session.prompt("hello")
    errors = [e for e in events if e.type == "persistence_error"]
    assert len(errors) == 1 and "No space left on device" in errors[0].to_json()["message"]
    assert agent.messages[-1].text == "still here"  # type: ignore[union-attr]
    await session.close()
    await store.close()


def test_unwritable_session_dir_reports_persistence_error(workdir: Path, opi_home: Path) -> None:
    """A session directory that is a file: the store cannot create the session, the user is told."""
    blocker = workdir / "not-a-dir"
    blocker.write_text("x")
    with MockLLM(OK) as srv:
        proc = run_opi(["--json", *_args(srv, "--session-dir", str(blocker / "sub")), "hi"], cwd=workdir)
    assert proc.returncode != 0 or "persistence_error" in proc.stdout
    assert "not-a-dir" in proc.stderr + proc.stdout
