"""Python extensions: load them, give each an :class:`ExtensionAPI`, disable the ones that raise.

An extension is a ``register(opi)`` function: the value of an ``opi.extensions`` entry point
of an installed package, or the ``register`` of a ``.opi/extensions/*.py`` file (project
files load only where the user allowed the project's code, see
:mod:`opi_cli.cli.project_trust`). ``register`` calls ``opi.tool(...)`` (the library's
:class:`~opi_cli.agent.tool.Tool` protocol, ``@tool`` functions, ``RegisteredTool``
objects, plain functions), ``opi.command(name, handler)`` (a REPL slash command) and
``opi.on(event, handler)``: the settings hooks' events (``PreToolUse``, ``PostToolUse``,
``UserPromptSubmit``, ``Stop``, ``SessionStart``, ``PreCompact``; the handler gets the
same dict a hook command reads on stdin and may return what it would print) or the event
stream's types (``turn_end``, ``tool_execution_end``, ...; a plain function that observes).

An extension that raises while loading, in a handler or in a command is disabled, with
one line naming it; its tools then answer with an error. Nothing here is imported when
there are no extensions.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.events import AgentEvent
from opi_cli.agent.tool import ExecutionMode, Tool, ToolResult, UpdateCallback, error_result
from opi_cli.cli.extension_sources import ExtensionSource
from opi_cli.hooks.config import HOOK_EVENTS, HookConfig, PythonHook

__all__ = ["Extension", "ExtensionAPI", "ExtensionCommand", "Extensions", "load_extensions"]

Notify = Callable[[str], None]
CommandHandler = Callable[[Any, str], Awaitable[None] | None]
OBSERVED_EVENTS: frozenset[str] = frozenset(
    str(f.default) for cls in get_args(AgentEvent) for f in dataclasses.fields(cls)
    if f.name == "type" and f.default != "session_summary"  # written by -p/--json only, after the session
)


@record
class ExtensionCommand:
    """A slash command an extension registered; ``run(host, args)`` calls it safely."""

    name: str
    description: str
    usage: str
    owner: Extension
    handler: CommandHandler

    async def run(self, host: Any, args: str) -> None:
        if self.owner.disabled:
            host.print(f"/{self.name}: extension {self.owner.name} is disabled ({self.owner.error}).")
            return
        try:
            value = self.handler(host, args)
            if inspect.isawaitable(value):
                await value
        except Exception as exc:  # an extension's failure disables it, not the REPL
            self.owner.disable(exc, f"in /{self.name}")


@dataclass(eq=False, slots=True)
class Extension:
    """One extension, what it registered, and whether it is still enabled."""

    source: ExtensionSource
    notify: Notify
    tools: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False

    @property
    def name(self) -> str:
        return self.source.name

    def disable(self, exc: BaseException, where: str = "") -> None:
        """Turn it off and say so once, naming it and what it raised."""
        if self.disabled:
            return
        self.disabled = True
        self.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        place = f" {where}" if where else ""
        self.notify(f"Extension {self.name} ({self.source.target}) disabled: it raised {self.error}{place}.")


class _ExtensionTool:
    """An extension's tool: its own behaviour while the extension is enabled."""

    def __init__(self, inner: Tool, owner: Extension) -> None:
        self.inner = inner
        self.owner = owner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def description(self) -> str:
        return self.inner.description

    @property
    def parameters(self) -> dict[str, JsonValue]:
        return self.inner.parameters

    @property
    def execution_mode(self) -> ExecutionMode:
        return self.inner.execution_mode

    @property
    def strict(self) -> bool:
        return getattr(self.inner, "strict", False) is True

    @property
    def prompt_snippet(self) -> str:
        """One line for the system prompt's tool list."""
        own = getattr(self.inner, "prompt_snippet", None)
        first = (own or self.description).strip().split("\n", 1)[0]
        return first if len(first) <= 120 else first[:119] + "…"

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        if self.owner.disabled:
            return error_result(f"Tool {self.name} is unavailable: extension {self.owner.name} is disabled.")
        return await self.inner.execute(call_id, args, signal, on_update)


