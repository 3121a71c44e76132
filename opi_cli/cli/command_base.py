"""What a slash command is and what it may use of the REPL: :class:`Command` and :class:`Host`.

Kept apart from the command table (:mod:`opi_cli.cli.commands`) so that modules adding
commands (info, login, model cycling, and later ones) import these two names without
importing the table that registers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from rich.console import RenderableType

from opi_cli._util.records import record
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.cli.footer import FooterState
from opi_cli.cli.settings import Settings
from opi_cli.session.agent_session import AgentSession

__all__ = ["LOOKUP_ORDER", "Command", "Handler", "Host"]

LOOKUP_ORDER = (
    "A name is looked up in this order: built-in commands, extension commands, prompt templates "
    "(a project's .opi/prompts or .claude/commands file overrides a global one of the same name); "
    "/skill:name runs a skill, /mcp__server__prompt an MCP prompt."
)
"""How /help explains which of several commands of one name runs."""


class Host(Protocol):
    """What a command handler may use of the REPL."""

    @property
    def session(self) -> AgentSession: ...

    @property
    def registry(self) -> ModelRegistry: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def footer(self) -> FooterState: ...

    @property
    def commands(self) -> dict[str, Command]: ...

    def print(self, renderable: RenderableType) -> None: ...

    async def choose(
        self, title: str, options: list[str], *, current: int | None = None, query: str = ""
    ) -> int | None:
        """An arrow-key picker over ``options`` (type to filter); the index picked, or None."""
        ...

    async def ask_secret(self, prompt: str) -> str | None:
        """A line typed without echo and kept out of the history; None when cancelled."""
        ...

    def session_switched(self, *, show_history: bool) -> None:
        """The session changed (/new, /resume, /tree, /fork): footer figures follow it."""
        ...

    def quit(self) -> None: ...

    def set_input(self, text: str) -> None: ...


Handler = Callable[[Host, str], Awaitable[None]]


@record
class Command:
    name: str
    description: str
    handler: Handler
    usage: str = ""
    aliases: tuple[str, ...] = ()
    while_running: bool = False  # may run while the agent works
    expand: Callable[[str], str] | None = None  # a prompt template or skill: the prompt it stands for
