"""Build the system prompt: base (default or custom), append text, project context, date, cwd.

Order (reference/pi.md §9.2): the base prompt is ``--system-prompt`` (text or file), else
``.opi/SYSTEM.md`` in the cwd, else ``OPI_HOME/SYSTEM.md``, else the default, which lists
the active tools and guidelines chosen from them. Then the append text
(``--append-system-prompt``, else ``.opi/APPEND_SYSTEM.md``, else ``OPI_HOME/APPEND_SYSTEM.md``),
then ``# Project Context`` with ``OPI_HOME/AGENTS.md`` and one ``AGENTS.md`` (or ``CLAUDE.md``)
per folder from ``/`` down to the cwd, then the skills (name, description and location
only, when the ``read`` tool is active: the model reads a skill's file when a task matches),
then the date and the cwd.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from opi_cli._util.records import record
from opi_cli.errors import UsageError

__all__ = [
    "ContextFile",
    "SystemPromptInputs",
    "build_system_prompt",
    "find_context_files",
    "looks_like_file",
    "skills_block",
    "text_or_file",
]

_DEFAULT_SNIPPETS = {
    "read": "Read file contents",
    "bash": "Execute bash commands (ls, grep, find, etc.)",
    "edit": "Make surgical edits to files (find exact text and replace)",
    "write": "Create or overwrite files",
    "grep": "Search file contents for patterns (respects .gitignore)",
    "find": "Find files by glob pattern (respects .gitignore)",
    "ls": "List directory contents",
}


@record
class ContextFile:
    path: Path
    content: str


@record
class SystemPromptInputs:
    cwd: Path
    home: Path
    tools: Sequence[tuple[str, str]]  # (name, one-line description), active tools in order
    custom_prompt: str | None = None  # --system-prompt (already resolved from a file)
    append_prompt: str | None = None  # --append-system-prompt
    today: date | None = None
    context_files: Sequence[ContextFile] | None = None
    skills: Sequence[tuple[str, str, str]] = ()  # (name, description, SKILL.md path)


_FILE_LIKE = re.compile(r"^(~|\.{1,2}/|/)|/|\.[A-Za-z0-9]{1,8}$")


def looks_like_file(value: str) -> bool:
    """Whether ``value`` reads as a file name: one word with a folder part or an extension."""
    return bool(value) and not any(ch.isspace() for ch in value) and bool(_FILE_LIKE.search(value))


def text_or_file(value: str | None, cwd: Path, *, option: str = "--system-prompt") -> str | None:
    """An option that is either literal text or the path of a file holding it.

    Raises:
        UsageError: ``value`` looks like a file name (``prompt.md``, ``./x``, ``~/p``) but
            there is no such file, or it cannot be read.
    """
    if value is None:
        return None
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = cwd / candidate
    file_like = looks_like_file(value)
    try:
        if len(value) < 4096 and "\n" not in value and candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        if file_like:
            raise UsageError(f"{option} {value}: cannot read {candidate}: {exc.strerror}") from exc
    if file_like:
        raise UsageError(
            f"{option} {value}: no such file ({candidate}). Pass an existing file, or text with a space in it."
        )
    return value


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError:
        return None


def find_context_files(cwd: Path, home: Path) -> list[ContextFile]:
    """OPI_HOME/AGENTS.md (or CLAUDE.md), then one per folder from / down to cwd."""
    found: list[ContextFile] = []
    seen: set[Path] = set()

    def take(folder: Path) -> None:
        for name in ("AGENTS.md", "CLAUDE.md"):
            p = folder / name
            text = _read(p)
            if text is not None:
                real = p.resolve()
                if real not in seen:
                    seen.add(real)
                    found.append(ContextFile(p, text))
                return

    take(home)
    chain = [cwd, *cwd.parents]
    for folder in reversed(chain):
        take(folder)
    return found


def _guidelines(names: set[str]) -> list[str]:
    g: list[str] = []
    if "bash" in names and not ({"grep", "find", "ls"} & names):
        g.append("Use bash for file operations like ls, rg, find")
    elif "bash" in names:
        g.append("Prefer grep/find/ls tools over bash for file exploration (faster, respects .gitignore)")
    if "read" in names and "edit" in names:
        g.append("Use read to examine files before editing. Do not use cat or sed for this.")
    if "edit" in names:
        g.append("Use edit for precise changes (old text must match exactly)")
    if "write" in names:
        g.append("Use write only for new files or complete rewrites")
    if "edit" in names or "write" in names:
        g.append("When summarizing your actions, output plain text directly - do NOT use cat or bash to display what you did")
    g.append("Be concise in your responses")
    g.append("Show file paths clearly when working with files")
    return g


def _default_base(tools: Sequence[tuple[str, str]]) -> str:
    lines = [
        "You are an expert coding assistant operating inside opi, a coding agent harness. "
        "You help users by reading files, executing commands, editing code, and writing new files.",
        "",
        "Available tools:",
    ]
    if tools:
        lines += [f"- {name}: {desc or _DEFAULT_SNIPPETS.get(name, name)}" for name, desc in tools]
    else:
        lines.append("(none)")
    lines += [
        "",
        "In addition to the tools above, you may have access to other custom tools depending on the project.",
        "",
        "Guidelines:",
    ]
    lines += [f"- {g}" for g in _guidelines({n for n, _ in tools})]
    return "\n".join(lines)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def skills_block(skills: Sequence[tuple[str, str, str]]) -> str:
    """The skills section: what each skill is for and where its instructions are."""
    lines = [
        "# Skills",
        "",
        "Skills are folders of instructions (and sometimes scripts) for particular tasks. When a task "
        "matches a skill's description, first read its SKILL.md with the read tool at the location "
        "given, then follow it. Paths inside a skill are relative to the folder of its SKILL.md.",
        "",
        "<available_skills>",
    ]
    for name, description, location in skills:
        lines += [
            "  <skill>",
            f"    <name>{_xml(name)}</name>",
            f"    <description>{_xml(description)}</description>",
            f"    <location>{_xml(location)}</location>",
            "  </skill>",
        ]
    lines.append("</available_skills>")
    return "\n".join(lines)


def build_system_prompt(inp: SystemPromptInputs) -> str:
    """The full system prompt for one run (see the module docstring for the order)."""
    base = inp.custom_prompt
    if base is None:
        base = _read(inp.cwd / ".opi" / "SYSTEM.md") or _read(inp.home / "SYSTEM.md")
    if base is None:
        base = _default_base(inp.tools)
    parts = [base.rstrip()]
    append = inp.append_prompt
    if append is None:
        append = _read(inp.cwd / ".opi" / "APPEND_SYSTEM.md") or _read(inp.home / "APPEND_SYSTEM.md")
    if append:
        parts.append(append.rstrip())
    files = inp.context_files if inp.context_files is not None else find_context_files(inp.cwd, inp.home)
    if files:
        ctx = ["# Project Context", "", "Project-specific instructions and guidelines:", ""]
        for f in files:
            ctx += [f"## {f.path}", "", f.content.rstrip(), ""]
        parts.append("\n".join(ctx).rstrip())
    if inp.skills and any(name == "read" for name, _ in inp.tools):
        parts.append(skills_block(inp.skills))
    today = (inp.today or date.today()).isoformat()
    parts.append(f"Current date: {today}\nCurrent working directory: {inp.cwd}")
    return "\n\n".join(parts)