@record(frozen=False)
class Extensions:
    """Everything the loaded extensions registered."""

    loaded: list[Extension] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    commands: list[ExtensionCommand] = field(default_factory=list)
    hooks: HookConfig = field(default_factory=HookConfig)
    observers: list[tuple[str, Callable[[AgentEvent], object], Extension]] = field(default_factory=list)

    def observe(self, ev: AgentEvent) -> None:
        """Hand ``ev`` to the extensions watching its type (a session subscriber)."""
        for kind, fn, owner in self.observers:
            if kind != ev.type or owner.disabled:
                continue
            try:
                fn(ev)
            except Exception as exc:
                owner.disable(exc, f"handling {kind}")


class ExtensionAPI:
    """What an extension's ``register(opi)`` receives (see the module docstring)."""

    def __init__(self, ext: Extension, into: Extensions, cwd: Path, taken: set[str]) -> None:
        self._ext = ext
        self._into = into
        self._taken = taken
        self.name = ext.name
        self.cwd = cwd

    def tool(self, tool: Any) -> Any:
        """Register a tool; usable as a decorator (returns what it was given)."""
        from opi_cli.sdk.tools import ToolRegistry

        adapted = ToolRegistry([tool]).tools()[0]
        if adapted.name in self._taken:
            raise ValueError(f"a tool named {adapted.name!r} already exists")
        self._taken.add(adapted.name)
        self._into.tools.append(_ExtensionTool(adapted, self._ext))
        self._ext.tools.append(adapted.name)
        return tool

    def command(
        self, name: str, handler: CommandHandler | None = None, *, description: str = "", usage: str = ""
    ) -> Any:
        """Register ``/name``: ``handler(ctx, args)`` (sync or async; ``ctx.print(...)``, ``ctx.session``)."""
        if not name or any(c.isspace() or c == "/" for c in name):
            raise ValueError(f"invalid command name {name!r}")

        def add(fn: CommandHandler) -> CommandHandler:
            text = description or (inspect.getdoc(fn) or "").split("\n", 1)[0]
            self._into.commands.append(ExtensionCommand(name.lower(), text or f"from {self.name}", usage, self._ext, fn))
            self._ext.commands.append(name.lower())
            return fn

        return add if handler is None else add(handler)

    def on(self, event: str, handler: Callable[..., Any] | None = None, *, matcher: str = "") -> Any:
        """Handle ``event``: a hook event (may return a hook's output) or an event type (observe)."""

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if event in HOOK_EVENTS:
                ext = self._ext

                def guarded(payload: dict[str, JsonValue]) -> object:
                    return None if ext.disabled else fn(payload)

                self._into.hooks.add(event, PythonHook(guarded, self.name, lambda exc: ext.disable(exc, f"on {event}")),
                                     matcher)
            elif event in OBSERVED_EVENTS:
                if inspect.iscoroutinefunction(fn):
                    raise ValueError(f"a handler of {event!r} must be a plain function (async is for hook events)")
                self._into.observers.append((event, fn, self._ext))
            else:
                known = ", ".join([*HOOK_EVENTS, *sorted(OBSERVED_EVENTS)])
                raise ValueError(f"unknown event {event!r} (known: {known})")
            self._ext.events.append(event)
            return fn

        return add if handler is None else add(handler)


def _register_fn(source: ExtensionSource) -> Callable[[ExtensionAPI], object]:
    if source.kind == "file":
        module_name = f"opi_extension_{source.name}"
        spec = importlib.util.spec_from_file_location(module_name, source.target)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {source.target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        obj: Any = module
    else:
        module_path, _, attr = source.target.partition(":")
        obj = importlib.import_module(module_path.strip())
        for part in attr.strip().split(".") if attr.strip() else []:
            obj = getattr(obj, part)
    fn = obj if callable(obj) else getattr(obj, "register", None)
    if not callable(fn):
        raise TypeError("it has no register(opi) function")
    return fn  # type: ignore[no-any-return]


def load_extensions(sources: list[ExtensionSource], cwd: Path, taken: set[str], notify: Notify) -> Extensions:
    """Load every source in order; ``taken`` holds the tool names already in use."""
    out = Extensions()
    for source in sources:
        ext = Extension(source, notify)
        out.loaded.append(ext)
        staged = Extensions()
        names = set(taken)
        try:
            _register_fn(source)(ExtensionAPI(ext, staged, cwd, names))
        except (Exception, SystemExit) as exc:  # a broken extension must not stop opi
            ext.tools.clear()
            ext.commands.clear()
            ext.events.clear()
            ext.disable(exc, "while loading")
            continue
        taken |= names
        out.tools += staged.tools
        out.commands += staged.commands
        out.hooks.extend(staged.hooks)
        out.observers += staged.observers
    return out
