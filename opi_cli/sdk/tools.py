"""The seed's tool registry: ``RegisteredTool`` objects, ``register_fn`` functions and ``@tool`` tools in one set.

Everything registered is adapted to the agent loop's :class:`~opi_cli.agent.tool.Tool`
protocol, so the library, the CLI and the Realtime client run tools the same way:
arguments are validated against the JSON Schema first, failures become error results
the model reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from opi_cli._util.abort import AbortController, AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.function_tool import FunctionTool, to_tool_result
from opi_cli.agent.tool import ExecutionMode, Tool, ToolResult, UpdateCallback
from opi_cli.agent.validation import validate_arguments
from opi_cli.errors import ConfigError, ToolError

__all__ = ["RegisteredTool", "ToolDefinition", "ToolRegistry"]


@dataclass(frozen=True, slots=True)
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
    """A :class:`RegisteredTool` seen through the loop's Tool protocol."""

    def __init__(self, tool: RegisteredTool) -> None:
        self.inner = tool
        self.definition = tool.definition()
        if not isinstance(self.definition, ToolDefinition):
            raise ConfigError(f"{type(tool).__name__}.definition() must return a ToolDefinition")

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
        return "parallel"

    @property
    def strict(self) -> bool:
        return self.definition.strict is True

    async def execute(
        self, call_id: str, args: dict[str, JsonValue], signal: AbortSignal, on_update: UpdateCallback | None
    ) -> ToolResult:
        return to_tool_result(await self.inner.execute(args))


ToolLike = RegisteredTool | Tool | Callable[..., Any]


def _adapt(tool: ToolLike) -> Tool:
    if isinstance(tool, FunctionTool):
        return tool
    if callable(getattr(tool, "definition", None)) and callable(getattr(tool, "execute", None)):
        return _RegisteredAdapter(tool)  # type: ignore[arg-type]
    if isinstance(tool, Tool):
        return tool
    if callable(tool):
        return FunctionTool(tool)
    raise ConfigError(f"cannot register {tool!r}: not a RegisteredTool, a Tool or a function")


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
            ConfigError: a tool of that name is already registered.
            TypeError: a plain function whose annotations have no JSON Schema.
        """
        adapted = _adapt(tool)
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
