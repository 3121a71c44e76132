"""Escape and Ctrl+C in the real REPL reach a request that is still waiting for the server (issue 11)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import session_records, wait_until

pytestmark = pytest.mark.pty

SILENT_THEN_ANSWER = {"responses": [
    {"silent": True, "when_last_user_contains": "first"},
    {"steps": [{"text": "second answer arrived"}]},
]}


def test_escape_aborts_a_request_before_headers_and_the_repl_goes_on(start_repl: Any) -> None:
    drv, srv = start_repl(SILENT_THEN_ANSWER)
    drv.type_line("first question")
    wait_until(lambda: srv.open_streams == 1, what="the request to reach the silent server")
    drv.wait_for("Working...")
    drv.send("\x1b")
    drv.wait_for("Operation aborted")  # before the fix: only after the 600 s read timeout
    wait_until(lambda: srv.open_streams == 0, what="opi to drop the connection")
    drv.wait_for(lambda: "Working..." not in drv.screen_text())
    drv.type_line("next one")
    drv.wait_for("second answer arrived")


def test_ctrl_c_twice_while_waiting_for_headers_exits(start_repl: Any) -> None:
    drv, srv = start_repl(SILENT_THEN_ANSWER)
    drv.type_line("first question")
    wait_until(lambda: srv.open_streams == 1, what="the request to reach the silent server")
    drv.send("\x03")
    drv.wait_for("Press ctrl+c again to exit")
    drv.send("\x03")
    assert drv.wait_exit() == 0
    records = session_records(Path(os.environ["OPI_HOME"]))
    roles = [r["message"]["role"] for r in records if r["type"] == "message"]
    assert roles[0] == "user"
    aborted = [r["message"] for r in records if r["type"] == "message" and r["message"]["role"] == "assistant"]
    assert [m["stopReason"] for m in aborted] == ["aborted"]
