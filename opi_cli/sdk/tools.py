"""The seed's tool registry: ``RegisteredTool`` objects, ``register_fn`` functions and ``@tool`` tools in one set.

Everything registered is adapted to the agent loop's :class:`~opi_cli.agent.tool.Tool`
protocol, so the library, the CLI and the Realtime client run tools the same way:
arguments are validated against the JSON Schema first, failures become error results
the model reads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from opi_cli._util.abort import AbortController, AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.function_tool import FunctionTool, to_tool_result
from opi_cli.agent.tool import ExecutionMode, Tool, ToolResult, UpdateCallback
from opi_cli.agent.validation import validate_arguments
from opi_cli.errors import ConfigError, ToolError
from opi_cli.tools import ALL_TOOLS, create_builtin_tools

__all__ = ["RegisteredTool", "ToolDefinition", "ToolRegistry", "adapt_tool", "create_coding_tools"]


@record
class ToolDefinition:
    """A tool as the model sees it.

    Attributes:
        name: the name the model calls.
        description: what it does, for the model.
        parameters: JSON Schema of the arguments object.
        strict: the seed's strict flag: sent to OpenAI-style APIs as the function's
            ``strict`` (the schema must then meet their rules); opi validates every call
            against ``parameters`` itself either way.
    """

    name: str
    description: str
    parameters: dict[str, JsonValue]
    strict: bool | None = None

    def to_json(self) -> dict[str, JsonValue]:
        """The flat function-tool form (Responses and Realtime APIs)."""
        out: dict[str, JsonValue] = {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        if self.strict is not None:
            out["strict"] = self.strict
        return out


@runtime_checkable
class RegisteredTool(Protocol):
    """The seed's tool trait: a definition and an async ``execute`` returning the result text.

    Raise :class:`~opi_cli.errors.ToolError` (or any exception) to report a failure; the
    model reads its message as an error result and the run goes on.
    """

    def definition(self) -> ToolDefinition: ...

    async def execute(self, arguments: dict[str, JsonValue]) -> str: ...


class _RegisteredAdapter:
    """A :class:`RegisteredTool` (``execute(arguments) -> str``) seen through the loop's Tool protocol."""

    def __init__(self, tool: Any, definition: ToolDefinition) -> None:
        self.inner = tool
        self.definition = definition

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def description(self) -> str:
        return self.definition.description

    @property
    def parameters(self) -> dict[str, JsonValue]:
        return self.definition.parameters

    @property
    def execution_mode(self) -> ExecutionMode:
        mode = getattr(self.inner, "execution_mode", "parallel")
        mode = mode() if callable(mode) else mode
        return "sequential" if mode == "sequential" else "parallel"

    @property
    def strict(self) -> bool:
        return self.definition.strict is True

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        return to_tool_result(await _maybe_await(self.inner.execute(args)))


class _SeedToolAdapter(_RegisteredAdapter):
    """A tool in opi-agent's shape (seed 001): ``definition()`` plus
    ``execute(call_id, args, signal, on_update)`` returning a ToolResult (or text)."""

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        return to_tool_result(await _maybe_await(self.inner.execute(call_id, args, signal, on_update)))


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


_SHAPES = (
    "a RegisteredTool's `async def execute(self, arguments) -> str` "
    "or an opi Tool's `async def execute(self, call_id, args, signal, on_update) -> ToolResult`"
)


def _definition_of(tool: Any) -> ToolDefinition:
    """``tool.definition()`` as a ToolDefinition (the seed 001 ``ToolDef`` form, with
    ``input_schema``, and mappings are accepted too)."""
    d = tool.definition()
    if isinstance(d, ToolDefinition):
        return d

    def get(key: str) -> Any:
        return d.get(key) if isinstance(d, Mapping) else getattr(d, key, None)

    params = get("parameters") or get("input_schema")
    tool_name, description = get("name"), get("description") or ""
    if not isinstance(tool_name, str) or not isinstance(params, dict) or not isinstance(description, str):
        raise ConfigError(
            f"{type(tool).__name__}.definition() must return a ToolDefinition(name, description, parameters), "
            f"got {type(d).__name__}"
        )
    strict = get("strict")
    return ToolDefinition(tool_name, description, params, strict if isinstance(strict, bool) else None)


def _execute_arity(tool: Any) -> int | None:
    """How many positional arguments ``tool.execute`` is called with: 1, 4, or what it requires
    when it fits neither (None: it cannot tell, so the seed's one-argument form is assumed)."""
    try:
        params = list(inspect.signature(tool.execute).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) <= 1 <= len(positional):
        return 1
    if len(required) <= 4 <= len(positional):
        return 4
    return len(required)


