"""/new, /resume, /tree, /fork and /export in the real REPL: on screen and in the session files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.pty


def _sessions(home: Path) -> list[Path]:
    return sorted(home.glob("sessions/*/*.jsonl"), key=lambda p: p.stat().st_mtime)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _last_user(srv: Any) -> str:
    msgs = srv.requests[-1]["body"]["messages"]
    return json.dumps(msgs)


def test_new_then_resume_switches_sessions(start_repl: Any) -> None:
    home = Path(os.environ["OPI_HOME"])
    script = {"responses": [{"steps": [{"text": "noted ALPHA"}]}, {"steps": [{"text": "fresh start"}]},
                            {"steps": [{"text": "back again"}]}]}
    drv, srv = start_repl(script)
    drv.type_line("remember ALPHA")
    drv.wait_for("noted ALPHA")
    drv.type_line("/new")
    drv.wait_for("New session")
    drv.type_line("hello in new session")
    drv.wait_for("fresh start")
    assert "ALPHA" not in _last_user(srv)  # the new session starts empty
    assert len(_sessions(home)) == 2
    drv.type_line("/resume")
    drv.wait_for("Resume which session?")
    drv.send("\r")  # the picker opens on the newest other session
    drv.wait_for("Resumed")
    drv.type_line("what did I say?")
    drv.wait_for("back again")
    sent = _last_user(srv)
    assert "remember ALPHA" in sent and "hello in new session" not in sent
    drv.send("\x04")
    assert drv.wait_exit() == 0


def test_fork_and_tree_write_files_and_leaf_entries(start_repl: Any) -> None:
    home = Path(os.environ["OPI_HOME"])
    script = {"responses": [{"steps": [{"text": "answer one"}]}, {"steps": [{"text": "answer two"}]},
                            {"steps": [{"text": "after tree"}]}, {"steps": [{"text": "after fork"}]}]}
    drv, srv = start_repl(script)
    drv.type_line("first question")
    drv.wait_for("answer one")
    drv.type_line("second question")
    drv.wait_for("answer two")
    # /tree: go back to the first question; the next message branches from there
    drv.type_line("/tree")
    drv.wait_for("Go to which point?")
    drv.type_line("first question")  # the picker keeps the matching point
    drv.wait_for("Moved to")
    drv.type_line("branch question")
    drv.wait_for("after tree")
    sent = _last_user(srv)
    assert "first question" in sent and "second question" not in sent and "answer one" not in sent
    original = _sessions(home)[0]
    records = _records(original)
    assert any(r["type"] == "leaf" for r in records)
    # /fork from the branch question: a new file with the history before it, text in the editor
    drv.type_line("/fork")
    drv.wait_for("Fork from which message?")
    drv.type_line("branch")
    drv.wait_for("Forked into a new session")
    drv.send("\r")  # send the forked text back as it was put in the editor
    drv.wait_for("after fork")
    assert "branch question" in _last_user(srv)
    files = _sessions(home)
    assert len(files) == 2
    forked = _records(files[-1])
    assert forked[0]["parentSession"] == str(original)
    drv.type_line("/export notes.md")
    drv.wait_for("Exported to")
    drv.send("\x04")
    assert drv.wait_exit() == 0
    assert (Path(drv.child.cwd) / "notes.md").read_text().startswith("#")  # type: ignore[attr-defined]


def test_shift_tab_cycles_thinking_and_ctrl_l_opens_the_model_picker(workdir: Path) -> None:
    from tests.mock_llm import MockLLM
    from tests.repl.driver import ReplDriver

    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with MockLLM({"responses": [{"steps": [{"text": "ok"}]}]}) as srv:
        (home / "models.json").write_text(json.dumps({"providers": {"mock": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
            "models": [{"id": "thinker", "reasoning": True}, {"id": "plain"}]}}}))
        drv = ReplDriver(["-m", "opi_cli", "chat", "--model", "mock/thinker"], workdir)
        try:
            drv.wait_ready()
            drv.send("\x1b[Z")  # Shift+Tab: medium -> high
            drv.wait_for("Thinking level: high")
            drv.send("\x0c")  # Ctrl+L
            drv.wait_for("Switch to")
            drv.send("\x1b")
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()
    levels = [r["thinkingLevel"] for r in _records(_sessions(home)[0]) if r["type"] == "thinking_level_change"]
    assert levels[0] == "medium" and levels[-1] == "high"
