"""Command-line values converted without pydantic: Typer keeps the command tree, plain values skip its adapters.

Typer (0.29 and later) converts each parameter's value through a pydantic ``TypeAdapter``
built on first use, even a string that is already a string: every ``opi`` command paid
for importing pydantic (about 60 ms) and building an adapter per option. opi's parameters
are strings, numbers (some with a lower bound), flags and lists of strings (and
``--help``, a flag Typer makes on first use).
:func:`plain_conversion` gives each such parameter of a command tree a conversion that
accepts the values these types take on a command line and hands anything else (a word
where a number belongs, a number out of range) to Typer's own conversion, so that every
error still reads exactly as Typer writes it.

It relies on how Typer attaches a conversion to a parameter (``get_runtime_param`` and
``_runtime_param``, its lazily built converter); a Typer without them (older versions, which
use no pydantic) is left untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["plain_conversion", "plain_decimal", "plain_integer"]

_FALLBACK = object()
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def plain_conversion(command: Any) -> None:
    """Give every plain parameter of ``command`` and its subcommands a pydantic-free conversion."""
    for param in getattr(command, "params", ()):
        _install(param)
    help_option = getattr(command, "get_help_option", None)
    if help_option is not None:  # ``--help`` is made on first use, per command: convert it too

        def get_help_option(ctx: Any) -> Any:
            option = help_option(ctx)
            if option is not None:
                _install(option)
            return option

        command.get_help_option = get_help_option
    commands: dict[str, Any] = getattr(command, "commands", None) or {}
    for sub in commands.values():
        plain_conversion(sub)


def _install(param: Any) -> None:
    build = getattr(type(param), "get_runtime_param", None)
    descriptor = getattr(param, "type_descriptor", None)
    if build is None or descriptor is None or getattr(param, "_runtime_param", _FALLBACK) is not None:
        return
    convert = _converter(descriptor.annotation, getattr(descriptor, "parameter_info", None))
    if convert is not None:
        param._runtime_param = _Plain(convert, build)


class _Plain:
    """The conversion of one parameter: the plain cases here, the rest by Typer's own."""

    __slots__ = ("_build", "_convert")

    def __init__(self, convert: Callable[[Any], Any], build: Callable[[Any], Any]) -> None:
        self._convert = convert
        self._build = build

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = bool(getattr(param, "multiple", False)) or getattr(param, "nargs", 1) == -1
        if value is None:
            return () if multiple else None  # what Typer returns for an absent value
        converted = self._convert(value)
        if converted is _FALLBACK:
            param._runtime_param = None  # Typer builds its own converter (and says what is wrong)
            return self._build(param).coerce(value, param=param, ctx=ctx)
        return converted


def _converter(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation in (int, float):
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if getattr(info, "clamp", False):
            return None
        if annotation is int:
            return lambda value: _integer(value, low, high)
        return lambda value: _decimal(value, low, high)
    if getattr(annotation, "__origin__", None) is list and getattr(annotation, "__args__", None) == (str,):
        return _texts
    return None


def _flag(value: Any) -> Any:
    return value if isinstance(value, bool) else _FALLBACK


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else _FALLBACK


def _texts(value: Any) -> Any:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return _FALLBACK
    items = list(value)
    return items if all(isinstance(v, str) for v in items) else _FALLBACK


def _integer(value: Any, low: float | None, high: float | None) -> Any:
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit() and value.count("-") <= 1:
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return _FALLBACK
    return _in_range(number, low, high)


def _decimal(value: Any, low: float | None, high: float | None) -> Any:
    text = isinstance(value, str) and _DECIMAL.fullmatch(value) is not None
    if not text and (not isinstance(value, float | int) or isinstance(value, bool)):
        return _FALLBACK
    number = float(value)
    return _in_range(number, low, high)


def _in_range(number: float, low: float | None, high: float | None) -> Any:
    if (low is not None and number < low) or (high is not None and number > high):
        return _FALLBACK
    return number


def plain_integer(text: str, minimum: int | None = None) -> int | None:
    """``text`` as the integer Typer would make of it, or None where Typer would say more
    (not a plain integer, below ``minimum``): what :mod:`opi_cli.cli.fast_args` accepts."""
    value = _integer(text, minimum, None)
    return None if value is _FALLBACK else int(value)


def plain_decimal(text: str) -> float | None:
    """``text`` as the number Typer would make of it, or None (see :func:`plain_integer`)."""
    value = _decimal(text, None, None)
    return None if value is _FALLBACK else float(value)
