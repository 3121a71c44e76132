"""Issue 11, "Tools on hostile files": devices, FIFOs, sockets, huge files, full disks, files changed behind the model."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opi_cli.agent.tool import Tool
from opi_cli.sdk.tools import create_coding_tools
from opi_cli.tools import LocalFileOps, create_builtin_tools
from opi_cli.tools.truncate import DEFAULT_MAX_BYTES, format_size, truncate_head, utf8_len
from tests.conftest import ROOT, run_opi
from tests.faults import full_disk_run
from tests.mock_llm import MockLLM
from tests.tools.conftest import run
from tests.tools.fakes import MemoryFileOps

# -- read: devices, FIFOs, sockets, huge files ------------------------------------------------

_HOSTILE_READ = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
    from opi_cli._util.abort import AbortSignal
    from opi_cli.tools import create_builtin_tools
    async def main():
        read = create_builtin_tools(sys.argv[2], use_external_search=False)["read"]
        out = []
        for args in json.loads(sys.argv[3]):
            r = await read.execute("c", args, AbortSignal(), None)
            out.append({"error": r.is_error, "text": r.text})
        # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
        peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(json.dumps({"results": out, "peak_kb": peak}))
    asyncio.run(main())
    """
)


def _read_in_child(cwd: Path, calls: list[dict[str, object]], *, address_space: int) -> dict[str, object]:
    """Run the real read tool in a child process whose address space is capped; a hang or a blow-up fails."""
    proc = subprocess.run(
        [sys.executable, "-c", _HOSTILE_READ, str(address_space), str(cwd), json.dumps(calls)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_read_refuses_devices_fifos_and_sockets(cwd: Path) -> None:
    os.mkfifo(cwd / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(cwd / "sock"))
    try:
        out = _read_in_child(
            cwd,
            [{"path": "/dev/zero"}, {"path": "pipe"}, {"path": "sock"}, {"path": "/dev/null", "limit": 3}],
            address_space=1 << 30,
        )
    finally:
        sock.close()
    zero, pipe, sock_result, null = out["results"]  # type: ignore[misc]
    assert zero == {"error": True, "text": "Cannot read /dev/zero: it is a character device, not a regular file."}
    assert pipe == {"error": True, "text": "Cannot read pipe: it is a FIFO (named pipe), not a regular file."}
    assert sock_result == {"error": True, "text": "Cannot read sock: it is a socket, not a regular file."}
    assert null["error"] and "character device" in null["text"]  # type: ignore[index]


def test_read_of_a_2gb_file_with_limit_keeps_memory_bounded(cwd: Path) -> None:
    big = cwd / "big.log"
    with big.open("wb") as f:
        f.write("".join(f"line {i}\n" for i in range(1, 2001)).encode())
        f.truncate(2 << 30)  # sparse: 2 GB without using the disk
        f.seek(0, os.SEEK_END)
        f.write(b"\nthe end\n")
    out = _read_in_child(
        cwd,
        [{"path": "big.log", "limit": 3}, {"path": "big.log", "offset": 1999, "limit": 2}, {"path": "big.log"}],
        address_space=768 << 20,  # the file is 2 GB; reading it whole cannot fit
    )
    first, second, whole = out["results"]  # type: ignore[misc]
    assert first == {"error": False, "text": "line 1\nline 2\nline 3\n\n[More lines in file (2048.0MB). Use offset=4 to continue.]"}
    assert second["text"].startswith("line 1999\nline 2000\n\n[More lines")  # type: ignore[index]
    assert whole["text"].endswith("[Showing lines 1-2000 of 2048.0MB file. Use offset=2001 to continue.]")  # type: ignore[index]
    assert out["peak_kb"] < 256 * 1024  # type: ignore[operator]


def _reference_read(text: str, offset: int | None, limit: int | None) -> tuple[bool, str, object]:
    """The read tool's output as computed before streaming (the whole file in memory)."""
    lines = text.split("\n")
    total = len(lines)
    start = max(0, offset - 1) if offset else 0
    if start >= total:
        return True, f"Offset {offset} is beyond end of file ({total} lines total)", None
    first = start + 1
    end = min(start + max(limit, 0), total) if limit is not None else total
    tr = truncate_head("\n".join(lines[start:end]))
    details = {"truncation": tr.to_json()}
    if tr.first_line_exceeds_limit:
        size = format_size(utf8_len(lines[start]))
        return False, (f"[Line {first} is {size}, exceeds {format_size(DEFAULT_MAX_BYTES)} limit. "
                       f"Use bash: sed -n '{first}p' f.txt | head -c {DEFAULT_MAX_BYTES}]"), details
    if tr.truncated:
        last = first + tr.output_lines - 1
        note = "" if tr.truncated_by == "lines" else f" ({format_size(DEFAULT_MAX_BYTES)} limit)"
        return False, tr.content + f"\n\n[Showing lines {first}-{last} of {total}{note}. Use offset={last + 1} to continue.]", details
    if limit is not None and end < total:
        return False, tr.content + f"\n\n[{total - end} more lines in file. Use offset={end + 1} to continue.]", None
    return False, tr.content, None


_SHORT = st.text(alphabet="ab\u00e9\u20ac\U0001f600 \udcff", max_size=30)


@given(
    lines=st.lists(_SHORT, min_size=1, max_size=30),
    repeat=st.sampled_from([1, 2, 3, 66, 67, 100, 2000, 2001]),
    big=st.one_of(st.none(), st.tuples(st.integers(0, 3000), st.integers(0, 60000))),
    offset=st.one_of(st.none(), st.integers(-2, 2800)),
    limit=st.one_of(st.none(), st.integers(-1, 2800)),
)
@example(lines=["x"], repeat=2000, big=None, offset=None, limit=None)
@example(lines=["x"], repeat=2001, big=None, offset=None, limit=None)
@example(lines=["x", ""], repeat=1000, big=None, offset=None, limit=None)
@example(lines=["x" * 99], repeat=600, big=None, offset=None, limit=None)
@example(lines=["\u20ac" * 17066], repeat=1, big=None, offset=None, limit=None)
@example(lines=["\u20ac" * 17067], repeat=1, big=None, offset=None, limit=None)
@example(lines=["a", ""], repeat=1, big=None, offset=2, limit=0)
@example(lines=["a", ""], repeat=1, big=None, offset=3, limit=1)
def test_streaming_read_matches_whole_file_read(
    lines: list[str], repeat: int, big: tuple[int, int] | None, offset: int | None, limit: int | None
) -> None:
    all_lines = (lines * (repeat // len(lines) + 1))[: max(repeat, len(lines))]
    if big is not None:
        all_lines.insert(min(big[0], len(all_lines)), "x" * big[1])
    raw = "\n".join(all_lines).encode("utf-8", "surrogateescape")  # \udcff: an invalid byte
    text = raw.decode("utf-8", "replace")
    ops = MemoryFileOps({"/w/f.txt": raw})
    read = create_builtin_tools("/w", file_ops=ops, use_external_search=False)["read"]
    args: dict[str, object] = {"path": "f.txt"}
    if offset is not None:
        args["offset"] = offset
    if limit is not None:
        args["limit"] = limit
    result = asyncio.run(run(read, args))  # type: ignore[arg-type]
    assert (result.is_error, result.text, result.details) == _reference_read(text, offset, limit)


async def test_invalid_utf8_is_replaced_like_before(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "bad.txt").write_bytes(b"ok\n\xff\xfe tail\n\xe2\x82")
    result = await run(tools["read"], {"path": "bad.txt"})
    assert result.text == "ok\n\ufffd\ufffd tail\n\ufffd"


# -- write / edit: atomic replacement -------------------------------------------------------------


async def _read_then_edit(tools: dict[str, Tool], path: str, old: str, new: str) -> tuple[bool, str]:
    await run(tools["read"], {"path": path})
    result = await run(tools["edit"], {"path": path, "oldText": old, "newText": new})
    return result.is_error, result.text


async def test_write_and_edit_keep_mode_owner_and_symlinks(tools: dict[str, Tool], cwd: Path) -> None:
    target = cwd / "script.sh"
    target.write_text("echo one\n")
    target.chmod(0o751)
    if os.geteuid() == 0:
        os.chown(target, 4321, 8765)
    link = cwd / "link.sh"
    link.symlink_to(target)
    assert await _read_then_edit(tools, "link.sh", "one", "two") == (False, "Successfully replaced text in link.sh.")
    await run(tools["write"], {"path": "link.sh", "content": "echo three\n"})
    assert link.is_symlink() and target.read_text() == "echo three\n"
    info = target.stat()
    assert stat.S_IMODE(info.st_mode) == 0o751
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4321, 8765)
    assert sorted(p.name for p in cwd.iterdir()) == ["link.sh", "script.sh"]  # no temp file left


async def test_new_file_mode_follows_umask(tools: dict[str, Tool], cwd: Path) -> None:
    old = os.umask(0o027)
    try:
        await run(tools["write"], {"path": "fresh.txt", "content": "x"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((cwd / "fresh.txt").stat().st_mode) == 0o640


_TOOL_ON_FULL_DISK = textwrap.dedent(
    """
    import asyncio, json, sys
    from opi_cli._util.abort import AbortSignal
    from opi_cli.tools import create_builtin_tools
    async def main():
        tools = create_builtin_tools(sys.argv[1], use_external_search=False)
        read = await tools["read"].execute("r", {"path": "data.txt", "limit": 1}, AbortSignal(), None)
        edit = await tools["edit"].execute(
            "e", {"path": "data.txt", "oldText": "first line", "newText": "b" * 30000}, AbortSignal(), None)
        write = await tools["write"].execute("w", {"path": "data.txt", "content": "c" * 60000}, AbortSignal(), None)
        print(json.dumps([read.is_error, edit.is_error, edit.text, write.is_error, write.text]))
    asyncio.run(main())
    """
)


def test_write_and_edit_on_a_full_disk_leave_the_original_intact(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    original = "first line\n" + ("a" * 99 + "\n") * 199 + "a" * 88 + "\n"  # 20,000 bytes
    (disk / "data.txt").write_text(original)
    proc = full_disk_run(
        [sys.executable, "-c", _TOOL_ON_FULL_DISK, str(disk)], disk, free=24 * 1024, cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    read_error, edit_error, edit_text, write_error, write_text = json.loads(proc.stdout)
    assert not read_error
    assert edit_error and edit_text.startswith("Cannot write data.txt: ")
    assert write_error and write_text.startswith("Cannot write data.txt: ")
    assert (disk / "data.txt").read_text() == original
    assert sorted(p.name for p in disk.iterdir() if p.name != ".filler") == ["data.txt"]


# -- edit: the file must be what the model saw ------------------------------------------------


async def test_edit_refuses_a_file_changed_since_it_was_read(tools: dict[str, Tool], cwd: Path) -> None:
    f = cwd / "conf.py"
    f.write_text("x = 1\ny = 2\n")
    await run(tools["read"], {"path": "conf.py"})
    f.write_text("x = 1\ny = 2\nz = 3  # the user's change\n")
    result = await run(tools["edit"], {"path": "conf.py", "oldText": "x = 1", "newText": "x = 10"})
    assert result.is_error
    assert result.text.startswith("conf.py changed on disk since you last read it (size 12 -> 39 bytes")
    assert result.text.endswith("Read it again before editing.")
    assert "the user's change" in f.read_text() and "x = 10" not in f.read_text()
    await run(tools["read"], {"path": "conf.py", "limit": 1})  # reading again (even part of it) is enough
    again = await run(tools["edit"], {"path": "conf.py", "oldText": "x = 1", "newText": "x = 10"})
    assert not again.is_error and f.read_text().startswith("x = 10\n")


async def test_edit_refuses_a_file_touched_with_the_same_size(tools: dict[str, Tool], cwd: Path) -> None:
    f = cwd / "same.txt"
    f.write_text("abc\n")
    await run(tools["read"], {"path": "same.txt"})
    f.write_text("abd\n")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 5_000_000_000))
    result = await run(tools["edit"], {"path": "same.txt", "oldText": "ab", "newText": "xy"})
    assert result.is_error and "changed on disk since you last read it (modified at" in result.text


async def test_edit_needs_a_read_first_but_own_writes_and_edits_count(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "unseen.txt").write_text("hello\n")
    result = await run(tools["edit"], {"path": "unseen.txt", "oldText": "hello", "newText": "bye"})
    assert result.is_error
    assert result.text == "Read unseen.txt before editing it: edit only changes files whose current content you have seen."
    assert (cwd / "unseen.txt").read_text() == "hello\n"
    await run(tools["write"], {"path": "mine.txt", "content": "one\n"})
    first = await run(tools["edit"], {"path": "mine.txt", "oldText": "one", "newText": "two"})
    second = await run(tools["edit"], {"path": "mine.txt", "oldText": "two", "newText": "three"})
    assert not first.is_error and not second.is_error and (cwd / "mine.txt").read_text() == "three\n"


async def test_a_lone_edit_tool_does_not_track_reads(cwd: Path) -> None:
    from opi_cli.tools import EditTool

    (cwd / "f.txt").write_text("a\n")
    result = await run(EditTool(str(cwd), LocalFileOps()), {"path": "f.txt", "oldText": "a", "newText": "b"})
    assert not result.is_error and (cwd / "f.txt").read_text() == "b\n"


def test_without_the_read_tool_edit_does_not_ask_for_reads(workdir: Path) -> None:
    (workdir / "f.txt").write_text("old\n")
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "edit", "id": "e1", "arguments": {
            "path": "f.txt", "oldText": "old", "newText": "new"}}}]},
        {"steps": [{"text": "done"}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(["--json", "--tools", "edit,bash", "--base-url", f"{srv.base_url}/v1", "--provider", "openai",
                        "--api", "openai-completions", "--api-key", "x", "--model", "m", "go"], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    [end] = [json.loads(x) for x in proc.stdout.splitlines() if '"tool_execution_end"' in x]
    assert not end["isError"], end["result"]
    assert (workdir / "f.txt").read_text() == "new\n"
    assert [t.name for t in create_coding_tools(workdir, names=["edit"])] == ["edit"]
    assert create_coding_tools(workdir, names=["edit"])[0].file_states is None  # type: ignore[attr-defined]


# -- bash spill files ---------------------------------------------------------------------------


async def test_default_spill_folder_is_private(cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "systmp"))
    (tmp_path / "systmp").mkdir(mode=0o777)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    tools = create_builtin_tools(str(cwd), use_external_search=False)
    result = await run(tools["bash"], {"command": "seq 1 5000"})
    assert isinstance(result.details, dict)
    spill = Path(str(result.details["fullOutputPath"]))
    assert spill.parent.parent == tmp_path / "systmp"
    assert stat.S_IMODE(spill.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
