"""A key given for one endpoint goes only there, across ``/model`` switches (issue 11).

Two mock servers: A is the ``--base-url`` the ``--api-key`` was given for; B is where
models.json sends the ``openai`` provider and where a second provider, ``other``, lives
with its own key. The mocks log a hash of every key they receive.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver

pytestmark = pytest.mark.pty

CLI_KEY = "sk-cli-key-AAAA0000"
OTHER_KEY = "sk-other-key-BBBB0000"
ENV_KEY = "sk-env-openai-CCCC0000"


def sha16(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def test_model_switch_keeps_the_key_with_its_endpoint(workdir: Path, opi_home: Path) -> None:
    a_script = {"responses": [
        {"steps": [{"text": "A answers one"}], "when_last_user_contains": "one"},
        {"steps": [{"text": "A answers two"}], "when_last_user_contains": "two"},
    ]}
    b_script = {"responses": [{"steps": [{"text": "B answers three"}], "when_last_user_contains": "three"}],
                "repeat_last": True}
    with MockLLM(a_script) as a, MockLLM(b_script) as b:
        (opi_home / "models.json").write_text(json.dumps({"providers": {
            "openai": {"baseUrl": f"{b.base_url}/v1"},
            "other": {"baseUrl": f"{b.base_url}/v1", "api": "openai-completions", "apiKey": OTHER_KEY,
                      "models": [{"id": "other-model"}]},
        }}))
        args = ["-m", "opi_cli", "chat", "--base-url", f"{a.base_url}/v1", "--provider", "openai", "--api",
                "openai-completions", "--api-key", CLI_KEY, "--model", "mock-model"]
        drv = ReplDriver(args, workdir, env={"OPENAI_API_KEY": ENV_KEY})
        try:
            drv.wait_ready()
            drv.type_line("one")
            drv.wait_for("A answers one")
            drv.type_line("/model gpt-4.1")
            drv.wait_for("Switched to openai/gpt-4.1")
            drv.type_line("two")
            drv.wait_for(lambda: "A answers two" in drv.screen_text() or len(b.requests) > 0)
            drv.type_line("/model other/other-model")
            drv.wait_for("Switched to other/other-model")
            drv.type_line("three")
            drv.wait_for("B answers three")
        finally:
            drv.close()
        a_log = [(r["body"]["model"], r["auth_sha256"]) for r in a.requests]
        b_log = [(r["body"]["model"], r["auth_sha256"]) for r in b.requests]
    assert a_log == [("mock-model", sha16(CLI_KEY)), ("gpt-4.1", sha16(CLI_KEY))]
    assert b_log == [("other-model", sha16(OTHER_KEY))]
