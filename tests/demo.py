"""``make demo``: the real ``opi chat`` against the scripted mock LLM, in a throwaway repository.

No real model is involved: the mock server (tests/mock_llm.py) plays a fixed script that
shows streaming markdown, thinking, a ``read``, an ``edit`` with its coloured diff and a
slow ``bash`` call. While that call runs, type a steering message containing the word
"docstring" and press Enter: the script has a reply that reacts to it.

Run: ``python -m tests.demo`` (``--print-script`` writes the script and exits).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.mock_llm import MockLLM

ROOT = Path(__file__).resolve().parent.parent

GREET = '''import sys


def greet(name):
    return "Helo, " + name + "!"


if __name__ == "__main__":
    print(greet(sys.argv[1] if len(sys.argv) > 1 else "world"))
'''

FIRST_MESSAGE = "The greeting in greet.py looks wrong. Please fix it and check it runs."

SCRIPT: dict[str, Any] = {
    "model": "mock-model",
    "repeat_last": True,
    "responses": [
        {
            "steps": [
                {"thinking": "The user says the greeting is wrong. I should read greet.py before changing anything."},
                {"text": "Let me look at `greet.py` first."},
                {"tool_call": {"name": "read", "arguments": {"path": "greet.py"}}},
            ],
            "delay_ms": 35, "chunk_size": 6,
        },
        {
            "steps": [
                {"thinking": "Line 5 spells it 'Helo'. A one-word edit fixes it."},
                {"text": "There is a typo on line 5 (**Helo**). Fixing it:"},
                {"tool_call": {"name": "edit", "arguments": {
                    "path": "greet.py", "oldText": '"Helo, "', "newText": '"Hello, "'}}},
            ],
            "delay_ms": 35, "chunk_size": 6,
        },
        {
            "steps": [
                {"text": "Now let me run it. The check takes a few seconds: *try typing a message that "
                         "mentions a docstring and press Enter* to steer me while it runs."},
                {"tool_call": {"name": "bash", "arguments": {
                    "command": "for i in 1 2 3 4 5; do echo \"checking ($i/5)...\"; sleep 1; done; python3 greet.py Ada"}}},
            ],
            "delay_ms": 30, "chunk_size": 6,
        },
        {
            "when_last_user_contains": "docstring",
            "steps": [
                {"thinking": "A steering message arrived after the check: the user wants a docstring too."},
                {"text": "The check passed. You asked for a docstring as well, adding it now:"},
                {"tool_call": {"name": "edit", "arguments": {
                    "path": "greet.py", "oldText": "def greet(name):\n",
                    "newText": 'def greet(name):\n    """Return a friendly greeting for `name`."""\n'}}},
            ],
            "delay_ms": 30, "chunk_size": 6,
        },
        {
            "steps": [
                {"text": "## Done\n\n"
                         "- fixed the typo: `Helo` is now `Hello`\n"
                         "- ran the script: it prints `Hello, Ada!`\n\n"
                         "```python\ndef greet(name):\n    return \"Hello, \" + name + \"!\"\n```\n\n"
                         "Anything else? (This is a scripted demo: try `/session`, `/hotkeys`, `!ls`, "
                         "Ctrl+O, Ctrl+T, then Ctrl+D to leave.)"},
            ],
            "delay_ms": 25, "chunk_size": 8,
        },
        {"steps": [{"text": "This is the end of the scripted demo: the mock model has nothing more to say. "
                            "Press Ctrl+D to leave."}]},
    ],
}

BANNER = """\
\x1b[1;43;30m DEMO — scripted mock model, no real LLM \x1b[0m
The replies come from tests/mock_llm.py playing a fixed script,
in a throwaway repository: {repo}
The first message is sent for you. While the agent runs its slow
check, type a message that mentions a \x1b[1mdocstring\x1b[0m and press Enter
(a steering message). Alt+Enter or Ctrl+S queues a follow-up,
Escape stops the agent, Ctrl+D quits.
"""


def make_repo(base: Path) -> Path:
    repo = base / "demo-repo"
    repo.mkdir()
    (repo / "greet.py").write_text(GREET, encoding="utf-8")
    (repo / "README.md").write_text("# demo\n\nA tiny project for the opi demo.\n", encoding="utf-8")
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=False)
    return repo


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--print-script" in args:
        print(json.dumps(SCRIPT, indent=2))
        return 0
    with tempfile.TemporaryDirectory(prefix="opi-demo-") as tmp:
        base = Path(tmp)
        repo = make_repo(base)
        env = dict(os.environ)
        env.update({"OPI_HOME": str(base / "opi-home"), "PYTHONPATH": str(ROOT)})
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            env.pop(var, None)
        with MockLLM(SCRIPT) as srv:
            sys.stdout.write(BANNER.format(repo=repo) + "\n")
            sys.stdout.flush()
            cmd = [
                sys.executable, "-m", "opi_cli", "chat",
                "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api", "openai-completions",
                "--api-key", "demo", "--model", "mock-model", "--tools", "read,bash,edit,write",
                "--approval", "yolo",  # the scripted steps run without permission questions
                FIRST_MESSAGE,
            ]
            return subprocess.call(cmd, cwd=repo, env=env)


if __name__ == "__main__":
    sys.exit(main())
