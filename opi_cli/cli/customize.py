"""What users add to opi, gathered for one run: skills, prompt templates, settings hooks, extensions.

:func:`load_customization` finds everything for the current folder and returns a
:class:`Customization` the runtime wires in: extension tools, the skills for the system
prompt, one hooks layer for the loop and one for the session (settings hooks and
extension handlers share one :class:`~opi_cli.hooks.runner.HookRunner`), and the notices
to show. Nothing is imported or read that a folder without these files does not need.

Problems found while loading (a bad frontmatter, a skipped hook, a broken extension) and
later (a hook that failed, an extension disabled) are notices: one line each, held until
the user interface says where to show them (:meth:`Customization.set_notify`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

from opi_cli._util.records import record
from opi_cli.agent.hooks import AgentHooks, compose_hooks
from opi_cli.agent.tool import Tool
from opi_cli.cli.settings import Settings, load_json_file
from opi_cli.cli.skills import Skill, discover_skills, expand_skill
from opi_cli.session.session_hooks import SessionHooks

if TYPE_CHECKING:
    from opi_cli.cli.extensions import Extensions
    from opi_cli.cli.prompt_templates import PromptTemplate
    from opi_cli.hooks.config import HookConfig
    from opi_cli.hooks.runner import HookRunner
    from opi_cli.session.agent_session import AgentSession

__all__ = ["Customization", "SlashPrompts", "load_customization", "settings_hooks", "stderr_notice"]

Notify = Callable[[str], None]


def stderr_notice(message: str) -> None:
    """Where headless modes show notices: one ``opi: ...`` line on stderr (stdout stays the output)."""
    sys.stderr.write(f"opi: {message}\n")


class SlashPrompts:
    """Prompt templates and skills of one folder, found on first use; expands ``/name args``."""

    def __init__(self, cwd: Path, home: Path, notify: Notify, *, warn_skills: bool = True) -> None:
        self.cwd, self.home, self._notify = cwd, home, notify
        self._templates: dict[str, PromptTemplate] | None = None
        self._skills: dict[str, Skill] | None = None
        self._warn_skills = warn_skills

    @property
    def templates(self) -> dict[str, PromptTemplate]:
        if self._templates is None:
            from opi_cli.cli.prompt_templates import discover_templates  # only when a /word needs it

            self._templates, warnings = discover_templates(self.cwd, self.home)
            for w in warnings:
                self._notify(w)
        return self._templates

    @property
    def skills(self) -> dict[str, Skill]:
        if self._skills is None:
            self._skills, warnings = discover_skills(self.cwd, self.home)
            for w in warnings if self._warn_skills else ():
                self._notify(w)
        return self._skills

    def expand(self, text: str) -> str:
        """``/template args`` or ``/skill:name args`` as the prompt they stand for; other text unchanged."""
        if not text.startswith("/"):
            return text
        head, _, args = text[1:].partition(" ")
        if "\n" in head:
            head, _, rest = head.partition("\n")
            args = rest + (" " + args if args else "")
        name = head.lower()
        if name.startswith("skill:"):
            skill = next((s for n, s in self.skills.items() if n.lower() == name[6:]), None)
            return expand_skill(skill, args) if skill is not None else text
        template = self.templates.get(name) if name else None
        if template is None:
            return text
        from opi_cli.cli.prompt_templates import expand_template

        return expand_template(template, args)


def settings_hooks(settings: Settings, *, project_allowed: bool, notify: Notify) -> HookConfig | None:
    """The ``hooks`` of the user's settings, then of the project's (only where allowed).

    Raises:
        ConfigError: a ``hooks`` setting that is not in Claude Code's shape.
    """
    if "hooks" not in settings.values:
        return None
    from opi_cli.hooks.config import HookConfig, parse_hooks

    config = HookConfig()
    user = settings.home / "settings.json"
    project = settings.cwd / ".opi" / "settings.json"
    for path in (user, project):
        if path is project and project.resolve() == user.resolve():
            break
        raw = load_json_file(path) or {}
        if "hooks" not in raw:
            continue
        if path is project and not project_allowed:
            notify(f"Hooks in {path} were not run: this folder's own code is not allowed "
                   "(allow it when the REPL asks, or see allowProjectCode in docs/extending.md).")
            continue
        config.extend(parse_hooks(raw["hooks"], str(path)))
    for w in config.warnings:
        notify(w)
    return config


@record(frozen=False)
class Customization:
    """Everything users added, for one runtime (see the module docstring)."""

    settings: Settings
    prompts: SlashPrompts
    extensions: Extensions | None = None
    runner: HookRunner | None = None
    _sink: Notify | None = None
    _pending: list[str] = field(default_factory=list)
    _session: AgentSession | None = None
    _writer_ids: tuple[str, str | None] = ("", None)

    def notify(self, message: str) -> None:
        if self._sink is None:
            self._pending.append(message)
        else:
            self._sink(message)

    def set_notify(self, sink: Notify) -> None:
        """Show notices with ``sink`` from now on, starting with those held so far."""
        self._sink = sink
        pending, self._pending = self._pending, []
        for message in pending:
            sink(message)

    @property
    def tools(self) -> list[Tool]:
        return list(self.extensions.tools) if self.extensions is not None else []

    def skill_entries(self) -> list[tuple[str, str, str]]:
        """(name, description, location) of the skills the model may pick itself."""
        return [(s.name, s.description, str(s.path)) for s in self.prompts.skills.values() if s.model_invocable]

    def agent_hooks(self, *layers: AgentHooks | None) -> AgentHooks:
        """``layers`` (e.g. a permission gate) followed by the settings and extension hooks."""
        return compose_hooks(*layers, self.runner.agent_hooks() if self.runner else None)

    def session_hooks(self) -> SessionHooks | None:
        return self.runner.session_hooks() if self.runner else None

    def session_info(self) -> tuple[str, str | None]:
        """The session's id and file for hook events (the new session's, before it exists)."""
        s = self._session
        return (s.session_id, s.session_file) if s is not None else self._writer_ids

    def attach(self, session: AgentSession) -> None:
        """Follow ``session``: its ids for the hooks, its events for the extensions."""
        self._session = session
        if self.extensions is not None and self.extensions.observers:
            session.subscribe(self.extensions.observe)


def load_customization(settings: Settings, tool_names: set[str], *, writer_ids: tuple[str, str | None]) -> Customization:
    """Find and load what the current folder and OPI_HOME add (see the module docstring).

    ``tool_names`` are the tools already active (an extension tool may not take a name);
    ``writer_ids`` are the session's id and file until the session exists.

    Raises:
        ConfigError: a malformed ``hooks`` setting.
    """
    custom = Customization(settings, SlashPrompts(settings.cwd, settings.home, lambda m: custom.notify(m)))
    custom._writer_ids = writer_ids
    custom.prompts.skills  # noqa: B018  (found now: the system prompt lists them)
    from opi_cli.cli.extension_sources import entry_point_sources, file_sources
    from opi_cli.cli.project_trust import is_allowed, project_code

    local = project_code(settings)
    allowed = bool(local) and is_allowed(settings)
    sources = entry_point_sources(settings.home / "cache")
    files = file_sources(settings.cwd)
    if files and not allowed:
        custom.notify(f"Extensions in {settings.cwd / '.opi' / 'extensions'} were not loaded: this folder's own "
                      "code is not allowed (allow it when the REPL asks, or see allowProjectCode in docs/extending.md).")
    hooks = settings_hooks(settings, project_allowed=allowed, notify=custom.notify)
    if sources or (files and allowed):
        from opi_cli.cli.extensions import load_extensions

        custom.extensions = load_extensions(sources + (files if allowed else []), settings.cwd, set(tool_names),
                                            custom.notify)
        if hooks is None:
            hooks = custom.extensions.hooks
        else:
            hooks.extend(custom.extensions.hooks)
    if hooks:
        from opi_cli.hooks.runner import HookRunner

        custom.runner = HookRunner(hooks, cwd=str(settings.cwd), env=settings.env, notify=custom.notify)
        custom.runner.bind(custom.session_info)
    return custom
