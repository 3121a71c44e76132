from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from opi_cli._util.abort import AbortController
from opi_cli.agent.tool import Tool, ToolUpdate
from opi_cli.tools import BashTool, LocalFileOps, LocalShellOps
from tests.tools.conftest import run


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


async def _gone(pid: int) -> bool:
    """Wait (bounded) for a SIGKILLed process to disappear; the kernel reaps asynchronously."""
    for _ in range(500):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_output_and_stderr_merged(tools: dict[str, Tool]) -> None:
    result = await run(tools["bash"], {"command": "echo out; echo err >&2"})
    assert not result.is_error and result.text == "out\nerr\n"


async def test_no_output(tools: dict[str, Tool]) -> None:
    assert (await run(tools["bash"], {"command": "true"})).text == "(no output)"


async def test_runs_in_cwd(tools: dict[str, Tool], cwd: Path) -> None:
    assert (await run(tools["bash"], {"command": "pwd"})).text == f"{cwd}\n"


async def test_nonzero_exit_is_error_with_code(tools: dict[str, Tool]) -> None:
    result = await run(tools["bash"], {"command": "echo err; exit 3"})
    assert result.is_error and result.text == "err\n\n\nCommand exited with code 3"
    result = await run(tools["bash"], {"command": "exit 1"})
    assert result.text == "(no output)\n\nCommand exited with code 1"


async def test_stdin_is_closed(tools: dict[str, Tool]) -> None:
    result = await run(tools["bash"], {"command": "read x; echo got:$x"})
    assert result.text == "got:\n"


async def test_streams_updates(tools: dict[str, Tool]) -> None:
    updates: list[ToolUpdate] = []
    result = await run(tools["bash"], {"command": "for i in 1 2 3; do echo $i; done"}, updates=updates)
    assert result.text == "1\n2\n3\n"
    assert updates and updates[-1].content[0].text == "1\n2\n3\n"  # type: ignore[union-attr]


async def test_missing_cwd(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone")
    tool = BashTool(missing, LocalFileOps(), LocalShellOps())
    result = await run(tool, {"command": "echo hi"})
    assert result.is_error and result.text.startswith(f"Working directory does not exist: {missing}")


async def test_line_truncation_spills_full_output_defect_11(tools: dict[str, Tool], spill_dir: Path) -> None:
    result = await run(tools["bash"], {"command": "seq 1 3000"})
    assert not result.is_error
    body, notice = result.text.rsplit("\n\n", 1)
    assert body.startswith("1002\n") and body.endswith("3000\n")
    [spilled] = list(spill_dir.iterdir())
    assert notice == f"[Showing lines 1002-3001 of 3001. Full output: {spilled}]"
    assert spilled.read_text() == "".join(f"{i}\n" for i in range(1, 3001))
    assert stat.S_IMODE(spilled.stat().st_mode) == 0o600
    assert isinstance(result.details, dict) and result.details["fullOutputPath"] == str(spilled)
    assert result.details["truncation"]["truncatedBy"] == "lines"


async def test_byte_truncation_spills_full_output(tools: dict[str, Tool], spill_dir: Path) -> None:
    command = "head -c 200000 /dev/zero | tr '\\0' 'a' | fold -w 100; echo"
    result = await run(tools["bash"], {"command": command})
    [spilled] = list(spill_dir.iterdir())
    assert len(spilled.read_bytes()) == 202000
    assert result.text.endswith(
        f"\n\n[Showing lines 1495-2001 of 2001 (50.0KB limit). Full output: {spilled}]"
    )


async def test_partial_last_line(tools: dict[str, Tool], spill_dir: Path) -> None:
    result = await run(tools["bash"], {"command": "head -c 80000 /dev/zero | tr '\\0' 'b'"})
    [spilled] = list(spill_dir.iterdir())
    assert result.text.endswith(
        f"\n\n[Showing last 50.0KB of line 1 (line is 78.1KB). Full output: {spilled}]"
    )
    assert result.text.startswith("b" * 51200 + "\n\n")


async def test_small_output_writes_no_file(tools: dict[str, Tool], spill_dir: Path) -> None:
    await run(tools["bash"], {"command": "seq 1 10"})
    assert list(spill_dir.iterdir()) == []


async def test_timeout_kills_whole_process_group(tools: dict[str, Tool], cwd: Path) -> None:
    command = "sleep 100 & echo $! > child.pid; echo $$ > shell.pid; echo started; sleep 100"
    result = await run(tools["bash"], {"command": command, "timeout": 1})
    assert result.is_error and result.text == "started\n\n\nCommand timed out after 1 seconds"
    for name in ("child.pid", "shell.pid"):
        assert await _gone(int((cwd / name).read_text()))


async def test_abort_kills_whole_process_group(tools: dict[str, Tool], cwd: Path) -> None:
    ctl = AbortController()

    def on_update(update: ToolUpdate) -> None:
        if "ready" in update.content[0].text:  # type: ignore[union-attr]
            ctl.abort()

    command = "sleep 100 & echo $! > child.pid; echo $$ > shell.pid; echo ready; sleep 100"
    result = await tools["bash"].execute("c", {"command": command}, ctl.signal, on_update)
    assert result.is_error and result.text == "ready\n\n\nCommand aborted"
    for name in ("child.pid", "shell.pid"):
        assert await _gone(int((cwd / name).read_text()))


async def test_already_aborted_runs_nothing(tools: dict[str, Tool], cwd: Path) -> None:
    ctl = AbortController()
    ctl.abort()
    result = await run(tools["bash"], {"command": "touch ran"}, ctl.signal)
    assert result.is_error and result.text == "Command aborted"
    assert not (cwd / "ran").exists()


async def test_task_cancellation_kills_group(tools: dict[str, Tool], cwd: Path) -> None:
    started = asyncio.Event()

    def on_update(update: ToolUpdate) -> None:
        started.set()

    command = "sleep 100 & echo $! > child.pid; echo go; sleep 100"
    task = asyncio.create_task(
        tools["bash"].execute("c", {"command": command}, AbortController().signal, on_update)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _gone(int((cwd / "child.pid").read_text()))


async def test_background_child_holding_the_pipe_does_not_hang(tools: dict[str, Tool], cwd: Path) -> None:
    result = await run(tools["bash"], {"command": "sleep 100 & echo $! > child.pid; echo done"})
    assert result.text == "done\n"
    os.kill(int((cwd / "child.pid").read_text()), 9)
