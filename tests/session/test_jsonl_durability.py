"""The JSONL store's promises: naming and modes, torn tails, refused headers, the lock, streaming."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opi_cli.ai.types import UserMessage
from opi_cli.errors import SessionError
from opi_cli.session import JsonlStore, SessionWriter
from opi_cli.session.entries import parse_entry_line
from opi_cli.session.stores.jsonl import session_dir_name, session_file_name

from .builders import assistant, user

ROOT = Path(__file__).resolve().parents[2]


async def _session(tmp_path: Path, n: int = 2) -> tuple[JsonlStore, Path, str]:
    store = JsonlStore(tmp_path / "sessions")
    w = await SessionWriter.create(store, cwd="/home/u/proj")
    for i in range(n):
        await w.append_message(user(f"q{i}"))
        await w.append_message(assistant(f"a{i}"))
    await w.close()
    assert w.handle.path is not None
    return store, w.handle.path, w.session_id


def test_folder_and_file_names_follow_pi() -> None:
    assert session_dir_name("/home/u/project") == "--home-u-project--"
    assert session_dir_name("C:\\Users\\me") == "--C--Users-me--"
    from opi_cli.session.entries import SessionHeader

    h = SessionHeader("73222806-66ee-4022-a994-4a13e847f25c", "2026-11-21T09:29:51.762Z", "/x")
    assert session_file_name(h) == "2026-11-21T09-29-51-762Z_73222806-66ee-4022-a994-4a13e847f25c.jsonl"


async def test_header_written_at_once_with_private_modes(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "sessions")
    w = await SessionWriter.create(store, cwd="/home/u/proj")
    path = w.handle.path
    assert path is not None and path.parent.name == "--home-u-proj--"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().count(b"\n") == 1  # no lazy creation: the header is there already
    await w.append_message(user("prompt"))
    # on disk (not buffered in the process) before any request would be sent
    assert b"prompt" in path.read_bytes()
    await w.close()
    assert not Path(f"{path}.lock").exists()


async def test_torn_tail_is_cut_saved_and_never_glued(tmp_path: Path) -> None:
    store, path, sid = await _session(tmp_path)
    good = path.read_bytes()
    torn = b'{"type":"message","id":"deadbeef","parentId":"x","timestamp":"t","message":{"role":"us'
    path.write_bytes(good + torn)

    w = await SessionWriter.open(store, sid)
    assert w.damaged == 1 and w.index.torn_tail
    ctx = await w.context()
    assert len(ctx.messages) == 4
    await w.append_message(user("after crash"))
    await w.close()

    data = path.read_bytes()
    assert data.startswith(good) and torn not in data
    assert Path(f"{path}.torn").read_bytes() == torn + b"\n"
    assert all(not isinstance(parse_entry_line(line), Exception) for line in data.splitlines()[1:])
    w2 = await SessionWriter.open(store, sid)
    assert w2.damaged == 0
    texts = [m.content[0].text for m in (await w2.context()).messages if isinstance(m, UserMessage)]  # type: ignore[union-attr]
    assert texts == ["q0", "q1", "after crash"]  # history intact, the new entry hangs on the last good one
    await w2.close()


async def test_complete_last_line_missing_only_newline_is_kept(tmp_path: Path) -> None:
    store, path, sid = await _session(tmp_path, 1)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    w = await SessionWriter.open(store, sid)
    assert w.damaged == 0 and len((await w.context()).messages) == 2
    await w.append_message(user("next"))
    await w.close()
    assert len(path.read_bytes().splitlines()) == 4 and not Path(f"{path}.torn").exists()


@pytest.mark.parametrize(
    "first_line",
    [b"", b"garbage\n", b'{"type":"session"}\n', b'{"type":"message","id":"x","parentId":null}\n',
     b'{"type":"session","id":"x","version":"3"}\n'],
)  # fmt: skip
async def test_corrupt_header_is_refused_and_file_untouched(tmp_path: Path, first_line: bytes) -> None:
    store, path, _ = await _session(tmp_path, 1)
    rest = path.read_bytes().split(b"\n", 1)[1]
    path.write_bytes(first_line + rest)
    before = path.read_bytes()
    with pytest.raises(SessionError) as info:
        await SessionWriter.open(store, str(path))
    assert (
        str(path) in str(info.value)
        and "opi sessions doctor" in str(info.value)
        and "--repair" in str(info.value)
    )
    assert info.value.exit_code == 2
    assert path.read_bytes() == before
    assert not Path(f"{path}.lock").exists()


async def test_lock_contention_between_processes(tmp_path: Path) -> None:
    store, path, sid = await _session(tmp_path, 1)
    w = await SessionWriter.open(store, sid)
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from opi_cli.errors import SessionError
        from opi_cli.session import JsonlStore, SessionWriter
        async def main():
            try:
                w = await SessionWriter.open(JsonlStore(Path({str(tmp_path / "sessions")!r})), {str(path)!r})
            except SessionError as e:
                print("REFUSED", e)
                return
            await w.close()
            print("OPENED")
        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert run.stdout.startswith("REFUSED"), run.stderr
    assert f"in use by another opi process (pid {os.getpid()})" in run.stdout
    await w.close()
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert run.stdout.strip() == "OPENED", run.stderr


async def test_load_reads_only_the_kept_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = JsonlStore(tmp_path / "sessions")
    w = await SessionWriter.create(store, cwd="/w")
    for i in range(200):
        await w.append_message(user(f"old {i} " + "x" * 500))
        await w.append_message(assistant(f"old answer {i}"))
    kept = await w.append_message(user("kept"))
    await w.append_compaction("summary", kept.id, 99)
    await w.append_message(assistant("after"))
    sid = w.session_id
    await w.close()

    read_counts: list[int] = []
    from opi_cli.session.stores import jsonl

    original = jsonl.JsonlHandle._read_sync

    def counting(self: jsonl.JsonlHandle, locators: list[int], keep_shape: bool = True) -> object:
        read_counts.append(len(locators))
        return original(self, locators, keep_shape)

    monkeypatch.setattr(jsonl.JsonlHandle, "_read_sync", counting)
    w2 = await SessionWriter.open(store, sid)
    ctx = await w2.context()
    assert len(ctx.messages) == 3
    assert sum(read_counts) <= 4  # compaction, kept, after, (latest assistant) — not 400 old lines
    assert w2.partial and len(w2.tree) == 3  # the index holds no more than that either
    assert not w2.index.cache  # and no stored entry stays parsed after the context is built
    await w2.close()


async def test_blank_and_garbage_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    store, path, sid = await _session(tmp_path, 2)
    lines = path.read_bytes().split(b"\n")
    lines.insert(2, b"")
    lines.insert(3, b"{not json")
    lines.insert(4, b'{"no":"type"}')
    path.write_bytes(b"\n".join(lines))
    w = await SessionWriter.open(store, sid)
    assert w.damaged == 2
    assert len((await w.context()).messages) == 4
    await w.close()
