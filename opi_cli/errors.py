"""The one root of opi's exceptions and the error kinds of the seeds.

Every layer raises subclasses of :class:`OpiError`; the CLI turns any of them into one
line on stderr and an exit code (``exit_code``). Library users catch the seed's kinds:
``RequestError``, ``ToolError``, ``ConfigError``, ``ParseError``, ``AgentError``.
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "ConfigError",
    "OpiError",
    "ParseError",
    "PersistenceError",
    "RequestError",
    "SessionError",
    "ToolError",
    "UsageError",
]


class OpiError(Exception):
    """Root of every error opi raises on purpose.

    Attributes:
        exit_code: the process exit code the CLI uses when this error ends a run.
    """

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(OpiError):
    """Bad configuration: unknown provider or model, missing key, malformed settings file."""

    exit_code = 2


class UsageError(OpiError):
    """Bad command-line usage (unknown tool name, missing @file, conflicting flags)."""

    exit_code = 2


class RequestError(OpiError):
    """A request to a model provider failed.

    Attributes:
        status: the HTTP status when there was one.
        kind: the classification from :mod:`opi_cli.ai.errors` (``rate_limit``, ``auth``, ...).
    """

    def __init__(self, message: str, *, status: int | None = None, kind: str = "other") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class ToolError(OpiError):
    """A tool failed; inside the agent loop this becomes an error result the model reads."""


class ParseError(OpiError):
    """Input that should have been JSON (or another format) could not be parsed."""


class AgentError(OpiError):
    """The agent was used wrongly (prompt while busy, continue from an assistant message, ...)."""


class SessionError(OpiError):
    """A session file or store cannot be used (corrupt header, locked, not found)."""

    exit_code = 2


class PersistenceError(OpiError):
    """Writing to a session store failed; the run goes on and the user is told."""
