"""Running ripgrep or fd through :class:`ShellOps` and reading their output line by line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from opi_cli._util.abort import AbortSignal
from opi_cli._util.records import record
from opi_cli.tools.ops import ShellOps

__all__ = ["LineRun", "find_binary", "run_lines"]


@record
class LineRun:
    """How a run ended: exit code (``None`` if we stopped it) and lines we did not consume."""

    code: int | None
    other: tuple[str, ...]


def find_binary(shell_ops: ShellOps, *names: str) -> str | None:
    """The first of ``names`` found on PATH."""
    for name in names:
        found = shell_ops.which(name)
        if found:
            return found
    return None


async def accepts_flags(shell_ops: ShellOps, binary: str, flags: Sequence[str], cwd: str, signal: AbortSignal) -> bool:
    """True when ``binary`` runs with ``flags`` (older fd/rg builds lack some; then the
    pure-Python path is used, so results never depend on the installed version)."""
    run = await run_lines(shell_ops, [binary, *flags, "--version"], cwd, signal, lambda _line: True)
    return run.code == 0


async def run_lines(
    shell_ops: ShellOps,
    argv: Sequence[str],
    cwd: str,
    signal: AbortSignal,
    on_line: Callable[[str], bool | None],
) -> LineRun:
    """Run ``argv`` and feed each output line to ``on_line`` until it returns ``False``.

    ``on_line`` returns ``True`` for a line it used, ``None`` for one it did not understand
    (kept in :attr:`LineRun.other`, e.g. an error message), ``False`` to stop the process.
    """
    proc = await shell_ops.spawn(argv, cwd)
    remove = signal.add_callback(proc.kill_group)
    other: list[str] = []
    buf = b""
    stopped = False
    try:
        while not stopped and (chunk := await proc.read(65536)):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                verdict = on_line(raw.decode("utf-8", "replace"))
                if verdict is None:
                    other.append(raw.decode("utf-8", "replace"))
                elif verdict is False:
                    stopped = True
                    break
        if not stopped and buf and on_line(buf.decode("utf-8", "replace")) is None:
            other.append(buf.decode("utf-8", "replace"))
        if stopped or signal.aborted:
            proc.kill_group()
            await proc.wait()
            return LineRun(None, tuple(other))
        return LineRun(await proc.wait(), tuple(other))
    except asyncio.CancelledError:
        proc.kill_group()
        raise
    finally:
        remove()
        proc.close()
