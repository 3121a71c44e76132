"""The common options (:data:`opi_cli.cli.options.OPTIONS`) as Typer parameters.

Typer builds options from a function signature; :func:`with_common_options` gives a
command the shared parameters (by setting ``__signature__``/``__annotations__``) and
hands them to the command as one :class:`~opi_cli.cli.options.RunOptions` value.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Collection
from typing import Annotated, Any

import typer

from opi_cli.cli.options import (
    GLOBAL_OPTION_NAMES,
    LIST_NAMES,
    MESSAGES_HELP,
    OPTIONS,
    OptionSpec,
    RunOptions,
)

__all__ = ["COMMON", "SESSION_PARAM", "with_common_options"]

_TYPES: dict[str, tuple[Any, Any]] = {  # kind: (annotation, default)
    "flag": (bool, False),
    "text": (str | None, None),
    "texts": (list[str] | None, None),
    "int": (int | None, None),
    "float": (float | None, None),
}


def _parameter(spec: OptionSpec) -> inspect.Parameter:
    annotation, default = _TYPES[spec.kind]
    extra: dict[str, Any] = {}
    if spec.metavar is not None:
        extra["metavar"] = spec.metavar
    if spec.hidden:
        extra["hidden"] = True
    if not spec.show_default:
        extra["show_default"] = False
    if spec.minimum is not None:
        extra["min"] = spec.minimum
    info = typer.Option(*spec.decls, help=spec.help, **extra)
    return inspect.Parameter(spec.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             annotation=Annotated[annotation, info], default=default)


COMMON: list[inspect.Parameter] = [
    inspect.Parameter(
        "messages", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
        annotation=Annotated[list[str] | None, typer.Argument(metavar="[MESSAGE]...", show_default=False,
                                                              help=MESSAGES_HELP)],
    ),
    *(_parameter(spec) for spec in OPTIONS),
]
"""The default command's words, then every common option, in ``--help`` order."""


def _hidden(param: inspect.Parameter) -> inspect.Parameter:
    """``param`` with its Typer option hidden from ``--help`` (still accepted)."""
    info = copy.copy(param.annotation.__metadata__[0])
    info.hidden = True
    return param.replace(annotation=Annotated[param.annotation.__origin__, info])


def with_common_options(
    extra: list[inspect.Parameter] | None = None,
    *,
    interactive: bool | None = None,
    only_global: bool = False,
    shown: Collection[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``fn(options: RunOptions, **extra)`` into a Typer command with the common options.

    Args:
        extra: the command's own parameters (passed to ``fn`` as keyword arguments).
        interactive: ``RunOptions.interactive`` for this command (True for ``chat``).
        only_global: accept only the global options, hidden from ``--help`` except ``shown``
            (for commands that do not run the agent).
        shown: with ``only_global``, the option names (``session_dir``, ...) the command uses.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if only_global:
            common = [p if p.name in shown else _hidden(p) for p in COMMON if p.name in GLOBAL_OPTION_NAMES]
        else:
            common = COMMON
        names = {p.name for p in common}
        params = list(extra or []) + common

        def command(**kwargs: Any) -> Any:
            opts = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            for name in LIST_NAMES & names:
                opts[name] = list(opts.get(name) or [])
            return fn(RunOptions(**opts, interactive=interactive), **kwargs)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__ = fn.__name__
        command.__doc__ = fn.__doc__
        return command

    return decorate


SESSION_PARAM = inspect.Parameter(
    "session",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    annotation=Annotated[str, typer.Argument(metavar="SESSION", help="Session file path, or an id prefix.")],
)
