"""File snapshots, /undo and /rewind on a real JSONL session, across a resume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.rewind import rewind_points, rewind_to, undo_last_turn
from opi_cli.session.snapshots import SNAPSHOT_TYPE, MemoryBlobStore, SnapshotRecorder, blob_store_for
from opi_cli.session.stores import JsonlStore
from opi_cli.session.writer import SessionWriter
from opi_cli.tools import create_builtin_tools
from opi_cli.tools.paths import changed_paths

ORIGINAL = b"\xef\xbb\xbfline one\r\nline two\xff\r\nno newline at end"


def edit(call_id: str, path: str, old: str, new: str) -> FauxToolCall:
    return FauxToolCall("edit", {"path": path, "oldText": old, "newText": new}, call_id)


def write(call_id: str, path: str, content: str) -> FauxToolCall:
    return FauxToolCall("write", {"path": path, "content": content}, call_id)


async def open_session(store: JsonlStore, proj: Path, responses: list[Any], ref: str | None = None) -> AgentSession:
    tools = create_builtin_tools(str(proj), edit_needs_read=False)  # no read tool here
    recorder = SnapshotRecorder(lambda t, a: changed_paths(t, a, str(proj)), MemoryBlobStore())
    agent = Agent(AgentOptions(model=faux_model(), provider=FauxProvider(responses),
                               tools=[tools["edit"], tools["write"]], hooks=recorder.hooks()))
    if ref is None:
        writer = await SessionWriter.create(store, cwd=str(proj))
    else:
        writer = await SessionWriter.open(store, ref, cwd=str(proj))
        agent.replace_messages((await writer.context()).messages)
    session = await AgentSession.start(agent, writer, record_settings=ref is None)
    recorder.attach(session)
    return session


def two_turns() -> list[FauxResponse]:
    return [
        FauxResponse(tool_calls=[edit("e1", "a.txt", "line one", "line ONE"), write("w1", "b.txt", "new b\n")]),
        FauxResponse(text="first done"),
        FauxResponse(tool_calls=[edit("e2", "a.txt", "line ONE", "line 1"), write("w2", "sub/c.txt", "c\n"),
                                 write("w3", "b.txt", "b again\n")]),
        FauxResponse(tool_calls=[edit("e3", "a.txt", "line 1", "line I")]),  # second change, same turn
        FauxResponse(text="second done"),
    ]


async def test_undo_after_a_resume_restores_each_turn_byte_for_byte(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "a.txt").write_bytes(ORIGINAL)
    os.chmod(proj / "a.txt", 0o754)
    store = JsonlStore(tmp_path / "sessions")
    session = await open_session(store, proj, two_turns())
    await session.prompt("first")
    after_first = (proj / "a.txt").read_bytes()
    assert b"line ONE" in after_first
    await session.prompt("second")
    assert (proj / "a.txt").read_bytes().startswith(b"\xef\xbb\xbfline I")
    path = session.session_file
    assert path is not None
    await session.close()

    lines = [json.loads(x) for x in Path(path).read_text().splitlines()]
    snaps = [x for x in lines if x.get("type") == "custom" and x.get("customType") == SNAPSHOT_TYPE]
    # one per file per turn: a.txt twice (one per turn), b.txt twice, sub/c.txt once
    assert sorted(os.path.basename(s["data"]["path"]) for s in snaps) == ["a.txt", "a.txt", "b.txt", "b.txt", "c.txt"]
    assert all(isinstance(s["id"], str) and "parentId" in s for s in snaps)
    blobs = Path(path).parent / "file-snapshots"
    assert (blobs / snaps[0]["data"]["before"]).read_bytes() == ORIGINAL
    assert oct(os.stat(blobs / snaps[0]["data"]["before"]).st_mode & 0o777) == "0o600"

    resumed = await open_session(store, proj, [], ref=path)
    store_blobs = blob_store_for(resumed.session_file, MemoryBlobStore())
    point, report = await undo_last_turn(resumed, store_blobs)
    assert point is not None and point.text == "second"
    assert (proj / "a.txt").read_bytes() == after_first
    assert not (proj / "sub" / "c.txt").exists()
    assert (proj / "b.txt").read_text() == "new b\n"
    assert sorted(os.path.basename(p) for p in report.restored) == ["a.txt", "b.txt"]
    assert [os.path.basename(p) for p in report.deleted] == ["c.txt"]

    point, report = await undo_last_turn(resumed, store_blobs)
    assert point is not None and point.text == "first"
    assert (proj / "a.txt").read_bytes() == ORIGINAL
    assert oct(os.stat(proj / "a.txt").st_mode & 0o777) == "0o754"
    assert not (proj / "b.txt").exists()
    point, report = await undo_last_turn(resumed, store_blobs)
    assert point is None and report.count == 0
    await resumed.close()


async def test_rewind_restores_files_conversation_or_both(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "a.txt").write_bytes(ORIGINAL)
    store = JsonlStore(tmp_path / "sessions")
    session = await open_session(store, proj, two_turns())
    await session.prompt("first")
    await session.prompt("second")
    path = session.session_file
    assert path is not None
    await session.close()

    resumed = await open_session(store, proj, [], ref=path)
    blobs = blob_store_for(resumed.session_file, MemoryBlobStore())
    points = await rewind_points(resumed)
    assert [p.text for p in points] == ["first", "second"]
    assert sorted(os.path.basename(f) for f in points[0].files) == ["a.txt", "b.txt", "c.txt"]
    messages_before = len(resumed.agent.messages)

    # files only: the conversation stays
    await rewind_to(resumed, points[0].entry_id, blobs, conversation=False, files=True)
    assert (proj / "a.txt").read_bytes() == ORIGINAL
    assert not (proj / "b.txt").exists() and not (proj / "sub" / "c.txt").exists()
    assert len(resumed.agent.messages) == messages_before

    # conversation only: files stay as they are now, the context ends before "second"
    (proj / "a.txt").write_bytes(b"edited by hand")
    await rewind_to(resumed, points[1].entry_id, blobs, conversation=True, files=False)
    assert (proj / "a.txt").read_bytes() == b"edited by hand"
    texts = [getattr(m, "text", None) or "" for m in resumed.agent.messages]
    assert "first done" in texts[-1] and all("second" not in t for t in texts)
    await resumed.close()

    # the hand edit overwritten by a later restore is kept in the blob store
    again = await open_session(store, proj, [], ref=path)
    report = await rewind_to(again, (await rewind_points(again))[0].entry_id, blobs, conversation=True, files=True)
    assert (proj / "a.txt").read_bytes() == ORIGINAL and report.restored
    kept = [json.loads(x) for x in Path(path).read_text().splitlines() if "opi.files_restored" in x][-1]
    digest = kept["data"]["files"][0]["before"]
    assert await blobs.get(digest) == b"edited by hand"
    assert [m.role for m in again.agent.messages] == []
    await again.close()


async def test_a_failing_edit_still_records_a_harmless_snapshot_and_no_file_appears(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    store = JsonlStore(tmp_path / "sessions")
    session = await open_session(store, proj, [
        FauxResponse(tool_calls=[edit("e1", "missing.txt", "a", "b")]), FauxResponse(text="could not"),
    ])
    await session.prompt("edit a missing file")
    point, report = await undo_last_turn(session, blob_store_for(session.session_file, MemoryBlobStore()))
    assert point is not None and report.count == 0 and not report.failed
    assert not (proj / "missing.txt").exists()
    await session.close()


async def test_undo_writes_through_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "real.txt").write_text("before\n")
    os.symlink("real.txt", proj / "link.txt")
    store = JsonlStore(tmp_path / "sessions")
    session = await open_session(store, proj, [
        FauxResponse(tool_calls=[edit("e1", "link.txt", "before", "after")]), FauxResponse(text="ok"),
    ])
    await session.prompt("change it")
    assert (proj / "real.txt").read_text() == "after\n"
    await undo_last_turn(session, blob_store_for(session.session_file, MemoryBlobStore()))
    assert os.path.islink(proj / "link.txt") and (proj / "real.txt").read_text() == "before\n"
    await session.close()
