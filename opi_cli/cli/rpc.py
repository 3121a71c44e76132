"""``opi --mode rpc``: JSON commands on stdin, responses and events on stdout (docs/rpc.md).

The server drives the same :class:`~opi_cli.session.agent_session.AgentSession` as the REPL.
Every non-blank stdin line gets exactly one response ``{"type": "response", "id"?,
"command", "success", "data"? | "error"?}``: a line that is not JSON, not an object, an
unknown command or invalid parameters get an error response and the server reads on (pi
answers some commands twice and some errors without their id; opi does neither). Events
are written as they happen, in the linear shape of cli/event_stream.py, and never carry an
id.

Commands run as tasks in arrival order. Those that change what the conversation is
(``prompt`` starting a run, ``compact``, ``new_session``, ``switch_session``, ``fork``,
``export_html``) run one at a time and after the current run; everything else (queueing,
aborting, reading state) is answered while a run streams. EOF on stdin ends the process
after the running turn and the commands in flight (send ``abort`` first to end at once);
SIGINT aborts the run, not the process; SIGTERM/SIGHUP abort and end it (exit 143/129).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from opi_cli._util.abort import AbortController
from opi_cli._util.jsonio import JsonValue, loads
from opi_cli.agent.events import AgentEvent, AutoRetryEnd, AutoRetryStart, CompactionEnd, CompactionStart
from opi_cli.ai.types import ImageContent
from opi_cli.cli.event_stream import EventWriter
from opi_cli.cli.rpc_commands import HANDLERS, NO_DATA, CommandError, Handler, NoData
from opi_cli.cli.rpc_schema import command_validator
from opi_cli.cli.runtime import Runtime
from opi_cli.cli.stdin_lines import MAX_LINE, LineReader, TooLong
from opi_cli.errors import OpiError
from opi_cli.session.session_hooks import PromptBlocked

__all__ = ["RpcServer", "run_rpc"]


class RpcServer:
    """One RPC session over one runtime (see the module docstring)."""

    def __init__(self, rt: Runtime, writer: EventWriter) -> None:
        self.rt = rt
        self.session = rt.session
        self.writer = writer
        self.serial = asyncio.Lock()
        """Held by commands that change what the conversation is (fair: arrival order)."""
        self.run_task: asyncio.Task[None] | None = None
        self.bash: AbortController | None = None
        self.retrying = False
        self.compacting = 0
        self.exit_code = 0
        self._lines: LineReader | None = None
        self._group: asyncio.TaskGroup | None = None

    # -- state
    @property
    def streaming(self) -> bool:
        return self.run_task is not None and not self.run_task.done()

    async def wait_idle(self) -> None:
        """Until the current run (with its compaction and retry) has ended."""
        while self.run_task is not None and not self.run_task.done():
            await asyncio.wait({self.run_task})

    def start_run(self, text: str, images: list[ImageContent]) -> None:
        assert self._group is not None and not self.streaming
        self.run_task = self._group.create_task(self._run(text, images), name="opi-rpc-run")

    async def _run(self, text: str, images: list[ImageContent]) -> None:
        try:
            await self.session.prompt(text, images)
        except PromptBlocked as exc:  # a UserPromptSubmit hook said no
            sys.stderr.write(f"opi: {exc}\n")
        except Exception as exc:  # the loop reports failures as messages: this is a bug's last stop
            sys.stderr.write(f"opi: the run failed: {type(exc).__name__}: {exc}\n")

    def abort_all(self, reason: str) -> None:
        """Abort the run, a compaction and a bash command."""
        self.session.abort(reason)
        if self.bash is not None:
            self.bash.abort(reason)

    # -- output
    def respond(self, command: str, cid: JsonValue, *, data: JsonValue = NO_DATA, error: str | None = None) -> None:
        r: dict[str, JsonValue] = {"type": "response"}
        if type(cid) in (str, int):  # an id of another type failed validation; it is not echoed
            r["id"] = cid
        r["command"] = command
        r["success"] = error is None
        if error is not None:
            r["error"] = error
        elif not isinstance(data, NoData):
            r["data"] = data
        self.writer.line(r)

    def _on_event(self, ev: AgentEvent) -> None:
        if isinstance(ev, AutoRetryStart):
            self.retrying = True
        elif isinstance(ev, AutoRetryEnd):
            self.retrying = False
        elif isinstance(ev, CompactionStart):
            self.compacting += 1
        elif isinstance(ev, CompactionEnd):
            self.compacting = max(0, self.compacting - 1)
        self.writer(ev)

    # -- input
    def _refuse(self, command: str, cid: JsonValue, error: str) -> None:
        """Answer a line that runs nothing, in turn after the commands read before it."""
        asyncio.get_running_loop().call_soon(lambda: self.respond(command, cid, error=error))

    def _dispatch(self, raw: bytes | TooLong) -> None:
        if isinstance(raw, TooLong):
            self._refuse("parse", None, f"Line too long: {raw.size} bytes (the limit is {MAX_LINE}); nothing was run.")
            return
        text = raw[:-1] if raw.endswith(b"\r") else raw
        if not text.strip():
            return
        try:
            cmd = loads(text)
        except (ValueError, RecursionError) as exc:
            self._refuse("parse", None, f"Failed to parse command: {exc}")
            return
        if not isinstance(cmd, dict):
            self._refuse("parse", None, 'Failed to parse command: a command is a JSON object such as '
                                        f'{{"type": "get_state"}}, not {type(cmd).__name__}.')
            return
        cid, name = cmd.get("id"), cmd.get("type")
        if not isinstance(name, str):
            self._refuse("parse", cid, 'Failed to parse command: no "type" string, e.g. {"type": "get_state"}.')
            return
        entry = HANDLERS.get(name)
        if entry is None:
            self._refuse(name, cid, f"Unknown command: {name} (`opi schema --rpc` lists the commands).")
            return
        problem = next(iter(command_validator(name).iter_errors(cmd)), None)
        if problem is not None:
            where = "".join(f"[{p!r}]" for p in problem.absolute_path)
            self._refuse(name, cid, f"Invalid {name} command: {where + ' ' if where else ''}{problem.message}")
            return
        handler, serial = entry
        assert self._group is not None
        self._group.create_task(self._execute(name, cid, cmd, handler, serial), name=f"opi-rpc-{name}")

    async def _execute(
        self, name: str, cid: JsonValue, cmd: dict[str, JsonValue], handler: Handler, serial: bool
    ) -> None:
        try:
            if serial:
                async with self.serial:
                    await self.wait_idle()
                    data = await handler(self, cmd)
            else:
                data = await handler(self, cmd)
        except (CommandError, OpiError) as exc:
            self.respond(name, cid, error=str(exc))
        except Exception as exc:  # a command must always get its one answer
            self.respond(name, cid, error=f"{name} failed: {type(exc).__name__}: {exc}")
        else:
            self.respond(name, cid, data=data)

    def _signal(self, signum: int) -> None:
        if signum == signal.SIGINT:
            self.abort_all("Interrupted")
            return
        self.exit_code = 128 + signum
        self.abort_all("Terminated")
        if self._lines is not None:
            self._lines.end()

    async def serve(self, fd: int) -> int:
        """Read commands from ``fd`` until EOF (or SIGTERM); returns the exit code."""
        loop = asyncio.get_running_loop()
        lines = self._lines = LineReader(fd)
        lines.start()
        handled = []
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._signal, signum)
                handled.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        unsubscribe = self.session.subscribe(self._on_event)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                while (item := await lines.get()) is not None:
                    self._dispatch(item)
            self.writer.flush()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            unsubscribe()
        return self.exit_code


async def run_rpc(rt: Runtime, *, snapshots: bool = False) -> int:
    """Serve the RPC protocol on stdin/stdout until EOF; closes the runtime."""
    writer = EventWriter(sys.stdout.buffer, snapshots=snapshots)
    try:
        return await RpcServer(rt, writer).serve(sys.stdin.fileno())
    finally:
        await rt.aclose()
