"""The tool contract of seed 001: definition, async execute with cancellation and progress.

A tool returns a :class:`ToolResult`: ``content`` is what the model reads, ``details`` is
what a UI or a script may use (a diff, truncation info), ``is_error`` marks a failure the
model should see as such, and ``terminate`` asks the loop to stop after this batch when
every result of the batch says so. Raising any exception is also allowed: the loop turns
it into an error result with the exception's message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.ai.provider import ToolSpec
from opi_cli.ai.types import ImageContent, TextContent

__all__ = [
    "ExecutionMode",
    "Tool",
    "ToolResult",
    "ToolUpdate",
    "UpdateCallback",
    "error_result",
    "text_result",
]

ExecutionMode = Literal["parallel", "sequential"]


@record
class ToolResult:
    content: tuple[TextContent | ImageContent, ...]
    details: JsonValue = None
    is_error: bool = False
    terminate: bool = False

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.content if isinstance(c, TextContent))


@record
class ToolUpdate:
    """Progress of a running tool: the accumulated partial result so far (not a delta)."""

    content: tuple[TextContent | ImageContent, ...]
    details: JsonValue = None


UpdateCallback = Callable[[ToolUpdate], None]


@runtime_checkable
class Tool(Protocol):
    """A tool the agent can call.

    Attributes:
        name: the name the model uses.
        description: one paragraph the model reads.
        parameters: JSON Schema of the arguments object.
        execution_mode: ``parallel`` (default) or ``sequential``; one sequential tool
            makes its whole batch sequential.
        prompt_snippet: one line for the system prompt's tool list.
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, JsonValue]: ...

    @property
    def execution_mode(self) -> ExecutionMode: ...

    async def execute(
        self,
        call_id: str,
        args: dict[str, JsonValue],
        signal: AbortSignal,
        on_update: UpdateCallback | None,
    ) -> ToolResult: ...


def tool_spec(tool: Tool) -> ToolSpec:
    """What the provider sends to the model for ``tool`` (``strict`` if the tool has it set)."""
    return ToolSpec(tool.name, tool.description, tool.parameters, getattr(tool, "strict", False) is True)


def text_result(text: str, details: JsonValue = None, *, is_error: bool = False) -> ToolResult:
    return ToolResult((TextContent(text),), details, is_error)


def error_result(text: str, details: JsonValue = None) -> ToolResult:
    return ToolResult((TextContent(text),), details, True)
