"""The command line as a newcomer types it (issue 12): options anywhere, one prompt per run, a clean --help.

Every test runs the real ``opi`` process; the ones that talk to a model use the mock LLM
server and assert on its request log (what was sent, how many times).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_opi
from tests.mock_llm import MockLLM

OK = {"repeat_last": True, "responses": [{"steps": [{"text": "ok from the mock"}]}]}


def mock_args(srv: MockLLM) -> list[str]:
    return ["--provider", "openai", "--api", "openai-completions", "--base-url", f"{srv.base_url}/v1",
            "--api-key", "k", "--model", "mock-model"]


def user_texts(srv: MockLLM) -> list[str]:
    """The last user message of every request, in order."""
    out = []
    for r in srv.requests:
        users = [m for m in r["body"]["messages"] if m["role"] == "user"]
        c = users[-1]["content"]
        out.append(c if isinstance(c, str) else "".join(p.get("text", "") for p in c))
    return out


def _new_session(srv: MockLLM, cwd: Path) -> tuple[str, str]:
    proc = run_opi(["--json", *mock_args(srv), "remember PELICAN"], cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    return events[0]["id"], events[-1]["sessionFile"]


def test_options_before_resume_apply_to_it_and_nothing_else_is_sent(workdir: Path) -> None:
    with MockLLM(OK) as srv:
        sid, path = _new_session(srv, workdir)
        # the options come first, the subcommand after them: still `resume`, one prompt
        proc = run_opi([*mock_args(srv), "resume", path, "-p", "hi"], cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "ok from the mock\n"
        by_id = run_opi(["--model", "mock-model", *mock_args(srv)[:-2], "resume", sid[:6], "-p", "again"],
                        cwd=workdir)
        assert by_id.returncode == 0, by_id.stderr
        texts = user_texts(srv)
    assert texts == ["remember PELICAN", "hi", "again"]
    assert "PELICAN" in json.dumps(srv.requests[-1]["body"]["messages"])


def test_no_session_with_resume_is_a_usage_error_not_three_prompts(workdir: Path) -> None:
    with MockLLM(OK) as srv:
        sid, _ = _new_session(srv, workdir)
        proc = run_opi(["--no-session", "resume", sid[:6], "-p", *mock_args(srv), "hi"], cwd=workdir)
        assert proc.returncode == 2
        assert "--no-session" in proc.stderr and "Traceback" not in proc.stderr
        assert len(srv.requests) == 1  # only the run that made the session


def test_global_options_work_before_and_after_every_subcommand(workdir: Path) -> None:
    elsewhere = workdir / "store"
    with MockLLM(OK) as srv:
        made = run_opi(["--json", "--session-dir", str(elsewhere), *mock_args(srv), "stored elsewhere"], cwd=workdir)
        assert made.returncode == 0, made.stderr
    sid = json.loads(made.stdout.splitlines()[0])["id"]
    common = ["--model", "nosuch-model", "--debug", "--session-dir", str(elsewhere)]

    def before(*words: str) -> Any:
        return run_opi([*common, *words], cwd=workdir)

    def after(*words: str) -> Any:
        return run_opi([*words, *common], cwd=workdir)

    listing = before("sessions")
    assert listing.returncode == 0, listing.stderr
    assert sid[:8] in listing.stdout  # --session-dir reached `sessions`
    as_json = after("sessions", "--json")
    assert [json.loads(x)["id"] for x in as_json.stdout.splitlines()] == [sid]
    doctor = before("sessions", "doctor", sid[:6])
    assert doctor.returncode == 0 and "OK" in doctor.stdout, doctor.stdout + doctor.stderr
    doctor_after = after("sessions", "doctor", sid[:6])
    assert doctor_after.returncode == 0 and "OK" in doctor_after.stdout, doctor_after.stderr
    out = workdir / "out.md"
    export = after("export", sid[:6], str(out))
    assert export.returncode == 0, export.stderr
    assert "stored elsewhere" in out.read_text()
    models = before("models", "claude-haiku-4-5")
    assert models.returncode == 0 and "claude-haiku-4-5" in models.stdout
    schema = after("schema")
    assert schema.returncode == 0 and json.loads(schema.stdout)["oneOf"]


def test_a_word_naming_a_subcommand_is_never_a_prompt(workdir: Path) -> None:
    with MockLLM(OK) as srv:
        for words in (["-p", "resume"], ["-p", "sessions", "now"], ["--json", "export"]):
            proc = run_opi([*mock_args(srv), *words], cwd=workdir)
            assert proc.returncode == 2, (words, proc.stdout, proc.stderr)
            assert "Traceback" not in proc.stderr
        assert srv.requests == []
        # after `--` every word is the message, even one that names a command
        proc = run_opi(["-p", *mock_args(srv), "--", "resume"], cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert user_texts(srv) == ["resume"]


def test_the_words_of_one_invocation_are_one_prompt(workdir: Path) -> None:
    (workdir / "notes.txt").write_text("NOTES-CONTENT\n")
    with MockLLM(OK) as srv:
        proc = run_opi(["-p", *mock_args(srv), "summarise", "this", "file", "@notes.txt"], cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert len(srv.requests) == 1
        text = user_texts(srv)[0]
        assert text.endswith("summarise this file") and "NOTES-CONTENT" in text
        piped = run_opi(["-p", *mock_args(srv), "and", "then", "this"], cwd=workdir, stdin="from stdin\n")
        assert piped.returncode == 0, piped.stderr
        assert user_texts(srv)[1] == "from stdin\n\nand then this"


def test_several_prompts_only_when_asked_with_then(workdir: Path) -> None:
    with MockLLM(OK) as srv:
        proc = run_opi(["--json", *mock_args(srv), "write", "the", "tests", "--then", "run them",
                        "--then", "fix what fails"], cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        assert user_texts(srv) == ["write the tests", "run them", "fix what fails"]
        # the three prompts went to one session
        assert len(srv.requests[-1]["body"]["messages"]) == 6
        # repeating -p (as if it took the message) is refused with the way to do it
        twice = run_opi([*mock_args(srv), "-p", "first", "-p", "second"], cwd=workdir)
        assert twice.returncode == 2 and "--then" in twice.stderr
        assert len(srv.requests) == 3


_PYTHON_TYPE = re.compile(r"<(str|int|float|bool|list\[[a-z]+\]|int range|path|text)>|\blist\[str\]")


@pytest.mark.parametrize(
    "args",
    [["-h"], ["--model", "x", "--help"], ["chat", "--help"], ["resume", "--help"],
     ["sessions", "doctor", "--help"], ["export", "--help"], ["login", "--help"], ["run", "--help"]],
)
def test_help_shows_no_python_types_and_no_hidden_command(workdir: Path, args: list[str]) -> None:
    proc = run_opi(args, cwd=workdir, env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert not _PYTHON_TYPE.search(proc.stdout), proc.stdout
    assert "opi run" not in proc.stdout and "Usage: opi run" not in proc.stdout


def test_a_usage_error_of_the_default_command_never_names_the_hidden_run(workdir: Path) -> None:
    for args in (["--frobnicate", "hi"], ["-p", "--thinking"], ["--model"], ["--thinking", "loud", "hi"]):
        proc = run_opi(args, cwd=workdir, env={"COLUMNS": "100"})
        assert proc.returncode == 2, (args, proc.stderr)
        assert "opi run" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    unknown = run_opi(["--frobnicate", "hi"], cwd=workdir, env={"COLUMNS": "100"})
    assert "Usage: opi [OPTIONS] [MESSAGE]..." in unknown.stderr and "Try 'opi -h' for help." in unknown.stderr
    sub = run_opi(["sessions", "--frobnicate"], cwd=workdir)
    assert sub.returncode == 2 and "Usage: opi sessions" in sub.stderr and "Try 'opi sessions -h'" in sub.stderr


def test_root_help_lists_the_options_of_the_default_command(workdir: Path) -> None:
    proc = run_opi(["-p", "--help"], cwd=workdir, env={"COLUMNS": "100"})
    for flag in ("--model", "--then", "--thinking", "--base-url", "--no-session", "--json", "--print"):
        assert flag in proc.stdout, flag
    assert "Commands:" in proc.stdout and "login" in proc.stdout


def test_piped_print_output_is_not_hard_wrapped(workdir: Path) -> None:
    long_line = "word " * 60 + "END"
    table = "| a | b |\n|---|---|\n| " + "x" * 150 + " | y |"
    with MockLLM({"responses": [{"steps": [{"text": f"{long_line}\n\n{table}"}]}]}) as srv:
        proc = run_opi(["-p", *mock_args(srv), "hi"], cwd=workdir, env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{long_line}\n\n{table}\n"


def test_system_prompt_that_looks_like_a_missing_file_is_an_error(workdir: Path) -> None:
    (workdir / "prompt.md").write_text("FROM-THE-FILE")
    with MockLLM(OK) as srv:
        for flag, value in (("--system-prompt", "./missing.md"), ("--system-prompt", "missing.md"),
                            ("--append-system-prompt", "~/nope.md"), ("--append-system-prompt", "prompts/x.txt")):
            proc = run_opi(["-p", *mock_args(srv), flag, value, "hi"], cwd=workdir)
            assert proc.returncode == 2, (flag, value, proc.stderr)
            assert value in proc.stderr and "Traceback" not in proc.stderr
        assert srv.requests == []
        ok = run_opi(["-p", *mock_args(srv), "--system-prompt", "prompt.md", "--append-system-prompt",
                      "Answer in French/English.", "hi"], cwd=workdir)
        assert ok.returncode == 0, ok.stderr
        system = srv.requests[0]["body"]["messages"][0]["content"]
        assert "FROM-THE-FILE" in system and "Answer in French/English." in system


def test_models_lists_every_provider_opi_accepts(workdir: Path) -> None:
    from opi_cli.ai.catalog_data import PROVIDERS

    proc = run_opi(["models"], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    first_words = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    for p in PROVIDERS:
        assert p.name in first_words, p.name
    groq = next(line for line in proc.stdout.splitlines() if line.startswith("groq"))
    assert "GROQ_API_KEY" in groq
    local = next(line for line in proc.stdout.splitlines() if line.startswith("ollama"))
    assert "11434" in local


def test_models_json_reasoning_models_take_thinking_levels(workdir: Path, opi_home: Path) -> None:
    with MockLLM(OK) as srv:
        (opi_home / "models.json").write_text(json.dumps({"providers": {"mock": {
            "baseUrl": f"{srv.base_url}/v1", "api": "openai-completions", "apiKey": "x",
            "models": [{"id": "thinker", "reasoning": True}]}}}))
        high = run_opi(["-p", "--model", "mock/thinker", "--thinking", "high", "hi"], cwd=workdir)
        low = run_opi(["-p", "--model", "thinker:low", "hi"], cwd=workdir)
        assert high.returncode == 0 and low.returncode == 0, high.stderr + low.stderr
        assert [r["body"].get("reasoning_effort") for r in srv.requests] == ["high", "low"]
