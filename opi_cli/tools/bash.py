"""The ``bash`` tool: run a command in its own process group, stream its tail, kill the group on stop."""

from __future__ import annotations

import asyncio
import copy
from typing import Literal

from opi_cli._util.abort import AbortSignal
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.tool import (
    ExecutionMode,
    ToolResult,
    ToolUpdate,
    UpdateCallback,
    error_result,
    text_result,
)
from opi_cli.ai.types import TextContent
from opi_cli.errors import ToolError
from opi_cli.tools.args import opt_number, req_str
from opi_cli.tools.bash_output import OutputCollector
from opi_cli.tools.ops import FileOps, ShellOps, ShellProcess

__all__ = ["BashTool"]

_CHUNK = 65536
_DRAIN_QUIET = 0.25
"""After the shell exits, stop reading once no output arrived for this long: a background
child that inherited the pipe must not keep the call open."""

Outcome = Literal["exited", "timeout", "aborted"]


def _seconds(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


_PARAMETERS: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "Bash command to execute"},
        "timeout": {"type": "number", "description": "Timeout in seconds (optional, no default timeout)"},
    },
    "required": ["command"],
}


class BashTool:
    """Run ``command`` with the shell in ``cwd``: stdin closed, stdout and stderr merged.

    Args:
        cwd: the working directory of every command.
        file_ops: the file-system seam (for the cwd check and the full-output file).
        shell_ops: the process seam.
    """

    name = "bash"
    description = (
        "Execute a bash command in the current working directory. Returns stdout and stderr. "
        "Output is truncated to last 2000 lines or 50KB (whichever is hit first). If truncated, "
        "full output is saved to a temp file. Optionally provide a timeout in seconds."
    )
    execution_mode: ExecutionMode = "parallel"
    prompt_snippet = "Execute bash commands (ls, grep, find, etc.)"

    def __init__(self, cwd: str, file_ops: FileOps, shell_ops: ShellOps) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(_PARAMETERS)
        self.cwd = cwd
        self.file_ops = file_ops
        self.shell_ops = shell_ops

    async def execute(
        self,
        call_id: str,
        args: dict[str, JsonValue],
        signal: AbortSignal,
        on_update: UpdateCallback | None,
    ) -> ToolResult:
        if signal.aborted:
            return error_result("Command aborted")
        try:
            command = req_str(args, "command")
            timeout = opt_number(args, "timeout")
        except ToolError as exc:
            return error_result(str(exc))
        if timeout is not None and timeout <= 0:
            timeout = None
        if await self.file_ops.kind(self.cwd) != "dir":
            return error_result(
                f"Working directory does not exist: {self.cwd}\nCannot execute bash commands."
            )
        out = OutputCollector(self.file_ops)
        try:
            proc = await self.shell_ops.spawn_shell(command, self.cwd)
        except ToolError as exc:  # e.g. a sandbox that cannot run here
            return error_result(str(exc))
        remove = signal.add_callback(proc.kill_group)
        try:
            outcome, code = await self._supervise(proc, out, signal, timeout, on_update)
        finally:
            remove()
        result = await out.finish()
        text = result.text
        if outcome == "aborted":
            body = "" if out.total_bytes == 0 else text + "\n\n"
            return error_result(body + "Command aborted", result.details)
        if outcome == "timeout":
            body = "" if out.total_bytes == 0 else text + "\n\n"
            assert timeout is not None
            return error_result(f"{body}Command timed out after {_seconds(timeout)} seconds", result.details)
        if code != 0:
            return error_result(f"{text}\n\nCommand exited with code {code}", result.details)
        return text_result(text, result.details)

    async def _supervise(
        self,
        proc: ShellProcess,
        out: OutputCollector,
        signal: AbortSignal,
        timeout: float | None,
        on_update: UpdateCallback | None,
    ) -> tuple[Outcome, int]:
        pump = asyncio.create_task(self._pump(proc, out, on_update))
        waiter = asyncio.create_task(proc.wait())
        aborter = asyncio.create_task(signal.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, aborter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            outcome: Outcome
            if signal.aborted:
                outcome = "aborted"
            elif waiter not in done:
                outcome = "timeout"
            else:
                outcome = "exited"
            if outcome != "exited":
                proc.kill_group()
            code = await waiter
            await self._drain(pump, out)
            return outcome, code
        finally:
            if not waiter.done():
                proc.kill_group()
            for task in (pump, waiter, aborter):
                task.cancel()
            await asyncio.gather(pump, waiter, aborter, return_exceptions=True)
            proc.close()

    @staticmethod
    async def _drain(pump: asyncio.Task[None], out: OutputCollector) -> None:
        seen = -1
        while not pump.done() and seen != out.total_bytes:
            seen = out.total_bytes
            await asyncio.wait({pump}, timeout=_DRAIN_QUIET)
        if pump.done():
            pump.result()

    @staticmethod
    async def _pump(proc: ShellProcess, out: OutputCollector, on_update: UpdateCallback | None) -> None:
        while chunk := await proc.read(_CHUNK):
            await out.add(chunk)
            if on_update is not None:
                on_update(ToolUpdate((TextContent(out.preview()),)))