def _adapt_object(tool: Any) -> Tool:
    """A tool object with ``definition()`` and ``execute``: checked now, so a wrong shape is a
    ConfigError at registration, never an error sent to the model at run time."""
    definition = _definition_of(tool)
    arity = _execute_arity(tool)
    if arity is None or arity == 1:
        return _RegisteredAdapter(tool, definition)
    if arity == 4:
        return _SeedToolAdapter(tool, definition)
    sig = "(" + ", ".join(inspect.signature(tool.execute).parameters) + ")"
    raise ConfigError(
        f"tool {definition.name!r} ({type(tool).__name__}): execute{sig} takes {arity} arguments; "
        f"expected {_SHAPES}"
    )


ToolLike = RegisteredTool | Tool | Callable[..., Any]


def adapt_tool(tool: ToolLike) -> Tool:
    """Any tool the library accepts, in the loop's form (see :meth:`ToolRegistry.register`).

    Raises:
        ConfigError: a tool object of neither shape, or something that is not a tool.
        TypeError: a function whose annotations have no JSON Schema.
    """
    if isinstance(tool, FunctionTool):
        return tool
    if callable(getattr(tool, "definition", None)) and callable(getattr(tool, "execute", None)):
        return _adapt_object(tool)
    if isinstance(tool, Tool):
        return tool
    if callable(tool):
        return FunctionTool(tool)
    raise ConfigError(f"cannot register {tool!r}: not a RegisteredTool, a Tool or a function")


def create_coding_tools(cwd: str | Path, *, names: Iterable[str] | None = None) -> list[Tool]:
    """opi's built-in coding tools working in ``cwd``: read, write, edit, bash, grep, find, ls.

    Args:
        cwd: the folder relative paths resolve against and commands run in.
        names: only these tools (default: all seven).

    Raises:
        ConfigError: an unknown tool name.
    """
    wanted = None if names is None else list(names)
    available = create_builtin_tools(
        str(Path(cwd).expanduser().resolve()), edit_needs_read=wanted is None or "read" in wanted, names=wanted
    )
    wanted = list(available) if wanted is None else wanted
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise ConfigError(f"unknown coding tool(s): {', '.join(unknown)}; known: {', '.join(ALL_TOOLS)}")
    return [available[n] for n in wanted]


class ToolRegistry:
    """The tools an agent may call, by name (registration order is kept)."""

    def __init__(self, tools: Iterable[ToolLike] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.register(t)

    def register(self, tool: ToolLike) -> Tool:
        """Add a RegisteredTool, a ``@tool`` function, a loop Tool, or a plain function.

        Returns:
            The tool as the agent loop runs it.

        Raises:
            ConfigError: a tool of that name is already registered, or a tool object whose
                ``definition()`` or ``execute`` has neither tool shape (the message says
                which shapes are expected).
            TypeError: a plain function whose annotations have no JSON Schema.
        """
        adapted = adapt_tool(tool)
        if adapted.name in self._tools:
            raise ConfigError(f"a tool named {adapted.name!r} is already registered")
        self._tools[adapted.name] = adapted
        return adapted

    def register_fn(self, name: str, description: str, fn: Callable[..., Any]) -> FunctionTool:
        """Register a sync or async function under ``name``; its schema comes from its type hints."""
        ft = FunctionTool(fn, name=name, description=description)
        self.register(ft)
        return ft

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def tools(self) -> list[Tool]:
        """The tools in the loop's form (what the agent and the Realtime client run)."""
        return list(self._tools.values())

    def definitions(self) -> list[ToolDefinition]:
        out = []
        for t in self._tools.values():
            if isinstance(t, _RegisteredAdapter):
                out.append(t.definition)
            else:
                out.append(ToolDefinition(t.name, t.description, t.parameters))
        return out

    async def execute(self, name: str, arguments: dict[str, JsonValue]) -> str:
        """Validate and run one tool outside the agent (tests, custom loops).

        Raises:
            ToolError: unknown tool, invalid arguments, or the tool reported an error.
        """
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"Tool {name} not found")
        args, problem = validate_arguments(name, tool.parameters, arguments)
        if problem is not None:
            raise ToolError(problem)
        result = await tool.execute("direct", args, AbortController().signal, None)
        if result.is_error:
            raise ToolError(result.text)
        return result.text

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._tools
