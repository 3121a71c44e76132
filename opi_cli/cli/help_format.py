"""How ``--help`` reads: metavars instead of Python types, and a root help that shows the default command.

Typer prints an argument as ``SESSION <str>`` and a required one as ``{SESSION}`` in the
usage line; a newcomer should read ``SESSION``. :class:`PlainCommand` formats arguments by
their metavar only. :class:`RootGroup` makes ``opi --help`` show what a bare ``opi`` takes
(the hidden default command's arguments and options) before the list of commands, and
:class:`DefaultCommand` keeps the hidden name ``run`` out of its usage errors.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["DefaultCommand", "PlainCommand", "PlainGroup", "RootGroup"]


def _argument_name(param: Any) -> str:
    return str(param.metavar or param.name.upper())


def _format_params(command: Any, ctx: Any, formatter: Any) -> None:
    args: list[tuple[str, str]] = []
    opts: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            args.append((_argument_name(param), record[1]))
        else:
            opts.append(record)
    if args:
        with formatter.section("Arguments"):
            formatter.write_dl(args)
    if opts:
        with formatter.section("Options"):
            formatter.write_dl(opts)


class PlainCommand(TyperCommand):
    """A command whose help names arguments by their metavar, without Python types."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_name(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)


class _DefaultContext(typer.Context):
    """The default command's context: its path is the program's (``opi``, never ``opi run``)."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


class DefaultCommand(PlainCommand):
    """The hidden default command: a usage error reads ``Usage: opi [OPTIONS] [MESSAGE]...``
    and ``Try 'opi -h'``, as the user typed it (``run`` is not a word to type)."""

    context_class = _DefaultContext


class PlainGroup(TyperGroup):
    """A command group formatted like :class:`PlainCommand`."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)


class RootGroup(TyperGroup):
    """``opi --help``: the default command's arguments and options, then the commands."""

    default_command = "run"

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage("opi", "[OPTIONS] [MESSAGE]...")
        formatter.write_usage("opi", "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: Any, formatter: Any) -> None:
        default = self.commands.get(self.default_command)
        if default is not None:
            with typer.Context(default, info_name="opi", help_option_names=[]) as sub:
                _format_params(default, sub, formatter)
        with formatter.section("Other options"):
            formatter.write_dl([("-v, --version", "Show the version."), ("-h, --help", "Show this help.")])
        self.format_commands(ctx, formatter)
