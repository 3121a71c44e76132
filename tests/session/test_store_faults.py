"""Issue 11: session folders are private, a failed write leaves no torn line, doctor refuses non-sessions."""

from __future__ import annotations

import json
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from opi_cli.errors import SessionError
from opi_cli.session import JsonlStore, SessionWriter, check, repair
from tests.conftest import ROOT
from tests.faults import full_disk_run

from .builders import user


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_opi_home_sessions_and_cwd_folders_are_created_private(tmp_path: Path) -> None:
    home = tmp_path / "opi-home"
    w = await SessionWriter.create(JsonlStore(home / "sessions"), cwd="/home/u/proj")
    path = w.handle.path
    await w.close()
    assert path is not None
    assert [_mode(p) for p in (home, home / "sessions", path.parent)] == [0o700, 0o700, 0o700]
    assert _mode(path) == 0o600


async def test_loose_sessions_folder_is_tightened_but_a_chosen_session_dir_is_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "opi-home"
    (home / "sessions").mkdir(parents=True)
    (home / "sessions").chmod(0o755)
    w = await SessionWriter.create(JsonlStore(home / "sessions"), cwd="/p")
    await w.close()
    assert _mode(home / "sessions") == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    w = await SessionWriter.create(JsonlStore(home / "sessions", session_dir=shared), cwd="/p")
    await w.close()
    assert _mode(shared) == 0o1777  # the user's folder (think /tmp): never chmod-ed
    fresh = tmp_path / "new" / "dir"
    w = await SessionWriter.create(JsonlStore(home / "sessions", session_dir=fresh), cwd="/p")
    await w.close()
    assert _mode(fresh) == 0o700 and _mode(fresh.parent) == 0o700


async def test_session_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SessionError) as info:
        await SessionWriter.create(JsonlStore(tmp_path, session_dir=blocker / "sub"), cwd="/p")
    assert str(info.value) == f"cannot create session folder {blocker / 'sub'}: Not a directory"
    with pytest.raises(SessionError, match=f"session folder {blocker} is a file"):
        await SessionWriter.create(JsonlStore(tmp_path, session_dir=blocker), cwd="/p")


_APPEND_ON_FULL_DISK = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from opi_cli.ai.types import TextContent, UserMessage
    from opi_cli.errors import PersistenceError
    from opi_cli.session import JsonlStore, SessionWriter
    def msg(text):
        return UserMessage((TextContent(text),), 0)
    async def main():
        w = await SessionWriter.create(JsonlStore(Path(sys.argv[1]), session_dir=Path(sys.argv[1])), cwd="/p")
        out = {"file": str(w.handle.path)}
        await w.append_message(msg("small before"))
        try:
            await w.append_message(msg("B" * 9000))
        except PersistenceError as exc:
            out["error"] = str(exc)
        await w.append_message(msg("small after"))
        await w.close()
        print(json.dumps(out))
    asyncio.run(main())
    """
)


def test_a_write_that_fails_midway_is_cut_back_not_left_torn(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = full_disk_run(
        [sys.executable, "-c", _APPEND_ON_FULL_DISK, str(disk)], disk, free=8192, cwd=tmp_path,  # a page for the lock, one for the file
        env={"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    session = Path(out["file"])
    assert out["error"].startswith(f"cannot write session file {session}: ")
    data = session.read_bytes()
    assert data.endswith(b"\n")
    texts = [json.loads(line).get("message", {}).get("content", [{}])[0].get("text") for line in data.splitlines()]
    assert texts == [None, "small before", "small after"]  # the header, then both small entries whole
    report = check(session)
    # no damaged line; "small after" names the refused entry as its parent, and loading
    # re-attaches it to "small before" (promise 5)
    assert not report.damaged and not report.torn_tail and len(report.orphans) == 1
    assert not Path(f"{session}.torn").exists()


def test_doctor_refuses_files_that_are_not_sessions(tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    original = b'{"name": "my package", "version": "1.0"}\nplain text\n'
    notes.write_bytes(original)
    report = check(notes)
    assert not report.is_session and not report.ok
    with pytest.raises(SessionError) as info:
        repair(notes)
    assert str(info.value) == (
        f"{notes} is not a session file (no session header and no session entries); nothing was changed."
    )
    assert notes.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.jsonl"]
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(SessionError, match="is not a session file"):
        repair(empty)
    assert empty.read_bytes() == b""


async def test_doctor_still_repairs_a_session_with_a_lost_header(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path)
    w = await SessionWriter.create(store, cwd="/p")
    await w.append_message(user("keep me"))
    await w.close()
    path = w.handle.path
    assert path is not None
    path.write_bytes(b"garbage\n" + path.read_bytes().split(b"\n", 1)[1])
    assert check(path).is_session
    repair(path)
    assert check(path).ok
