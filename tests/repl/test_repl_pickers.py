"""Pickers and the commands people look for (issue 12), in the real REPL in a pty.

/model, /resume and /tree open arrow-key pickers filtered by typing; Ctrl+P and
Shift+Ctrl+P cycle models; /help, /cost, /status, /clear and /login; token and cost
figures follow the session on screen.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_opi
from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver

pytestmark = pytest.mark.pty

OK = {"repeat_last": True, "responses": [{"steps": [{"text": "answer from the mock"}]}]}


@pytest.fixture
def mock_models(workdir: Path) -> Iterator[tuple[MockLLM, Path]]:
    """A mock server and a models.json provider 'mock' with three models (one reasons)."""
    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with MockLLM(OK) as srv:
        (home / "models.json").write_text(json.dumps({"providers": {"mock": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
            "models": [{"id": "thinker", "reasoning": True}, {"id": "plain"}, {"id": "third"}]}}}))
        yield srv, home


def repl(workdir: Path, *args: str, rows: int = 30, cols: int = 110) -> ReplDriver:
    drv = ReplDriver(["-m", "opi_cli", "chat", *args], workdir, rows=rows, cols=cols)
    drv.wait_ready()
    return drv


def selected(drv: ReplDriver) -> str:
    rows = [line for line in drv.screen_lines() if line.startswith("❯ ")]
    return rows[0][2:].split()[0] if rows else ""


def test_model_picker_moves_with_arrows_and_filters_as_you_type(workdir: Path, mock_models: Any) -> None:
    srv, _ = mock_models
    drv = repl(workdir, "--model", "mock/thinker")
    try:
        drv.type_line("/model")
        drv.wait_for("Switch to a model")
        drv.wait_for(lambda: selected(drv) == "mock/thinker")  # opens on the current model
        drv.send("mock")
        drv.wait_for(lambda: not re.search(r"\d+-\d+ of \d+", drv.screen_text()) and "mock/third" in drv.screen_text())
        assert "anthropic/" not in drv.screen_text()  # filtered
        drv.send("\x1b[B")  # Down
        drv.wait_for(lambda: selected(drv) == "mock/plain")
        drv.send("\r")
        drv.wait_for("Switched to mock/plain")
        drv.type_line("hello")
        drv.wait_for("answer from the mock")
        assert srv.requests[-1]["body"]["model"] == "plain"
        # Escape closes a picker without a change, and takes the filter text with it
        drv.type_line("/model")
        drv.wait_for("Switch to a model")
        drv.send("zzz-nothing")
        drv.wait_for("nothing matches 'zzz-nothing'")
        drv.send("\r")  # Enter with nothing chosen does nothing
        drv.send("\x1b")
        drv.wait_for("Cancelled.")
        drv.wait_for(lambda: not any(line.startswith("› zzz") for line in drv.screen_lines()))
        assert "Switch to a model" not in drv.screen_text()
    finally:
        drv.close()


def test_ctrl_p_and_shift_ctrl_p_cycle_the_models_with_keys(workdir: Path, mock_models: Any) -> None:
    srv, home = mock_models
    (home / "settings.json").write_text(json.dumps({"defaultThinkingLevel": "high"}))
    drv = repl(workdir, "--model", "mock/plain")
    try:
        drv.send("\x10")  # Ctrl+P: plain -> third
        drv.wait_for("Switched to mock/third")
        drv.send("\x10")  # third -> thinker (wraps around: no other provider has a key)
        drv.wait_for("Switched to mock/thinker (thinking: high)")  # the default level, not off
        drv.send("\x1b[112;6u")  # Shift+Ctrl+P (CSI-u): back to third
        drv.wait_for(lambda: drv.screen_text().count("Switched to mock/third") == 2)
        drv.send("\x1b[27;6;80~")  # Shift+Ctrl+P (xterm modifyOtherKeys): back to plain
        drv.wait_for("Switched to mock/plain")
        drv.send("\x10")
        drv.send("\x10")
        drv.wait_for(lambda: drv.screen_text().count("Switched to mock/thinker") == 2)
        drv.type_line("think about it")
        drv.wait_for("answer from the mock")
        body = srv.requests[-1]["body"]
        assert body["model"] == "thinker" and body.get("reasoning_effort") == "high"
    finally:
        drv.close()


def test_ctrl_p_with_a_single_model_says_so(start_repl: Any) -> None:
    drv, _ = start_repl(OK)
    drv.send("\x10")
    drv.wait_for("Only one model available")


def test_help_lists_commands_and_keys_and_unknown_commands_suggest(start_repl: Any) -> None:
    drv, srv = start_repl(OK, rows=60)
    drv.type_line("/help")
    drv.wait_for("!cmd / !!cmd")  # the last line of the keys
    text = "\n".join(drv.all_lines())
    for name in ("/help", "/cost", "/status", "/clear", "/login", "/model", "/resume", "/tree", "ctrl+p", "escape"):
        assert name in text, name
    drv.type_line("/stauts")
    drv.wait_for("Unknown command /stauts. Did you mean /status")
    assert srv.requests == []


def test_status_names_model_endpoint_session_and_context(start_repl: Any) -> None:
    drv, srv = start_repl(OK)
    drv.type_line("hello")
    drv.wait_for("answer from the mock")
    drv.type_line("/status")
    drv.wait_for("Endpoint")
    text = drv.screen_text()
    assert "openai/mock-model" in text and f"{srv.base_url}/v1" in text and "openai-completions" in text
    files = list(Path(os.environ["OPI_HOME"]).glob("sessions/*/*.jsonl"))
    assert files[0].name[:20] in text.replace("\n", "")
    assert re.search(r"Context\s+\S+ of 128k tokens \(\d+\.\d%\)", text)


def _footer_tokens(drv: ReplDriver) -> str:
    for line in drv.screen_lines():
        m = re.match(r"↑(\S+) ↓(\S+)", line)
        if m:
            return m.group(0)
    return ""


def test_tokens_and_cost_follow_the_session_across_clear_and_resume(start_repl: Any) -> None:
    drv, _ = start_repl({"responses": [{"steps": [{"text": "noted ALPHA"}], "usage": {"input": 4200, "output": 17}},
                                       {"steps": [{"text": "fresh"}], "usage": {"input": 90, "output": 5}}]})
    drv.type_line("remember ALPHA")
    drv.wait_for("noted ALPHA")
    drv.wait_for(lambda: _footer_tokens(drv) == "↑4.2k ↓17")
    drv.type_line("/cost")
    drv.wait_for("Tokens and cost of this session")
    assert re.search(r"openai/mock-model\s+4\.2k\s+17", drv.screen_text())
    drv.type_line("/clear")  # same as /new
    drv.wait_for("New session")
    drv.wait_for(lambda: _footer_tokens(drv) == "")  # a new session has spent nothing
    drv.type_line("/cost")
    drv.wait_for("nothing spent")
    drv.type_line("hi again")
    drv.wait_for("fresh")
    drv.wait_for(lambda: _footer_tokens(drv) == "↑90 ↓5")
    drv.type_line("/resume")
    drv.wait_for("Resume which session?")
    drv.send("\r")
    drv.wait_for("Resumed")
    drv.wait_for(lambda: _footer_tokens(drv) == "↑4.2k ↓17")  # the resumed session's figures
    # the resumed conversation is shown again, ending with where it stood
    lines = drv.all_lines()
    assert sum(line.strip() == "noted ALPHA" for line in lines) == 2, "\n".join(lines)
    assert sum(line.strip() == "remember ALPHA" for line in lines) == 2, "\n".join(lines)


def test_tree_picker_draws_a_straight_chain(workdir: Path) -> None:
    prompts = [f"question-{i:02d}" for i in range(1, 13)]
    with MockLLM(OK) as srv:
        args = ["--provider", "openai", "--api", "openai-completions", "--base-url", f"{srv.base_url}/v1",
                "--api-key", "k", "--model", "mock-model"]
        then = [w for p in prompts[1:] for w in ("--then", p)]
        made = run_opi(["--json", *args, prompts[0], *then], cwd=workdir)
        assert made.returncode == 0, made.stderr
        drv = repl(workdir, "-c", *args, rows=40)
        try:
            drv.type_line("/tree")
            drv.wait_for("Go to which point?")
            drv.wait_for("question-12")
            shown = [line for line in drv.screen_lines() if re.match(r"^(❯ |  )[* ] ", line) and "question-" in line]
            columns = {line.index("question-") for line in shown}
            assert len(shown) >= 8 and len(columns) == 1, "\n".join(drv.screen_lines())
            drv.send("question-03")
            drv.wait_for(lambda: selected(drv).startswith("*"))
            drv.send("\r")
            drv.wait_for("Moved to question-03")
        finally:
            drv.close()


def test_login_stores_a_key_typed_unseen(start_repl: Any) -> None:
    home = Path(os.environ["OPI_HOME"])
    drv, _ = start_repl(OK)
    drv.type_line("/login")
    drv.wait_for("Store an API key for which provider?")
    drv.send("groq")
    drv.wait_for(lambda: selected(drv) == "groq")
    drv.send("\r")
    drv.wait_for("API key for groq")
    drv.send("gsk-SECRET-123")
    drv.wait_for(lambda: "*" * 14 in drv.screen_text())
    drv.send("\r")
    drv.wait_for("Stored the groq key")
    assert "gsk-SECRET-123" not in "\n".join(drv.all_lines())
    auth = home / "auth.json"
    assert json.loads(auth.read_text())["groq"] == {"type": "api_key", "key": "gsk-SECRET-123"}
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    drv.send("\x04")
    assert drv.wait_exit() == 0
    history = home / "history"
    assert "gsk-SECRET" not in (history.read_text() if history.exists() else "")


def _selected_line(drv: ReplDriver) -> str:
    rows = [line for line in drv.screen_lines() if line.startswith("❯ ")]
    return rows[0] if rows else ""


def _press_key(drv: ReplDriver, key: str) -> None:
    before = _selected_line(drv)
    drv.send(key)
    drv.wait_for(lambda: _selected_line(drv) != before)


def test_cost_is_by_model_and_the_resume_picker_filters_and_moves(workdir: Path) -> None:
    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    script = {"responses": [
        {"steps": [{"text": "noted penguins"}], "usage": {"input": 100, "output": 1}},
        {"steps": [{"text": "noted walruses"}], "usage": {"input": 200, "output": 2}},
        {"steps": [{"text": "plain answer"}], "usage": {"input": 1000, "output": 10}},
        {"steps": [{"text": "third answer"}], "usage": {"input": 2000, "output": 20}},
    ]}
    with MockLLM(script) as srv:
        (home / "models.json").write_text(json.dumps({"providers": {"mock": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
            "models": [{"id": "plain"}, {"id": "third"}]}}}))
        for words in ("old talk about PENGUINS", "old talk about WALRUSES"):
            made = run_opi(["-p", "--model", "mock/plain", words], cwd=workdir)
            assert made.returncode == 0, made.stderr
        drv = repl(workdir, "--model", "mock/plain", rows=40)
        try:
            drv.type_line("first question")
            drv.wait_for("plain answer")
            drv.send("\x10")  # Ctrl+P: plain -> third, in the same session
            drv.wait_for("Switched to mock/third")
            drv.type_line("second question")
            drv.wait_for("third answer")
            drv.type_line("/cost")
            drv.wait_for(lambda: re.search(r"total\s+3\.0k\s+30", drv.screen_text()) is not None)
            text = drv.screen_text()
            assert re.search(r"mock/plain\s+1\.0k\s+10\s", text) and re.search(r"mock/third\s+2\.0k\s+20\s", text), text
            # /resume: the other sessions of this folder, filtered by what is typed
            drv.type_line("/resume")
            drv.wait_for("Resume which session?")
            drv.wait_for(lambda: "PENGUINS" in drv.screen_text() and "WALRUSES" in drv.screen_text())
            drv.send("penguins")
            drv.wait_for(lambda: "WALRUSES" not in drv.screen_text())
            assert "PENGUINS" in _selected_line(drv)
            drv.send("\r")
            drv.wait_for("Resumed")
            drv.type_line("/cost")
            drv.wait_for(lambda: re.search(r"mock/plain\s+100\s+1\s", drv.screen_text().split("Resumed")[-1]) is not None)
            assert "mock/third" not in drv.screen_text().split("Resumed")[-1]  # the resumed session's figures only
            # and with the arrow keys: back to the session that used both models
            drv.type_line("/resume")
            drv.wait_for("Resume which session?")
            drv.wait_for(lambda: "first question" in drv.screen_text())
            assert "first question" in _selected_line(drv)  # the newest first
            _press_key(drv, "\x1b[B")  # Down
            assert "WALRUSES" in _selected_line(drv)
            _press_key(drv, "\x1b[A")  # Up
            assert "first question" in _selected_line(drv)
            drv.send("\r")
            drv.wait_for(lambda: "Resume which session?" not in drv.screen_text())
            drv.type_line("/cost")
            drv.wait_for(lambda: re.search(r"total\s+3\.0k\s+30", drv.screen_text().split("Resumed")[-1]) is not None)
        finally:
            drv.close()
        assert [r["body"]["model"] for r in srv.requests] == ["plain", "plain", "plain", "third"]
