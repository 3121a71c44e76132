"""A new session file is made durable without holding up the start: its fsyncs run while the session
starts, and every sync (and the close) waits for them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from opi_cli.errors import PersistenceError
from opi_cli.session import JsonlStore, SessionWriter
from opi_cli.session.stores import jsonl

from .builders import assistant, user


async def test_creation_returns_before_the_disk_and_close_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = threading.Event()  # the disk answers only when the test says so
    synced: list[str] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        disk.wait(timeout=60)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(jsonl.os, "fsync", slow_fsync)
    store = JsonlStore(tmp_path / "sessions")
    writer = await SessionWriter.create(store, cwd="/home/u/proj")  # returns while the fsync waits
    await writer.append_message(user("q"))
    await writer.append_message(assistant("a"))
    path = writer.handle.path
    assert path is not None and synced == []
    assert path.read_bytes().count(b"\n") == 3  # header and both entries are in the file already
    disk.set()
    await writer.close()
    folder = str(path.parent)
    assert synced[:2] == [str(path), folder]  # the header, then its name in the folder
    assert synced[-1] == str(path)  # and the close's own fsync of everything appended


async def test_a_failed_creation_fsync_is_reported_by_the_next_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(jsonl.os, "fsync", failing_fsync)
    writer = await SessionWriter.create(JsonlStore(tmp_path / "sessions"), cwd="/home/u/proj")
    with pytest.raises(PersistenceError, match="Input/output error"):
        await writer.sync()
    monkeypatch.undo()
    await writer.close()
