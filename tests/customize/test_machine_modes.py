"""Templates, skills and hooks in the machine modes too: --mode rpc and Claude Code's stream-json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_opi
from tests.customize.helpers import text, user_texts
from tests.mock_llm import MockLLM
from tests.rpc.client import RpcProcess, mock_args


def _template(workdir: Path) -> None:
    (workdir / ".opi" / "prompts").mkdir(parents=True)
    (workdir / ".opi" / "prompts" / "review.md").write_text("Review $1, then ${@:2}.\n")


def test_rpc_prompts_expand_templates(workdir: Path, opi_home: Path) -> None:
    _template(workdir)
    with MockLLM({"responses": [text("REVIEWED")]}) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            assert p.call("prompt", message="/review app.py list risks")["success"]
            p.event("agent_end")
            assert p.finish() == 0
        finally:
            p.kill()
        assert user_texts(srv.requests[0]) == ["Review app.py, then list risks."]


def test_stream_json_expands_and_a_blocked_prompt_is_one_line(workdir: Path, opi_home: Path) -> None:
    _template(workdir)
    (opi_home / "settings.json").write_text(json.dumps({"hooks": {"UserPromptSubmit": [{"hooks": [
        {"type": "command", "command": "grep -q secret && { echo 'no secrets, please' >&2; exit 2; }; exit 0"}]}]}}))
    with MockLLM({"responses": [text("REVIEWED")]}) as srv:
        ok = run_opi(["-p", "--output-format", "stream-json", *mock_args(srv), "/review app.py tests"], cwd=workdir)
        assert ok.returncode == 0, ok.stderr
        assert user_texts(srv.requests[0]) == ["Review app.py, then tests."]
        blocked = run_opi(["-p", "--output-format", "stream-json", *mock_args(srv), "the secret is 42"], cwd=workdir)
        assert len(srv.requests) == 1
    assert "opi: Prompt not sent: a UserPromptSubmit hook blocked it: no secrets, please" in blocked.stderr
    assert "Traceback" not in blocked.stderr
