"""Issue 11, "Bad input never becomes a traceback": the real ``opi`` against every case of the issue.

Each case is one line on stderr naming the file or setting, exit 2 for configuration and 1
for a failed run, no ``Traceback``, and no user data lost. Full disks and read-only folders
are real (see tests/faults.py: a tmpfs in a mount namespace where the kernel allows it,
else ``RLIMIT_FSIZE``); standard output that is full is ``/dev/full``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_opi
from tests.faults import full_disk_run, namespaces_available, read_only_run
from tests.mock_llm import MockLLM

EXAMPLE = ROOT / "sessions.example" / "plain-chat.jsonl"
SCRIPT = {"repeat_last": True, "responses": [{"steps": [{"text": "An answer. " * 2000}]}]}


@dataclass
class Case:
    workdir: Path
    home: Path  # OPI_HOME
    srv: MockLLM

    def args(self, *extra: str) -> list[str]:
        return ["--base-url", f"{self.srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
                "--api-key", "sk-test", "--model", "m", *extra]

    def opi(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return run_opi(args, cwd=self.workdir, **kw)  # type: ignore[arg-type]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


Outcome = tuple[subprocess.CompletedProcess[str], int, str]  # process, exit code, text stderr must contain


def full_disk_at_start(c: Case) -> Outcome:
    sessions = c.home / "sessions"
    proc = full_disk_run([sys.executable, "-m", "opi_cli", "-p", *c.args("hi")], sessions, free=0,
                         cwd=c.workdir, env=c.env())
    assert list(sessions.rglob("*.jsonl")) == []  # no half-written header left behind
    return proc, 1, f"opi: cannot create session file {sessions}/"


def full_disk_mid_run(c: Case) -> Outcome:
    sessions = c.home / "sessions"
    proc = full_disk_run([sys.executable, "-m", "opi_cli", "--json", *c.args("hi")], sessions, free=8192,
                         cwd=c.workdir, env=c.env())
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    [error] = [e for e in events if e["type"] == "persistence_error"]
    [session] = list(sessions.rglob("*.jsonl"))
    assert error["path"] == str(session) and "cannot write session file" in error["message"]
    assert events[-1]["type"] == "session_summary" and events[-1]["exitCode"] == 0
    lines = session.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])  # every line whole
    user = [json.loads(line) for line in lines[:-1] if b'"role":"user"' in line]
    assert user and user[0]["message"]["content"][0]["text"] == "hi"  # the prompt was kept
    doctor = c.opi(["sessions", "doctor", str(session)])
    assert "damaged" not in doctor.stdout and "torn" not in doctor.stdout
    return proc, 0, ""


def read_only_sessions(c: Case) -> Outcome:
    sessions = c.home / "sessions"
    sessions.mkdir(parents=True)
    proc = read_only_run([sys.executable, "-m", "opi_cli", "-p", *c.args("hi")], sessions, cwd=c.workdir, env=c.env())
    return proc, 2, f"opi: cannot create session folder {sessions}/"


def read_only_home(c: Case) -> Outcome:
    proc = read_only_run([sys.executable, "-m", "opi_cli", "-p", *c.args("hi")], c.home, cwd=c.workdir, env=c.env())
    return proc, 2, f"opi: cannot create session folder {c.home}/sessions/"


def session_dir_is_a_file(c: Case) -> Outcome:
    blocker = c.workdir / "notes.txt"
    blocker.write_text("mine")
    proc = c.opi(["-p", *c.args("--session-dir", str(blocker), "hi")])
    assert blocker.read_text() == "mine"
    return proc, 2, f"opi: session folder {blocker} is a file"


def session_dir_missing(c: Case) -> Outcome:
    missing = c.workdir / "no" / "such"
    proc = c.opi(["sessions", "--session-dir", str(missing)])
    return proc, 2, f"opi: no session folder at {missing} (--session-dir)"


def resume_from_missing_session_dir(c: Case) -> Outcome:
    missing = c.workdir / "nowhere"
    proc = c.opi(["resume", "abc", "-p", *c.args("--session-dir", str(missing), "hi")])
    return proc, 2, f"opi: no session folder at {missing} (--session-dir)"


def settings_wrong_type(c: Case) -> Outcome:
    path = c.home / "settings.json"
    path.write_text('{\n  "retry": {"maxRetries": "three"}\n}\n')
    proc = c.opi(["-p", *c.args("hi")])
    return proc, 2, f'opi: {path}:2: retry.maxRetries: must be an integer, not "three". Fix the file'


def project_settings_wrong_type(c: Case) -> Outcome:
    path = c.workdir / ".opi" / "settings.json"
    path.parent.mkdir()
    path.write_text('{"compaction": "off"}')
    proc = c.opi(["-p", *c.args("hi")])
    return proc, 2, f'opi: {path}:1: compaction: must be an object, not "off"'


def models_json_wrong_type(c: Case) -> Outcome:
    path = c.home / "models.json"
    path.write_text('{"providers": {"p": {"baseUrl": "http://h/v1",\n  "models": [{"id": "m", "maxTokens": null}]}}}')
    proc = c.opi(["-p", *c.args("hi")])
    return proc, 2, f"opi: {path}:2: providers.p.models[0].maxTokens: must be an integer, not null"


def auth_json_wrong_type(c: Case) -> Outcome:
    path = c.home / "auth.json"
    path.write_text('{"openai": {"type": "api_key", "key": 42}}')
    path.chmod(0o600)
    proc = c.opi(["-p", "--model", "openai/gpt-4o", "hi"])
    return proc, 2, f"opi: {path}:1: openai.key: must be a string, not 42"


def opi_home_is_a_file(c: Case) -> Outcome:
    shutil.rmtree(c.home)
    c.home.write_text("not a folder")
    proc = c.opi(["-p", *c.args("hi")])
    return proc, 2, f"opi: {c.home}/settings.json: cannot read: Not a directory"


def export_to_missing_folder(c: Case) -> Outcome:
    out = c.workdir / "missing" / "dir" / "out.html"
    proc = c.opi(["export", str(EXAMPLE), str(out)])
    return proc, 2, f"opi: {out}: No such file or directory"


def export_to_full_disk(c: Case) -> Outcome:
    out = c.workdir / "out.html"
    out.symlink_to("/dev/full")
    proc = c.opi(["export", str(EXAMPLE), str(out)])
    return proc, 1, f"opi: {out}: No space left on device"


def stdout_is_full(c: Case) -> Outcome:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "opi_cli", "-p", *c.args("--no-session", "hi")], cwd=c.workdir,
                              env=c.env(), stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    return proc, 1, "opi: cannot write to standard output: No space left on device"


def json_stdout_is_full(c: Case) -> Outcome:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "opi_cli", "--json", *c.args("hi")], cwd=c.workdir,
                              env=c.env(), stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    [session] = list((c.home / "sessions").rglob("*.jsonl"))
    assert b"An answer." in session.read_bytes()  # the run and its session went on
    return proc, 1, "opi: cannot write to standard output: No space left on device"


def deleted_working_folder(c: Case) -> Outcome:
    gone = c.workdir / "gone"
    gone.mkdir()
    script = (f'cd {gone} && rmdir {gone} && exec {sys.executable} -m opi_cli -p '
              + " ".join(f"'{a}'" for a in c.args("hi")))
    proc = subprocess.run(["sh", "-c", script], env=c.env(), capture_output=True, text=True, timeout=120, check=False)
    return proc, 2, "opi: the current folder no longer exists (it was deleted or moved); cd to an existing folder"


def doctor_repair_on_a_non_session(c: Case) -> Outcome:
    notes = c.workdir / "package.json"
    original = '{"name": "x", "version": "1.0.0"}\n'
    notes.write_text(original)
    proc = c.opi(["sessions", "doctor", str(notes), "--repair"])
    assert notes.read_text() == original and sorted(p.name for p in c.workdir.iterdir()) == ["package.json"]
    return proc, 2, f"opi: {notes} is not a session file (no session header and no session entries); nothing was changed."


CASES: dict[str, Callable[[Case], Outcome]] = {f.__name__: f for f in (
    full_disk_at_start, full_disk_mid_run, read_only_sessions, read_only_home, session_dir_is_a_file,
    session_dir_missing, resume_from_missing_session_dir, settings_wrong_type, project_settings_wrong_type,
    models_json_wrong_type, auth_json_wrong_type, opi_home_is_a_file, export_to_missing_folder,
    export_to_full_disk, stdout_is_full, json_stdout_is_full, deleted_working_folder,
    doctor_repair_on_a_non_session,
)}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_never_a_traceback(name: str, workdir: Path, opi_home: Path) -> None:
    if name.startswith("read_only") and not namespaces_available() and os.geteuid() == 0:
        pytest.fail("a read-only folder as root needs `unshare --user --map-root-user --mount` (see tests/faults.py)")
    with MockLLM(SCRIPT) as srv:
        proc, code, message = CASES[name](Case(workdir, opi_home, srv))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    if message:
        assert message in proc.stderr, proc.stderr
        [line] = [line for line in proc.stderr.splitlines() if line.startswith("opi: ") and "warning" not in line]
        assert line.startswith(message)
    assert "sk-test" not in proc.stderr
