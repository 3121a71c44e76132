"""The REPL's side of what users add: slash commands from extensions, templates and skills,
the one-time question about a folder's own code, and where notices go.

Lookup order of a ``/name`` (the table keeps the first command of a name): built-in
commands, then extension commands, then prompt templates (project over global); skills are
``/skill:name``. Templates and skills expand into a prompt, which is sent like typed text
(so while the agent works it steers, or with Alt+Enter queues a follow-up).
"""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit import PromptSession
from rich.text import Text

from opi_cli.ai.types import ImageContent
from opi_cli.cli.commands import Command, Host, parse_command
from opi_cli.cli.customize import Customization
from opi_cli.cli.footer import tilde
from opi_cli.cli.project_overrides import ProjectOverrides, mode_keys
from opi_cli.cli.project_trust import is_allowed, project_code, remember, remembered
from opi_cli.cli.prompt_templates import PromptTemplate, expand_template
from opi_cli.cli.settings import Settings
from opi_cli.cli.skills import Skill, expand_skill

__all__ = ["ask_project_trust", "expand_initial", "show_notices", "user_commands"]


def _template_command(t: PromptTemplate, home: Path | None) -> Command:
    where = f"template, {t.scope}"
    if t.overrides is not None:
        where += f"; overrides {tilde(t.overrides, home)}"

    def expand(args: str) -> str:
        return expand_template(t, args)

    async def into_input(host: Host, args: str) -> None:
        host.set_input(expand(args))  # reached only when not typed (the REPL sends typed ones)

    return Command(t.name, f"{t.description} ({where})".strip(), into_input, t.argument_hint or "",
                   while_running=True, expand=expand)


def _skill_command(s: Skill) -> Command:
    def expand(args: str) -> str:
        return expand_skill(s, args)

    async def into_input(host: Host, args: str) -> None:
        host.set_input(expand(args))

    first = s.description.split("\n", 1)[0]
    short = first if len(first) <= 70 else first[:69] + "…"
    return Command(f"skill:{s.name.lower()}", f"{short} (skill, {s.scope})", into_input, "[request]",
                   while_running=True, expand=expand)


def user_commands(custom: Customization | None) -> list[Command]:
    """Extension commands, then prompt templates, then skills (see the module docstring)."""
    if custom is None:
        return []
    home = Path(custom.settings.env["HOME"]) if custom.settings.env.get("HOME") else None
    out: list[Command] = []
    if custom.extensions is not None:
        for c in custom.extensions.commands:
            out.append(Command(c.name, f"{c.description} (extension {c.owner.name})", c.run, c.usage))
    out += [_template_command(t, home) for t in sorted(custom.prompts.templates.values(), key=lambda t: t.name)]
    out += [_skill_command(s) for s in sorted(custom.prompts.skills.values(), key=lambda s: s.name)]
    return out


def expand_initial(
    commands: dict[str, Command], prompts: list[tuple[str, list[ImageContent]]]
) -> list[tuple[str, list[ImageContent]]]:
    """``opi chat "/review x.py"``: the MESSAGE arguments expand like typed input."""
    out = []
    for text, images in prompts:
        parsed = parse_command(text)
        cmd = commands.get(parsed[0]) if parsed is not None else None
        if parsed is not None and cmd is not None and cmd.expand is not None:
            text = cmd.expand(parsed[1])
        out.append((text, images))
    return out


def show_notices(host: Host, custom: Customization | None) -> None:
    """Print notices above the input from now on (those held since start-up first)."""
    if custom is not None:
        custom.set_notify(lambda message: host.print(Text(message, style="yellow")))


async def ask_project_trust(settings: Settings) -> None:
    """Ask once whether this folder's own code (extensions, hooks) may run and its settings
    loosen the user's (:mod:`opi_cli.cli.project_overrides`); remember the answer."""
    code = project_code(settings)
    loose = ProjectOverrides.read(settings).loosening(mode_keys(interactive=True))
    if not (code or loose) or remembered(settings) is not None or is_allowed(settings):
        return
    print(f"This folder has its own {'code or settings that opi would follow' if loose else 'code that opi can run'} "
          f"({settings.cwd}):")
    for line in code + loose:
        print(f"  - {line}")
    question = "Trust this folder" if loose else "Allow it to run"
    try:
        answer = await PromptSession[str]().prompt_async(f"{question}, now and in later sessions? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        print("Not allowed (for this run; opi will ask again).")
        return
    allowed = answer.strip().lower() in ("y", "yes")
    remember(settings, allowed)
    print("Allowed." if allowed else f"Not allowed (remembered; edit {settings.home / 'trusted-projects.json'} to change).")
