"""Reading the arguments a model sent to a tool, tolerant of numbers sent as strings."""

from __future__ import annotations

from opi_cli._util.jsonio import JsonValue
from opi_cli.errors import ToolError

__all__ = ["opt_bool", "opt_int", "opt_number", "opt_str", "req_str"]


def req_str(args: dict[str, JsonValue], key: str) -> str:
    """A required string argument; raises :class:`ToolError` when missing or not a string."""
    value = args.get(key)
    if not isinstance(value, str):
        raise ToolError(f"Missing required parameter: {key} (string)")
    return value


def opt_str(args: dict[str, JsonValue], key: str) -> str | None:
    """An optional string argument (``None`` when absent or null)."""
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolError(f"Parameter {key} must be a string")
    return value


def opt_number(args: dict[str, JsonValue], key: str) -> float | None:
    """An optional number; numeric strings are accepted."""
    value = args.get(key)
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ToolError(f"Parameter {key} must be a number")
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ToolError(f"Parameter {key} must be a number")


def opt_int(args: dict[str, JsonValue], key: str) -> int | None:
    """An optional integer; numeric strings and integral floats are accepted."""
    value = opt_number(args, key)
    if value is None:
        return None
    if not value.is_integer():
        raise ToolError(f"Parameter {key} must be an integer")
    return int(value)


def opt_bool(args: dict[str, JsonValue], key: str) -> bool:
    """An optional boolean (default false); ``"true"``/``"false"`` strings are accepted."""
    value = args.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ToolError(f"Parameter {key} must be a boolean")
