"""An example opi extension: a tool, a slash command and an event handler.

Use it as a package (``pip install ./examples/extension``: its ``opi.extensions`` entry
point names :func:`register`) or as a project file (copy this file to
``.opi/extensions/wordcount.py`` in a project; opi asks once before running a
project's own code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opi_cli import tool


def _counts(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return f"{path.name}: {len(text.splitlines())} lines, {len(text.split())} words, {len(text)} characters"


def register(opi: Any) -> None:
    """Called once when opi starts; ``opi`` is the extension API."""

    @tool
    def word_count(path: str) -> str:
        """Count the lines, words and characters of a text file.

        Args:
            path: The file, relative to the working folder.
        """
        return _counts(opi.cwd / path)

    opi.tool(word_count)
    finished: list[str] = []  # names of the tool calls that finished in this session

    @opi.command("wc", usage="[FILE]")
    def wc(ctx: Any, args: str) -> None:
        """Count the words of a file (without asking the model); no FILE: tool calls so far."""
        if args.strip():
            ctx.print(_counts(opi.cwd / args.strip()))
        else:
            ctx.print(f"{len(finished)} tool calls finished in this session")

    @opi.on("PreToolUse", matcher="bash")
    def no_force_push(event: dict[str, Any]) -> dict[str, Any] | None:
        command = str(event["tool_input"].get("command", ""))
        if "git push" in command and ("--force" in command or " -f" in command):
            return {"decision": "block", "reason": "Force pushes are not allowed here; push normally."}
        return None

    @opi.on("tool_execution_end")
    def remember(event: Any) -> None:
        finished.append(event.tool_name)
