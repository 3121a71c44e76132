from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver, chat_args


@pytest.fixture
def start_repl(workdir: Path) -> Iterator[Any]:
    started: list[tuple[ReplDriver, MockLLM]] = []

    def start(script: dict[str, Any], *extra: str, rows: int = 30, cols: int = 100,
              env: dict[str, str] | None = None) -> tuple[ReplDriver, MockLLM]:
        srv = MockLLM(script)
        srv.__enter__()
        drv = ReplDriver(chat_args(srv, *extra), workdir, rows=rows, cols=cols, env=env)
        started.append((drv, srv))
        drv.wait_ready()
        return drv, srv

    yield start
    for drv, srv in started:
        drv.close()
        srv.__exit__(None, None, None)
