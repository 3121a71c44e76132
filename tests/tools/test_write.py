from __future__ import annotations

from pathlib import Path

from opi_cli.agent.tool import Tool
from tests.tools.conftest import run


async def test_reports_real_utf8_bytes_defect_8(tools: dict[str, Tool], cwd: Path) -> None:
    result = await run(tools["write"], {"path": "h.txt", "content": "héllo\n"})
    assert result.text == "Successfully wrote 7 bytes to h.txt"  # pi said 6 (UTF-16 units)
    assert (cwd / "h.txt").read_bytes() == "héllo\n".encode()
    result = await run(tools["write"], {"path": "e.txt", "content": "😀"})
    assert result.text == "Successfully wrote 4 bytes to e.txt"


async def test_creates_parents_and_overwrites(tools: dict[str, Tool], cwd: Path) -> None:
    await run(tools["write"], {"path": "a/b/c.txt", "content": "one"})
    result = await run(tools["write"], {"path": "@a/b/c.txt", "content": "two"})
    assert not result.is_error
    assert (cwd / "a/b/c.txt").read_text() == "two"


async def test_missing_argument_is_an_error_result(tools: dict[str, Tool]) -> None:
    result = await run(tools["write"], {"path": "x"})
    assert result.is_error and "content" in result.text
