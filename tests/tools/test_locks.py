from __future__ import annotations

import asyncio

from opi_cli.tools import PathLocks, WriteTool
from tests.tools.conftest import run
from tests.tools.fakes import MemoryFileOps


class GatedFileOps(MemoryFileOps):
    """Every write announces itself and then waits for its own gate to open."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []
        self.entered: dict[str, asyncio.Event] = {}
        self.gates: dict[str, asyncio.Event] = {}

    async def write_bytes(self, path: str, data: bytes) -> None:
        tag = data.decode()
        self.log.append(f"start {tag}")
        self.entered.setdefault(tag, asyncio.Event()).set()
        await self.gates.setdefault(tag, asyncio.Event()).wait()
        self.files[path] = data
        self.log.append(f"end {tag}")


async def _yield_many() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_same_path_writes_serialise() -> None:
    ops = GatedFileOps()
    locks = PathLocks()
    tool = WriteTool("/w", ops, path_locks=locks)
    first = asyncio.create_task(run(tool, {"path": "f.txt", "content": "one"}))
    second = asyncio.create_task(run(tool, {"path": "./f.txt", "content": "two"}))
    await ops.entered.setdefault("one", asyncio.Event()).wait()
    await _yield_many()
    assert ops.log == ["start one"]  # the second write waits for the lock
    ops.gates.setdefault("one", asyncio.Event()).set()
    await ops.entered.setdefault("two", asyncio.Event()).wait()
    ops.gates.setdefault("two", asyncio.Event()).set()
    await asyncio.gather(first, second)
    assert ops.log == ["start one", "end one", "start two", "end two"]
    assert ops.files["/w/f.txt"] == b"two" and len(locks) == 0


async def test_different_paths_run_in_parallel() -> None:
    ops = GatedFileOps()
    tool = WriteTool("/w", ops, path_locks=PathLocks())
    a = asyncio.create_task(run(tool, {"path": "a.txt", "content": "A"}))
    b = asyncio.create_task(run(tool, {"path": "b.txt", "content": "B"}))
    # both writes are inside write_bytes at once, neither gate opened yet
    await asyncio.wait_for(ops.entered.setdefault("A", asyncio.Event()).wait(), 30)
    await asyncio.wait_for(ops.entered.setdefault("B", asyncio.Event()).wait(), 30)
    assert ops.log == ["start A", "start B"]
    ops.gates.setdefault("A", asyncio.Event()).set()
    ops.gates.setdefault("B", asyncio.Event()).set()
    await asyncio.gather(a, b)


async def test_edit_and_write_share_locks() -> None:
    from opi_cli.tools import create_builtin_tools

    ops = GatedFileOps()
    ops.files["/w/f.txt"] = b"old"
    tools = create_builtin_tools("/w", file_ops=ops)
    assert tools["edit"].path_locks is tools["write"].path_locks  # type: ignore[attr-defined]
