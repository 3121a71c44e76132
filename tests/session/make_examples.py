"""Regenerate the opi-written files in sessions.example/ (run: python -m tests.session.make_examples).

They are written by the real SessionWriter and JsonlStore, so they are exactly the format
opi writes. The pi-written files (pi-0.58-v3.jsonl, pi-v1.jsonl) are hand-made from the
shapes in reference/pi.md and are not touched here.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from opi_cli.ai.types import ToolCall
from opi_cli.session import JsonlStore, SessionWriter

from .builders import assistant, tool_result, user

EXAMPLES = Path(__file__).resolve().parents[2] / "sessions.example"
CWD = "/home/user/project"


async def plain_chat(w: SessionWriter) -> None:
    await w.append_message(user("What is the capital of France?"))
    await w.append_message(assistant("Paris."))
    await w.append_message(user("And of Italy?"))
    await w.append_message(assistant("Rome."))


async def tool_run(w: SessionWriter) -> None:
    await w.append_message(user("How many Python files are in src/?"))
    call = ToolCall("call_1", "bash", {"command": "find src -name '*.py' | wc -l"})
    await w.append_message(assistant("Let me count them.", calls=(call,), thinking="I should run find."))
    await w.append_message(tool_result(call, "12"))
    await w.append_message(assistant("There are 12 Python files in src/."))


async def branched(w: SessionWriter) -> None:
    q = await w.append_message(user("Suggest a name for a CLI tool."))
    a = await w.append_message(assistant("How about `swift`?"))
    await w.append_message(user("Something longer, please."))
    await w.append_message(assistant("`swiftly-run`."))
    await w.move_to(a.id)  # back to the first answer: the abandoned branch stays in the file
    await w.append_label(q.id, "naming")
    await w.append_message(user("Shorter, then."))
    await w.append_message(assistant("`sw`."))
    await w.append_session_info("naming a tool")


async def compacted(w: SessionWriter) -> None:
    await w.append_message(user("Read config.toml and tell me the port."))
    await w.append_message(assistant("The port is 8080."))
    kept = await w.append_message(user("Change it to 9090."))
    await w.append_message(assistant("Done: config.toml now says port = 9090."))
    await w.append_compaction(
        "## Goal\nInspect and change the server port.\n\n## Progress\n### Done\n- [x] Read config.toml (port 8080)\n",
        kept.id,
        5400,
        {"readFiles": ["config.toml"], "modifiedFiles": []},
    )
    await w.append_message(user("What port is it now?"))
    await w.append_message(assistant("9090."))


SCRIPTS: dict[str, Callable[[SessionWriter], Awaitable[None]]] = {
    "plain-chat": plain_chat,
    "tool-run": tool_run,
    "branched": branched,
    "compacted": compacted,
}


async def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        store = JsonlStore(tmp, session_dir=tmp / "out")
        for name, script in SCRIPTS.items():
            w = await SessionWriter.create(store, cwd=CWD)
            await w.append_model_change("mock", "mock-model")
            await w.append_thinking_level_change("medium")
            await script(w)
            await w.close()
            assert w.handle.path is not None
            shutil.copyfile(w.handle.path, EXAMPLES / f"{name}.jsonl")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    asyncio.run(main())
