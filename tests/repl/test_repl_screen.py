"""A screen that stays true (issue 12): resizes, !cmd, retries, as the real REPL draws them in a pty.

The screen is pyte with its scrollback (HistoryScreen), resized the way xterm resizes; the
assertions count lines in scrollback + screen: every line of the conversation exactly once,
one separator rule, one input line.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.repl.driver import ReplDriver

pytestmark = pytest.mark.pty

PARAGRAPHS = [f"Paragraph {i:02d} says UNIQUE-{i:02d} once, then a few more words so that it wraps." for i in range(1, 25)]
STORY = {"responses": [{"steps": [{"text": "\n\n".join(PARAGRAPHS)}], "delay_ms": 25, "chunk_size": 12}]}


def count(lines: list[str], needle: str) -> int:
    return sum(needle in line for line in lines)


def rules(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip() and set(line.strip()) <= {"─"} and len(line.strip()) > 20)


def whole_once(drv: ReplDriver) -> bool:
    lines = drv.all_lines()
    return (
        all(count(lines, f"UNIQUE-{i:02d}") == 1 for i in range(1, len(PARAGRAPHS) + 1))
        and count(lines, "tell me a story") == 1
        and count(lines, "session ") == 1  # the banner's session line
        and rules(lines) == 1
        and sum(line.startswith("›") for line in lines) == 1
        and "Working..." not in drv.screen_text()
    )


def test_resizing_while_streaming_and_idle_shows_every_line_once(start_repl: Any) -> None:
    drv, _ = start_repl(STORY, rows=30, cols=100)
    drv.type_line("tell me a story")
    drv.wait_for("UNIQUE-04")
    drv.resize(30, 70)  # narrower while the reply streams
    drv.wait_for(lambda: "UNIQUE-10" in "\n".join(drv.all_lines()))
    drv.resize(24, 90)  # shorter and wider, still streaming
    drv.wait_for(lambda: whole_once(drv), timeout=60)
    for rows, cols in ((30, 100), (20, 60), (28, 84)):  # idle
        drv.resize(rows, cols)
        drv.pump(0.3)
        drv.wait_for(lambda: whole_once(drv), timeout=30)
    drv.pump(0.5)
    assert whole_once(drv), "\n".join(drv.all_lines())
    # the reply reads in order after all that
    joined = "\n".join(drv.all_lines())
    positions = [joined.index(f"UNIQUE-{i:02d}") for i in range(1, len(PARAGRAPHS) + 1)]
    assert positions == sorted(positions)


def test_idle_resize_leaves_no_stale_separator(start_repl: Any) -> None:
    drv, _ = start_repl({"responses": [{"steps": [{"text": "short answer"}]}]}, rows=24, cols=90)
    drv.type_line("hello there")
    drv.wait_for("short answer")
    drv.wait_for(lambda: "Working..." not in drv.screen_text())
    for rows, cols in ((24, 60), (18, 80), (24, 90)):
        drv.resize(rows, cols)
        drv.pump(0.3)
        drv.wait_for(lambda: rules(drv.all_lines()) == 1 and count(drv.all_lines(), "short answer") == 1)
    lines = drv.all_lines()
    assert rules(lines) == 1 and count(lines, "hello there") == 1, "\n".join(lines)


def _shows_row_1(drv: ReplDriver) -> bool:
    return any(line.strip("│ ") == "row-1" for line in drv.all_lines())


def test_bang_command_is_printed_once_and_ctrl_o_expands_its_output(start_repl: Any) -> None:
    drv, _ = start_repl({"responses": []})
    drv.type_line("!seq 1 40 | sed s/^/row-/")
    drv.wait_for("ctrl+o to expand")
    drv.wait_for(lambda: "Working..." not in drv.screen_text())
    lines = drv.all_lines()
    assert count(lines, "$ seq 1 40") == 1, "\n".join(lines)
    assert not _shows_row_1(drv)  # collapsed: the first rows are hidden
    drv.send("\x0f")  # Ctrl+O, as the hint says
    drv.wait_for(lambda: _shows_row_1(drv))
    assert "No tool output" not in drv.screen_text()


def test_a_failing_bang_command_shows_its_error_at_once(start_repl: Any, workdir: Path) -> None:
    drv, _ = start_repl({"responses": []})
    drv.type_line("!exit 3")
    drv.wait_for("exit code 3")
    shutil.rmtree(workdir)  # the working folder disappears under the REPL
    drv.type_line("!echo still-here")
    drv.wait_for(lambda: "Error" in drv.screen_text() and str(workdir) in "\n".join(drv.all_lines()))
    drv.type_line("!echo works-again")  # the REPL is still alive
    drv.wait_for("Error")
    assert drv.child.isalive()


def _retry_settings(**retry: Any) -> None:
    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps({"retry": {"enabled": True, **retry}}))


OVERLOADED = {"error": {"status": 503, "message": "upstream overloaded UNIQUE-ERR", "type": "server_error"}}


def test_retries_update_one_status_line_and_count_the_attempts_that_ran(start_repl: Any) -> None:
    _retry_settings(maxRetries=3, baseDelayMs=400)
    script = {"responses": [OVERLOADED, OVERLOADED, {"steps": [{"text": "made it through"}]}]}
    drv, srv = start_repl(script)
    drv.type_line("try hard")
    drv.wait_for("Retrying (1/3)")
    assert count(drv.screen_lines(), "Retrying") == 1
    drv.wait_for("Retrying (2/3)")
    assert count(drv.screen_lines(), "Retrying") == 1  # the same line, updated
    assert "UNIQUE-ERR" in drv.screen_text()  # the status says what failed
    drv.wait_for("made it through")
    drv.wait_for(lambda: "Working..." not in drv.screen_text())
    lines = drv.all_lines()
    assert count(lines, "UNIQUE-ERR") == 0 and count(lines, "Retrying") == 0, "\n".join(lines)
    assert len(srv.requests) == 3


def test_exhausted_retries_report_every_attempt_that_ran(start_repl: Any) -> None:
    _retry_settings(maxRetries=2, baseDelayMs=50)
    drv, srv = start_repl({"responses": [OVERLOADED] * 3})
    drv.type_line("never works")
    drv.wait_for("Retry failed after")
    drv.wait_for(lambda: "Working..." not in drv.screen_text())
    lines = drv.all_lines()
    assert len(srv.requests) == 3
    assert count(lines, "Retry failed after 3 attempts") == 1, "\n".join(lines)
    assert count(lines, "UNIQUE-ERR") == 1  # said once, in the final line


def test_cancelling_a_retry_counts_the_attempts_that_ran(start_repl: Any) -> None:
    _retry_settings(maxRetries=3, baseDelayMs=30000)
    drv, srv = start_repl({"responses": [OVERLOADED] * 4})
    drv.type_line("give up soon")
    drv.wait_for("Retrying (1/3)")
    drv.send("\x1b")
    drv.wait_for("Retry cancelled")
    lines = drv.all_lines()
    assert len(srv.requests) == 1
    assert count(lines, "Retry cancelled after 1 attempt") == 1, "\n".join(lines)
    assert count(lines, "Retry failed") == 0


def test_retrying_a_refused_connection_says_which_url(workdir: Path) -> None:
    _retry_settings(maxRetries=2, baseDelayMs=30000)
    with socket.socket() as closed:  # bound but never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        drv = ReplDriver(["-m", "opi_cli", "chat", "--base-url", url, "--provider", "openai", "--api",
                          "openai-completions", "--api-key", "k", "--model", "mock-model"], workdir)
        try:
            drv.wait_ready()
            drv.type_line("anyone there?")
            drv.wait_for("Retrying (1/2)")
            drv.wait_for(f"{url}/chat/completions")  # the status line names the endpoint
            assert count(drv.screen_lines(), "Retrying") == 1
        finally:
            drv.close()

