"""Issue 16 in the real REPL: the permission question, /undo and /rewind after a resume, the spend footer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_opi
from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver, chat_args

pytestmark = pytest.mark.pty


def bash_turn(command: str, call_id: str, when: str) -> dict[str, Any]:
    return {"steps": [{"tool_call": {"name": "bash", "arguments": {"command": command}, "id": call_id}}],
            "when_last_user_contains": when}


def reply(text: str, when: str) -> dict[str, Any]:
    return {"steps": [{"text": text}], "when_last_user_contains": when}


def flat(drv: ReplDriver) -> str:
    """Everything shown so far as one line (wrapped messages joined)."""
    return " ".join(" ".join(drv.all_lines()).split())


def shown(drv: ReplDriver, needle: str) -> bool:
    """``needle`` was shown, however lines were wrapped (long paths break anywhere): spaces ignored."""
    return "".join(needle.split()) in "".join("".join(drv.all_lines()).split())


def tool_result_text(request: dict[str, Any], call_id: str) -> str:
    for m in request["body"]["messages"]:
        if m["role"] == "tool" and m.get("tool_call_id") == call_id:
            return str(m["content"])
    return ""


def test_ask_allow_once_then_for_the_session(start_repl: Any, workdir: Path) -> None:
    script = {"responses": [
        bash_turn("seq 1 >> log.txt", "a1", "ONE"), reply("did one", "ONE"),
        bash_turn("seq 1 >> log.txt", "a2", "TWO"), reply("did two", "TWO"),
        bash_turn("seq 1 >> log.txt", "a3", "THREE"), reply("did three", "THREE"),
        bash_turn("seq 1 >> log.txt", "a4", "FOUR"), reply("did four", "FOUR"),
    ]}
    drv, _ = start_repl(script)
    drv.wait_for("approval: auto")
    drv.type_line("ONE")
    drv.wait_for("Allow bash?")
    screen = drv.screen_text()
    assert "$ seq 1 >> log.txt" in screen and "no rule allows: seq 1" in screen
    assert "1. Yes, allow once" in screen and "4. No, and tell the model why" in screen
    assert "2. Yes, and allow for this session: Bash(seq 1)" in screen
    assert not (workdir / "log.txt").exists()
    drv.send("1")
    drv.wait_for("did one")
    assert (workdir / "log.txt").read_text() == "1\n"
    drv.type_line("TWO")  # allowed once only: asked again
    drv.wait_for("Allow bash?")
    drv.send("2")
    drv.wait_for("did two")
    drv.type_line("THREE")  # allowed for the session: runs without a question
    drv.wait_for("did three")
    assert (workdir / "log.txt").read_text() == "1\n" * 3
    assert "Allow bash?" not in drv.screen_text()
    drv.send("\x04")
    assert drv.wait_exit() == 0
    assert not (workdir / ".opi" / "settings.json").exists()  # "for this session" saves nothing


def test_always_allow_saves_the_rule_without_clobbering_other_keys(start_repl: Any, workdir: Path) -> None:
    (workdir / ".opi").mkdir()
    settings = workdir / ".opi" / "settings.json"
    settings.write_text(json.dumps({"defaultThinkingLevel": "low", "permissions": {"deny": ["Bash(rm:*)"]}}))
    script = {"responses": [bash_turn("touch made.txt", "a1", "GO"), reply("made it", "GO")]}
    drv, _ = start_repl(script)
    drv.type_line("GO")
    drv.wait_for("Allow bash?")
    drv.send("3")
    drv.wait_for("made it")
    drv.wait_for(lambda: "Saved Bash(touch made.txt)" in flat(drv))
    assert (workdir / "made.txt").exists()
    saved = json.loads(settings.read_text())
    assert saved == {"defaultThinkingLevel": "low",
                     "permissions": {"deny": ["Bash(rm:*)"], "allow": ["Bash(touch made.txt)"]}}
    drv.send("\x04")
    assert drv.wait_exit() == 0
    # the saved rule works in the next run, headless and in auto mode
    with MockLLM({"responses": [bash_turn("touch again.txt && touch made.txt", "b1", "x"), reply("ok", "x")]}) as s2:
        proc = run_opi(["-p", "--approval", "auto", "--base-url", f"{s2.base_url}/v1", "--provider", "openai",
                        "--api", "openai-completions", "--api-key", "x", "--model", "m", "x"], cwd=workdir)
    assert proc.returncode == 0 and not (workdir / "again.txt").exists()  # only `touch made.txt` is allowed


def test_always_allow_never_overwrites_a_malformed_settings_file(start_repl: Any, workdir: Path) -> None:
    script = {"responses": [bash_turn("touch made.txt", "a1", "GO"), reply("made it", "GO")]}
    drv, _ = start_repl(script)
    (workdir / ".opi").mkdir()
    settings = workdir / ".opi" / "settings.json"
    broken = '{"defaultThinkingLevel": "low",\n  "oops"\n}\n'
    settings.write_text(broken)
    drv.type_line("GO")
    drv.wait_for("Allow bash?")
    drv.send("3")
    drv.wait_for("made it")
    drv.wait_for(lambda: "allowed for this session only" in flat(drv))
    assert "Not saved" in flat(drv) and "it was not changed" in flat(drv)
    assert settings.read_text() == broken
    drv.send("\x04")
    drv.wait_exit()


def test_deny_with_a_message_reaches_the_model(start_repl: Any, workdir: Path) -> None:
    script = {"responses": [bash_turn("rm -rf build", "a1", "CLEAN"),
                            {"steps": [{"text": "understood, not deleting"}]}]}
    drv, srv = start_repl(script)
    drv.type_line("CLEAN")
    drv.wait_for("Allow bash?")
    drv.send("4")
    drv.wait_for("Type a reason for the model")
    drv.type_line("keep build, it is needed")
    drv.wait_for("understood, not deleting")
    result = tool_result_text(srv.requests[1], "a1")
    assert "Permission denied: the user refused this call." in result
    assert "The user says: keep build, it is needed" in result
    drv.send("\x04")
    drv.wait_exit()


def test_edit_outside_the_folder_shows_its_diff(start_repl: Any, workdir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.py"
    target.write_text("def f():\n    return 1\n")
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "read", "id": "r1", "arguments": {"path": str(target)}}}],
         "when_last_user_contains": "FIX"},
        {"steps": [{"tool_call": {"name": "edit", "id": "e1", "arguments": {
            "path": str(target), "oldText": "return 1", "newText": "return 2"}}}], "when_last_user_contains": "FIX"},
        reply("fixed", "FIX"),
    ]}
    drv, _ = start_repl(script)
    drv.type_line("FIX")
    drv.wait_for("Allow read?")  # a read outside the folder asks too
    assert "read outside the working folder" in drv.screen_text()
    drv.send("y")
    drv.wait_for("Allow edit?")
    screen = drv.screen_text()
    assert "edit outside the working folder" in screen
    assert "-2     return 1" in screen and "+2     return 2" in screen
    assert target.read_text() == "def f():\n    return 1\n"
    drv.send("y")
    drv.wait_for("fixed")
    assert target.read_text() == "def f():\n    return 2\n"
    drv.send("\x04")
    drv.wait_exit()


def test_typing_a_message_while_asked_steers(start_repl: Any, workdir: Path) -> None:
    script = {"responses": [
        bash_turn("touch nope.txt", "a1", "START"),
        reply("steered: using python instead", "USE-PYTHON"),
    ]}
    drv, srv = start_repl(script)
    drv.type_line("START")
    drv.wait_for("Allow bash?")
    drv.type_line("USE-PYTHON instead of touch")
    drv.wait_for("steered: using python instead")
    assert not (workdir / "nope.txt").exists()
    second = srv.requests[1]["body"]["messages"]
    assert second[-1]["role"] == "user" and "USE-PYTHON" in str(second[-1]["content"])
    assert "the user sent a message instead" in tool_result_text(srv.requests[1], "a1")
    drv.send("\x04")
    drv.wait_exit()


def test_escape_while_asked_stops_the_agent(start_repl: Any, workdir: Path) -> None:
    script = {"responses": [bash_turn("touch nope.txt", "a1", "START"), reply("should not come", "START")]}
    drv, srv = start_repl(script)
    drv.type_line("START")
    drv.wait_for("Allow bash?")
    drv.send("\x1b")
    drv.wait_for(lambda: "Allow bash?" not in drv.screen_text() and "Working..." not in drv.screen_text())
    drv.wait_for(lambda: any(line.startswith("›") for line in drv.screen_lines()))
    assert len(srv.requests) == 1 and not (workdir / "nope.txt").exists()
    assert "should not come" not in drv.screen_text()
    drv.send("\x04")
    assert drv.wait_exit() == 0


# -- a project's settings cannot loosen the user's unless the folder is trusted ------------------


@pytest.mark.parametrize("answer", ["n", "y"])
def test_a_projects_yolo_and_allow_rules_need_the_folder_trusted(workdir: Path, answer: str) -> None:
    (workdir / ".opi").mkdir()
    project = workdir / ".opi" / "settings.json"
    project.write_text(json.dumps({"defaultApproval": "yolo", "permissions": {"allow": ["Bash(touch:*)"]}}))
    script = {"responses": [bash_turn("touch pwned", "a1", "GO"), reply("touched", "GO")]}
    with MockLLM(script) as srv:
        drv = ReplDriver(chat_args(srv), workdir, rows=40, cols=120)
        try:
            drv.wait_for("Trust this folder, now and in later sessions? [y/N]")
            assert shown(drv, "defaultApproval: yolo") and shown(drv, "permissions.allow: Bash(touch:*)")
            drv.send(f"{answer}\r")
            drv.wait_ready()
            drv.wait_for("approval: auto" if answer == "n" else "approval: yolo")
            drv.type_line("GO")
            if answer == "n":
                drv.wait_for("Allow bash?")
                drv.wait_for(lambda: shown(drv, f"Ignored defaultApproval, permissions.allow in {project}"))
                assert not (workdir / "pwned").exists()
            else:
                drv.wait_for("touched")
                assert (workdir / "pwned").exists() and "Allow bash?" not in flat(drv) and "Ignored" not in flat(drv)
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()
    remembered = json.loads((Path(os.environ["OPI_HOME"]) / "trusted-projects.json").read_text())
    assert remembered == {str(workdir): answer == "y"}


# -- /undo and /rewind after a resume --------------------------------------------------------------

ORIGINAL = b"\xef\xbb\xbfalpha\r\nbeta\xfe\r\n"


def two_turns_of_edits() -> dict[str, Any]:
    return {"responses": [
        {"steps": [{"tool_call": {"name": "read", "id": "r1", "arguments": {"path": "a.txt"}}}],
         "when_last_user_contains": "FIRST"},
        {"steps": [{"tool_call": {"name": "edit", "id": "e1", "arguments": {
            "path": "a.txt", "oldText": "alpha", "newText": "ALPHA"}}},
                   {"tool_call": {"name": "write", "id": "w1", "arguments": {"path": "new.txt", "content": "new\n"}}}],
         "when_last_user_contains": "FIRST"},
        reply("first done", "FIRST"),
        {"steps": [{"tool_call": {"name": "edit", "id": "e2", "arguments": {
            "path": "a.txt", "oldText": "beta", "newText": "BETA"}}}], "when_last_user_contains": "SECOND"},
        reply("second done", "SECOND"),
        reply("after rewind", "AGAIN"),
    ]}


def resume_driver(srv: MockLLM, session: str, cwd: Path) -> ReplDriver:
    args = ["-m", "opi_cli", "resume", session, "--base-url", f"{srv.base_url}/v1", "--provider", "openai",
            "--api", "openai-completions", "--api-key", "x", "--model", "mock-model"]
    drv = ReplDriver(args, cwd, rows=40)
    drv.wait_ready()
    return drv


def edit_headless_in_two_turns(srv: MockLLM, cwd: Path) -> str:
    """Run ``opi --json FIRST --then SECOND`` (two turns of edits); returns the session id."""
    proc = run_opi(["--json", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
                    "openai-completions", "--api-key", "x", "--model", "mock-model", "FIRST", "--then", "SECOND"],
                   cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout.splitlines()[0])["id"])


def test_undo_and_rewind_restore_files_byte_for_byte_after_a_resume(workdir: Path) -> None:
    (workdir / "a.txt").write_bytes(ORIGINAL)
    with MockLLM(two_turns_of_edits()) as srv:
        session = edit_headless_in_two_turns(srv, workdir)
        after_first = ORIGINAL.replace(b"alpha", b"ALPHA")
        assert (workdir / "a.txt").read_bytes() == after_first.replace(b"beta", b"BETA")
        drv = resume_driver(srv, session[:8], workdir)
        try:
            drv.type_line("/undo")
            drv.wait_for("Undid the file changes of “SECOND”")
            assert "changes made by bash are not tracked" in drv.screen_text()
            assert (workdir / "a.txt").read_bytes() == after_first
            assert (workdir / "new.txt").read_text() == "new\n"
            drv.send("\x1b\x1b")  # Escape twice on the empty input opens /rewind
            drv.wait_for("Rewind to just before which message?")
            screen = drv.screen_text()
            assert "changes made by bash are not tracked" in screen
            assert "FIRST  (2 files changed since)" in screen
            drv.type_line("1")
            drv.wait_for("Restore what?")
            drv.type_line("1")  # conversation and files
            drv.wait_for("Conversation rewound")
            assert (workdir / "a.txt").read_bytes() == ORIGINAL
            assert not (workdir / "new.txt").exists()
            drv.wait_for(lambda: any(line.startswith("› FIRST") for line in drv.screen_lines()))  # in the input
            drv.send("\x15")  # clear the input
            drv.type_line("AGAIN")
            drv.wait_for("after rewind")
            sent = json.dumps(srv.requests[-1]["body"]["messages"])
            assert "FIRST" not in sent and "SECOND" not in sent and "AGAIN" in sent
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()


def test_snapshots_survive_a_crash_right_after_the_tool_result(workdir: Path, spawn_opi: Any) -> None:
    (workdir / "a.txt").write_bytes(ORIGINAL)
    script = {"responses": [
        *two_turns_of_edits()["responses"][:2],
        {"silent": True},  # the next request is never answered: opi is still running when killed
    ]}
    with MockLLM(script) as srv:
        proc = spawn_opi(["--json", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
                          "openai-completions", "--api-key", "x", "--model", "mock-model", "FIRST"], cwd=workdir)
        assert proc.stdout is not None
        session = ""
        for line in proc.stdout:
            event = json.loads(line)
            session = session or str(event["id"])
            if event["type"] == "tool_execution_end" and event["toolCallId"] == "w1":
                proc.kill()  # SIGKILL: no clean-up, no flush
                break
        assert proc.wait() == -9
        assert (workdir / "a.txt").read_bytes() == ORIGINAL.replace(b"alpha", b"ALPHA")
        assert (workdir / "new.txt").read_text() == "new\n"
        drv = resume_driver(srv, session[:8], workdir)
        try:
            drv.type_line("/undo")
            drv.wait_for("Undid the file changes of “FIRST”")
            assert (workdir / "a.txt").read_bytes() == ORIGINAL
            assert not (workdir / "new.txt").exists()
            drv.send("\x04")
            assert drv.wait_exit() == 0
        finally:
            drv.close()


def test_a_snapshot_that_cannot_be_stored_is_a_notice(start_repl: Any, workdir: Path, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    (sessions / "file-snapshots").write_text("not a folder")  # where the blobs would go
    (workdir / "a.txt").write_text("before\n")
    script = {"responses": [
        {"steps": [{"tool_call": {"name": "write", "id": "w1", "arguments": {"path": "a.txt", "content": "after\n"}}}]},
        {"steps": [{"text": "written"}]},
    ]}
    drv, _ = start_repl(script, "--session-dir", str(sessions), "--approval", "yolo", rows=40)
    drv.type_line("change it")
    drv.wait_for("written")
    assert (workdir / "a.txt").read_text() == "after\n"
    drv.wait_for(lambda: shown(drv, f"Cannot keep a snapshot of {workdir / 'a.txt'} for /undo and /rewind"))
    drv.send("\x04")
    assert drv.wait_exit() == 0


def test_rewind_files_only_keeps_the_conversation(workdir: Path) -> None:
    (workdir / "a.txt").write_bytes(ORIGINAL)
    with MockLLM(two_turns_of_edits()) as srv:
        drv = resume_driver(srv, edit_headless_in_two_turns(srv, workdir), workdir)
        try:
            drv.type_line("/rewind")
            drv.wait_for("Rewind to just before which message?")
            drv.type_line("2")
            drv.wait_for("Restore what?")
            drv.type_line("files only")
            drv.wait_for("Restored a.txt")
            assert (workdir / "a.txt").read_bytes() == ORIGINAL.replace(b"alpha", b"ALPHA")
            assert (workdir / "new.txt").exists()
            drv.type_line("AGAIN")
            drv.wait_for("after rewind")
            assert "SECOND" in json.dumps(srv.requests[-1]["body"]["messages"])
            drv.send("\x04")
            drv.wait_exit()
        finally:
            drv.close()


def test_footer_shows_spend_against_the_ceiling(workdir: Path) -> None:
    home = Path(os.environ["OPI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    usage = {"input": 100, "output": 10, "cache_read": 0, "cache_write": 0}
    with MockLLM({"responses": [{"steps": [{"text": "priced reply"}], "usage": usage}]}) as srv:
        (home / "models.json").write_text(json.dumps({"providers": {"mockp": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
            "models": [{"id": "priced", "cost": {"input": 1000, "output": 1000}}]}}}))
        drv = ReplDriver(["-m", "opi_cli", "chat", "--model", "mockp/priced", "--max-cost", "1"], workdir)
        try:
            drv.wait_ready()
            drv.wait_for("$0.000/$1.00")
            drv.type_line("hello")
            drv.wait_for("priced reply")
            drv.wait_for("$0.110/$1.00")
            drv.send("\x04")
            drv.wait_exit()
        finally:
            drv.close()
