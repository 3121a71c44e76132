"""The editor's keys and the commands around it, in the real REPL: /thinking, new lines
(Ctrl+J, Shift+Enter), ``@path`` completion, Ctrl+G (external editor) and /copy."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver

pytestmark = pytest.mark.pty


def _user_texts(srv: MockLLM) -> list[str]:
    out = []
    for m in srv.requests[-1]["body"]["messages"]:
        if m["role"] == "user":
            content = m["content"]
            out.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return out


def test_thinking_command_shows_sets_and_rejects_levels(workdir: Path) -> None:
    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with MockLLM({"responses": [{"steps": [{"text": "thought about it"}]}]}) as srv:
        (home / "models.json").write_text(json.dumps({"providers": {"mock": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
            "models": [{"id": "thinker", "reasoning": True}]}}}))
        drv = ReplDriver(["-m", "opi_cli", "chat", "--model", "mock/thinker"], workdir)
        try:
            drv.wait_ready()
            drv.type_line("/thinking")
            drv.wait_for("Thinking level: medium")
            drv.type_line("/thinking lots")
            drv.wait_for("Unknown thinking level 'lots'")
            drv.type_line("/thinking low")
            drv.wait_for("Thinking level: low")
            drv.type_line("go")
            drv.wait_for("thought about it")
            assert srv.requests[-1]["body"]["reasoning_effort"] == "low"
            assert len(srv.requests) == 1  # the commands sent nothing
        finally:
            drv.close()


def test_ctrl_j_and_shift_enter_add_lines_enter_sends(start_repl: Any) -> None:
    drv, srv = start_repl({"responses": [{"steps": [{"text": "got three lines"}]}]})
    drv.send("line one")
    drv.send("\x0a")  # Ctrl+J
    drv.send("line two")
    drv.send("\x1b[13;2u")  # Shift+Enter as kitty / CSI-u terminals report it
    drv.send("line three")
    drv.wait_for("line three")
    assert srv.requests == []  # new lines, not submissions
    drv.send("\r")
    drv.wait_for("got three lines")
    assert _user_texts(srv)[-1] == "line one\nline two\nline three"


def test_at_completes_paths_of_the_working_folder(start_repl: Any, workdir: Path) -> None:
    (workdir / "notes.txt").write_text("remember the milk\n")
    (workdir / "nested").mkdir()
    (workdir / "nested" / "deep.py").write_text("x = 1\n")
    drv, srv = start_repl({"responses": [{"steps": [{"text": "looked"}]}]})
    drv.send("look at @no")
    drv.wait_for("look at @no")
    drv.send("\t")
    drv.wait_for("look at @notes.txt")
    drv.send(" and @nes")
    drv.wait_for("and @nes")
    drv.send("\t")
    drv.wait_for("and @nested/")
    drv.send("de")
    drv.wait_for("@nested/de")
    drv.send("\t")
    drv.wait_for("@nested/deep.py")
    drv.send("\r")  # the first Enter takes the highlighted completion ...
    drv.pump(0.3)
    drv.send("\r")  # ... the next one sends
    drv.wait_for("looked")
    assert _user_texts(srv)[-1] == "look at @notes.txt and @nested/deep.py"


def test_ctrl_g_edits_the_input_in_the_external_editor(start_repl: Any, tmp_path: Path) -> None:
    editor = tmp_path / "fake-editor"
    editor.write_text('#!/bin/sh\nprintf "written in the editor\\nsecond line" > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    drv, srv = start_repl({"responses": [{"steps": [{"text": "read your note"}]}]},
                          env={"EDITOR": str(editor), "VISUAL": str(editor)})
    drv.send("draft")
    drv.wait_for("draft")
    drv.send("\x07")  # Ctrl+G
    drv.wait_for("second line")
    drv.send("\r")
    drv.wait_for("read your note")
    assert _user_texts(srv)[-1] == "written in the editor\nsecond line"


def test_copy_puts_the_last_reply_on_the_clipboard_with_osc52(start_repl: Any) -> None:
    drv, _ = start_repl({"responses": [{"steps": [{"text": "copy me, ünïcode too"}]}]})
    drv.type_line("/copy")
    drv.wait_for("Nothing to copy yet.")
    drv.type_line("hello")
    drv.wait_for("copy me")
    drv.type_line("/copy")
    drv.wait_for("Copied the last reply")
    payload = base64.b64encode("copy me, ünïcode too".encode()).decode()
    assert f"\x1b]52;c;{payload}\x07".encode() in bytes(drv.raw)
