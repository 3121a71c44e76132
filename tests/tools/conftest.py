"""Fixtures for the tool tests: a temporary working folder and a helper to run a tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import Tool, ToolResult, ToolUpdate
from opi_cli.tools import LocalFileOps, LocalShellOps, create_builtin_tools


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def spill_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "spill"
    folder.mkdir()
    return folder


@pytest.fixture
def tools(cwd: Path, spill_dir: Path, tmp_path: Path) -> dict[str, Tool]:
    return create_builtin_tools(
        str(cwd),
        file_ops=LocalFileOps(temp_dir=str(spill_dir)),
        shell_ops=LocalShellOps(),
        home=str(tmp_path / "home"),
        use_external_search=False,
    )


async def run(
    tool: Tool,
    args: dict[str, JsonValue],
    signal: AbortSignal | None = None,
    updates: list[ToolUpdate] | None = None,
) -> ToolResult:
    """Execute ``tool`` once, collecting progress updates into ``updates``."""
    return await tool.execute(
        "call-1", args, signal or AbortSignal(), updates.append if updates is not None else None
    )


async def read_then_edit(tools: dict[str, Tool], args: dict[str, JsonValue]) -> ToolResult:
    """``edit`` as a model uses it: after reading the file (edit refuses files it has not seen)."""
    await run(tools["read"], {"path": args["path"]})
    return await run(tools["edit"], args)
