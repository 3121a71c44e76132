"""Drive the real ``opi chat`` in a pseudo-terminal and keep a pyte screen of what it shows."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pyte

from tests.conftest import ROOT
from tests.mock_llm import MockLLM

__all__ = ["ReplDriver", "chat_args"]


def chat_args(srv: MockLLM, *extra: str) -> list[str]:
    return [
        "-m", "opi_cli", "chat", "--base-url", f"{srv.base_url}/v1", "--provider", "openai",
        "--api", "openai-completions", "--api-key", "test-key", "--model", "mock-model", *extra,
    ]


class _Screen(pyte.HistoryScreen):  # type: ignore[misc]
    """A screen that answers cursor-position requests and resizes as xterm does."""

    def __init__(self, cols: int, rows: int, reply: Callable[[str], None]) -> None:
        super().__init__(cols, rows, history=10000, ratio=0.5)
        self._reply = reply

    def write_process_input(self, data: str) -> None:
        self._reply(data)

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Resize as a modern terminal (VTE, iTerm2, kitty, Windows Terminal) does.

        Narrower: rows longer than the new width are re-wrapped onto more rows, the bottom
        row stays at the bottom and what no longer fits moves into the scrollback (pyte
        alone just cuts them at the right edge). Shorter: the rows below the cursor go
        first, then the top rows scroll into the scrollback (pyte alone drops them).
        """
        lines = lines or self.lines
        columns = columns or self.columns
        if columns < self.columns:
            self._reflow(columns)
        excess = self.lines - lines
        if excess > 0:
            scroll = max(0, excess - (self.lines - 1 - self.cursor.y))
            if scroll:
                y, self.cursor.y = self.cursor.y, self.lines - 1
                self.margins = None
                for _ in range(scroll):
                    self.index()  # the top row goes into the history
                self.cursor.y = y - scroll
            for row in range(lines, self.lines):
                self.buffer.pop(row, None)
            self.lines = lines
        super().resize(lines, columns)

    def _reflow(self, columns: int) -> None:
        rows = [*self.history.top, *(self.buffer[y] for y in range(self.lines))]
        at = len(self.history.top) + self.cursor.y
        out: list[Any] = []
        cursor = (0, 0)
        for i, row in enumerate(rows):
            used = max((x + 1 for x, ch in row.items() if ch.data != " "), default=0)
            if i == at:
                used = max(used, self.cursor.x + 1)
            pieces = max(1, -(-used // columns))
            for p in range(pieces):
                new = pyte.screens.StaticDefaultDict(self.default_char)
                for x, ch in row.items():
                    if p * columns <= x < (p + 1) * columns:
                        new[x - p * columns] = ch
                out.append(new)
            if i == at:
                cursor = (len(out) - pieces + min(self.cursor.x // columns, pieces - 1), self.cursor.x % columns)
        keep = out[-self.lines :]
        self.history.top.clear()
        self.history.top.extend(out[: len(out) - len(keep)])
        self.buffer.clear()
        for y, row in enumerate(keep):
            self.buffer[y] = row
        self.cursor.y = cursor[0] - (len(out) - len(keep))
        self.cursor.x = cursor[1]


class ReplDriver:
    """``opi chat`` in a pty: ``send`` keys, ``wait_for`` text, read ``screen_text``/``all_lines``."""

    def __init__(self, args: list[str], cwd: Path, *, rows: int = 30, cols: int = 100, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # xdist sets 80x24
        full_env.update({"PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"})
        full_env.update(env or {})
        self.rows, self.cols = rows, cols
        self.child = pexpect.spawn(sys.executable, args, cwd=str(cwd), env=full_env, dimensions=(rows, cols))
        self.screen = _Screen(cols, rows, self._answer)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()

    def _answer(self, data: str) -> None:
        if self.child.isalive():
            self.child.send(data.encode())

    def pump(self, timeout: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=max(0.0, deadline - time.monotonic()))
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.raw += chunk
            self.stream.feed(chunk)
            if time.monotonic() >= deadline:
                return

    def _line(self, row: object) -> str:
        return "".join(row[x].data for x in range(self.cols)).rstrip()  # type: ignore[index]

    def screen_lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def screen_text(self) -> str:
        return "\n".join(self.screen_lines())

    def all_lines(self) -> list[str]:
        """Scrollback history plus the screen, top to bottom."""
        return [self._line(row) for row in self.screen.history.top] + self.screen_lines()

    def wait_for(self, what: str | Callable[[], bool], timeout: float = 20) -> None:
        check: Callable[[], bool] = (lambda: what in self.screen_text()) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.05)
            if check():
                return
            if not self.child.isalive():
                self.pump(0.2)
                if check():
                    return
                break
        raise AssertionError(f"timed out waiting for {what!r}; screen:\n{self.screen_text()}")

    def wait_ready(self) -> None:
        self.wait_for(lambda: any(line.startswith(("›", ">")) for line in self.screen_lines()))

    def resize(self, rows: int, cols: int) -> None:
        """The terminal window changes size: the screen first, then the program is told (SIGWINCH)."""
        self.pump(0.05)
        self.screen.resize(rows, cols)
        self.rows, self.cols = rows, cols
        self.child.setwinsize(rows, cols)

    def send(self, text: str) -> None:
        self.child.send(text)

    def type_line(self, text: str) -> None:
        self.send(text)
        self.wait_for(lambda: text[-20:] in self.screen_text(), timeout=10)
        self.send("\r")

    def wait_exit(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump(0.1)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def close(self) -> None:
        if self.child.isalive():
            self.child.kill(9)
        self.child.close(force=True)
