"""The quick exit loses nothing: output flushed, threads and exit callbacks finished, sessions whole.

``opi`` ends with ``os._exit`` once a command returns (opi_cli/cli/process_exit.py), skipping
the interpreter's teardown. These tests check what a normal exit would have guaranteed, on
the real process and on :func:`exit_now` in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT, run_opi
from tests.mock_llm import MockLLM


def _env() -> dict[str, str]:
    """This environment, with buffered standard streams (as a user's shell has them)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _python(code: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = _env()
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT, timeout=60,
                          **kwargs)  # type: ignore[call-overload,no-any-return]


def test_exit_now_finishes_threads_runs_atexit_and_flushes_in_order(tmp_path: Path) -> None:
    marker = tmp_path / "written-by-thread"
    proc = _python(f"""
        import atexit, sys, threading, time
        from opi_cli.cli.process_exit import exit_now
        atexit.register(lambda: sys.stdout.write("[atexit]"))
        def late():
            time.sleep(0.3)
            open({str(marker)!r}, "w").write("done")
        threading.Thread(target=late).start()
        sys.stdout.write("x" * 200000)   # still in the buffer: exit_now must flush it
        sys.stderr.write("warning on stderr")
        exit_now(3)
    """, capture_output=True)
    assert proc.returncode == 3
    assert proc.stdout == b"x" * 200000 + b"[atexit]"
    assert proc.stderr == b"warning on stderr"
    assert marker.read_text() == "done"  # a non-daemon thread finished first, as at a normal exit


def test_exit_now_with_a_closed_stdout_exits_120_without_a_traceback() -> None:
    code = """
        import sys
        from opi_cli.cli.process_exit import exit_now
        sys.stdin.read()          # wait until the reader below has closed its end
        sys.stdout.write("lost" * 100)  # buffered: the final flush is what fails
        exit_now(0)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=_env(), cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    proc.stdout.close()  # the reader went away (like `opi -p ... | head -c0`)
    proc.stdin.close()
    assert proc.wait(timeout=60) == 120
    assert b"Traceback" not in proc.stderr.read()


def test_a_long_answer_reaches_a_pipe_whole_and_the_session_is_complete(workdir: Path, opi_home: Path) -> None:
    answer = "".join(f"line {i:06d} of a long answer\n" for i in range(12000))  # ~330 KB
    with MockLLM({"responses": [{"steps": [{"text": answer}], "chunk_size": 4096}]}) as srv:
        proc = run_opi(["-p", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
                        "openai-completions", "--api-key", "sk-test", "--model", "m", "write a lot"], cwd=workdir,
                       env={"PYTHONUNBUFFERED": ""})  # buffered stdout, as in a user's shell
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == answer
    files = list((opi_home / "sessions").rglob("*.jsonl"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    assert raw.endswith(b"\n")
    entries = [json.loads(line) for line in raw.splitlines()]
    messages = [e["message"] for e in entries if e.get("type") == "message"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"][0]["text"] == answer


def test_json_and_errors_end_with_their_last_line(workdir: Path) -> None:
    script = {"responses": [{"error": {"status": 401, "message": "bad key", "type": "invalid_request_error"}}]}
    with MockLLM(script) as srv:
        proc = run_opi(["--json", "--no-session", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
                        "openai-completions", "--api-key", "sk-bad", "--model", "m", "hi"], cwd=workdir,
                       env={"PYTHONUNBUFFERED": ""})
    assert proc.returncode == 1
    assert json.loads(proc.stdout.splitlines()[-1])["type"] == "session_summary"
    assert proc.stderr.endswith("\n") and "bad key" in proc.stderr.splitlines()[-1]
