"""The real ``opi chat`` in a pseudo-terminal against the mock LLM (issue 5 acceptance).

What is asserted is what a user sees (a pyte screen plus its scrollback) and what the
model received (the mock's request log). No test asserts on wall-clock durations.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.pty


def last_user_text(request: dict[str, Any]) -> str:
    for m in reversed(request["body"]["messages"]):
        if m["role"] == "user":
            c = m["content"]
            return c if isinstance(c, str) else "".join(p.get("text", "") for p in c)
    return ""


def count(lines: list[str], needle: str) -> int:
    return sum(needle in line for line in lines)


PARAGRAPHS = [f"Paragraph {i:02d} says UNIQUE-{i:02d} once." for i in range(1, 31)]
LONG_REPLY = {
    "responses": [
        {"steps": [{"text": "\n\n".join(PARAGRAPHS)}], "delay_ms": 30, "chunk_size": 24},
    ]
}


def test_streamed_reply_appears_progressively_and_exactly_once(start_repl: Any) -> None:
    drv, _srv = start_repl(LONG_REPLY)
    drv.type_line("tell me a long story")
    # progressive: an early paragraph is on screen while the last one has not arrived
    drv.wait_for("UNIQUE-03")
    assert "UNIQUE-30" not in "\n".join(drv.all_lines())
    drv.wait_for(lambda: "UNIQUE-30" in "\n".join(drv.all_lines()) and "Working..." not in drv.screen_text())
    drv.pump(0.5)
    lines = drv.all_lines()
    for i in range(1, 31):
        assert count(lines, f"UNIQUE-{i:02d}") == 1, (i, "\n".join(lines))
    # the first paragraphs scrolled into the terminal's own history, in order
    joined = "\n".join(lines)
    positions = [joined.index(f"UNIQUE-{i:02d}") for i in range(1, 31)]
    assert positions == sorted(positions)
    assert count(lines, "tell me a long story") == 1


def _tool_then(command: str, *after: dict[str, Any]) -> dict[str, Any]:
    return {"responses": [
        {"steps": [{"text": "Running it."}, {"tool_call": {"name": "bash", "arguments": {"command": command}, "id": "call_1"}}]},
        *after,
    ]}


def test_steering_during_slow_tool_is_queued_then_delivered_after_it(start_repl: Any) -> None:
    script = _tool_then(
        "sleep 2; echo slept-$((1+1))",
        {"steps": [{"text": "Steer received: STEER-OK."}], "when_last_user_contains": "STEER-XYZ"},
        {"steps": [{"text": "No steering seen."}]},
    )
    drv, srv = start_repl(script, "--approval", "yolo")  # the tool runs without a question
    drv.type_line("run the slow thing")
    drv.wait_for("$ sleep 2; echo slept-")
    drv.type_line("STEER-XYZ please also check")
    drv.wait_for("Steering: STEER-XYZ please also check")
    assert "slept-2" not in drv.screen_text()  # still running: shown in the queue area
    drv.wait_for("Steer received: STEER-OK.")
    drv.wait_for(lambda: "Steering:" not in drv.screen_text())
    assert len(srv.requests) == 2
    second = srv.requests[1]["body"]["messages"]
    assert last_user_text(srv.requests[1]).startswith("STEER-XYZ")
    roles = [m["role"] for m in second]
    assert roles[-2:] == ["tool", "user"]  # the tool finished first, then the steering message
    assert "slept-2" in str(second[-2]["content"])


def test_follow_up_is_delivered_only_after_the_run_ends(start_repl: Any) -> None:
    script = _tool_then(
        "sleep 1; echo tool-finished",
        {"steps": [{"text": "First run finished."}]},
        {"steps": [{"text": "Follow-up answered."}], "when_last_user_contains": "FOLLOW-ABC"},
    )
    drv, srv = start_repl(script, "--approval", "yolo")  # the tool runs without a question
    drv.type_line("start working")
    drv.wait_for("$ sleep 1; echo tool-finished")
    drv.send("FOLLOW-ABC afterwards")
    drv.wait_for("FOLLOW-ABC afterwards")
    drv.send("\x1b\r")  # Alt+Enter
    drv.wait_for("Follow-up: FOLLOW-ABC afterwards")
    drv.wait_for("Follow-up answered.")
    assert len(srv.requests) == 3
    assert "FOLLOW-ABC" not in str(srv.requests[1]["body"]["messages"])
    assert last_user_text(srv.requests[2]).startswith("FOLLOW-ABC")
    assert srv.requests[2]["body"]["messages"][-2]["role"] == "assistant"  # after the final answer
    joined = "\n".join(drv.all_lines())
    assert joined.index("First run finished.") < joined.rindex("FOLLOW-ABC afterwards") < joined.index("Follow-up answered.")


def test_second_follow_up_binding_ctrl_s(start_repl: Any) -> None:
    script = _tool_then("sleep 1", {"steps": [{"text": "Done one."}]},
                        {"steps": [{"text": "Done two."}], "when_last_user_contains": "CTRL-S-FOLLOW"})
    drv, srv = start_repl(script, "--approval", "yolo")  # the tool runs without a question
    drv.type_line("go")
    drv.wait_for("$ sleep 1")
    drv.send("CTRL-S-FOLLOW")
    drv.wait_for("CTRL-S-FOLLOW")
    drv.send("\x13")
    drv.wait_for("Follow-up: CTRL-S-FOLLOW")
    drv.wait_for("Done two.")
    assert last_user_text(srv.requests[2]) == "CTRL-S-FOLLOW"


def _sleepers(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd[:2] == [b"sleep", marker.encode()]:
            pids.append(int(entry))
    return pids


def test_escape_stops_a_long_bash_call_and_kills_its_process_tree(start_repl: Any) -> None:
    marker = f"30.{os.getpid() % 1000:03d}7"
    script = _tool_then(f'bash -c "sleep {marker} & sleep {marker}"', {"steps": [{"text": "unused"}]})
    drv, srv = start_repl(script, "--approval", "yolo")  # the tool runs without a question
    drv.type_line("do the long thing")
    drv.wait_for(f"sleep {marker}")
    drv.wait_for(lambda: len(_sleepers(marker)) == 2)
    drv.send("STEER-BACK")
    drv.wait_for("STEER-BACK")
    drv.send("\r")  # queued as steering ...
    drv.wait_for("Steering: STEER-BACK")
    drv.send("\x1b")  # ... and Escape puts it back into the editor, then aborts
    drv.wait_for("Command aborted")
    drv.wait_for(lambda: not _sleepers(marker), timeout=10)
    drv.wait_for(lambda: "Working..." not in drv.screen_text())
    # (waited for, not read at once: a print above the input briefly erases and redraws it)
    drv.wait_for(lambda: any(line.startswith("› STEER-BACK") for line in drv.screen_lines()))
    drv.wait_for(lambda: "Steering:" not in drv.screen_text())
    assert len(srv.requests) == 1  # no model call after the abort


def test_commands_model_name_session_quit(start_repl: Any) -> None:
    drv, srv = start_repl({"responses": [{"steps": [{"text": "hi from the mock"}]}]})
    drv.type_line("/name my-test-session")
    drv.wait_for("Session name: my-test-session")
    drv.wait_for("• my-test-session")  # footer
    drv.type_line("/model mock-b")
    drv.wait_for("Switched to openai/mock-b")
    drv.wait_for(lambda: any(line.rstrip().endswith("mock-b") for line in drv.screen_lines()))
    drv.type_line("hello")
    drv.wait_for("hi from the mock")
    assert srv.requests[-1]["body"]["model"] == "mock-b"
    drv.type_line("/session")
    drv.wait_for("Messages")
    text = drv.screen_text()
    assert "1 user, 1 assistant" in text
    assert "ID" in text and "Cost" in text
    drv.type_line("/quit")
    assert drv.wait_exit() == 0
    files = list(Path(os.environ["OPI_HOME"]).glob("sessions/*/*.jsonl"))
    assert len(files) == 1
    entries = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert {"type": "session_info", "name": "my-test-session"}.items() <= next(
        e for e in entries if e["type"] == "session_info").items()
    assert any(e["type"] == "model_change" and e["modelId"] == "mock-b" for e in entries)
    # reopening shows where the conversation left off, and the name
    again, _ = start_repl({"responses": []}, "-c")
    again.wait_for("── resumed ──")
    assert "hi from the mock" in again.screen_text()
    again.wait_for("• my-test-session")


def test_unknown_command_lists_close_matches_and_sends_nothing(start_repl: Any) -> None:
    drv, srv = start_repl({"responses": [{"steps": [{"text": "should not be asked"}]}]})
    drv.type_line("/sesion")
    drv.wait_for("Unknown command /sesion")
    assert "/session" in drv.screen_text()
    drv.type_line("/modle gpt")
    drv.wait_for("Unknown command /modle")
    drv.pump(0.5)
    assert srv.requests == []


def test_model_picker_when_ambiguous(start_repl: Any) -> None:
    drv, _ = start_repl({"responses": []}, env={"ANTHROPIC_API_KEY": "sk-ant-test"})
    drv.type_line("/model sonnet")
    drv.wait_for("Models matching 'sonnet'")
    assert "anthropic/claude-sonnet-4-5" in drv.screen_text()
    drv.send("\x1b[B")  # Down: the second match
    drv.send("\r")
    drv.wait_for("Switched to anthropic/claude-sonnet-4-5")


def test_ctrl_c_twice_quits_and_ctrl_d_quits(start_repl: Any) -> None:
    drv, _ = start_repl({"responses": []})
    drv.send("\x03")
    drv.wait_for("Press ctrl+c again to exit")
    drv.send("\x03")
    assert drv.wait_exit() == 0
    drv2, _ = start_repl({"responses": []})
    drv2.send("\x04")
    assert drv2.wait_exit() == 0


def test_bang_command_runs_and_adds_output_to_context(start_repl: Any) -> None:
    drv, srv = start_repl({"responses": [{"steps": [{"text": "seen it"}]}]})
    drv.type_line("!echo bang-$((40+2))")
    drv.wait_for("bang-42")
    drv.type_line("!!echo hidden-$((1+1))")
    drv.wait_for("hidden-2")
    drv.type_line("what did you see?")
    drv.wait_for("seen it")
    body = str(srv.requests[0]["body"]["messages"])
    assert "bang-42" in body
    assert "hidden-2" not in body


def test_narrow_terminal_and_no_color(start_repl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    drv, _ = start_repl({"responses": [{"steps": [{"text": "A narrow reply that has to wrap around on a sixty column terminal without breaking anything."}]}]},
                        rows=24, cols=60)
    drv.type_line("hi")
    drv.wait_for("breaking")
    assert b"\x1b[38;" not in drv.raw.split(b"hi\r")[-1]  # no colours after the prompt
    drv.send("\x04")
    assert drv.wait_exit() == 0


def test_compact_dry_run_then_compact_records_a_compaction(start_repl: Any) -> None:
    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps({"compaction": {"keepRecentTokens": 10}}))
    script = {"responses": [
        {"steps": [{"text": "first answer " * 30}]},
        {"steps": [{"text": "second answer " * 30}]},
        {"steps": [{"text": "## Goal\nSUMMARY-OF-CHAT"}]},
        {"steps": [{"text": "## Goal\nSUMMARY-OF-PREFIX"}]},
    ]}
    drv, srv = start_repl(script)
    drv.type_line("question one")
    drv.wait_for("first answer")
    drv.type_line("question two")
    drv.wait_for("second answer")
    footer = re.compile(r"(~?)\d+\.\d%/128k")
    drv.wait_for(lambda: any((m := footer.search(line)) and m.group(1) == "" for line in drv.screen_lines()))
    drv.type_line("/compact --dry-run")
    drv.wait_for("Would summarise")
    assert len(srv.requests) == 2  # a dry run asks no model
    drv.type_line("/compact keep the goal")
    drv.wait_for("Compacted context")
    drv.wait_for(lambda: any((m := footer.search(line)) and m.group(1) == "~" for line in drv.screen_lines()))
    drv.send("\x04")
    assert drv.wait_exit() == 0
    entries = [json.loads(line) for f in home.glob("sessions/*/*.jsonl") for line in f.read_text().splitlines()]
    assert any(e["type"] == "compaction" for e in entries)
