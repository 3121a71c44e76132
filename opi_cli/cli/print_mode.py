"""Non-interactive runs: ``-p`` prints the final answer, ``--json`` writes the event stream.

``--json`` writes the session header, then every event as one line (flushed at once, so
a reader sees tokens as they stream), and always ends with ``session_summary``. Both
modes wait for any compaction or retry in flight before exiting, and share the exit codes
of PROTOCOL.md §1: 0 success, 1 error or aborted, 130 interrupted (SIGINT), 143 SIGTERM,
129 SIGHUP. A session that cannot be saved is a warning on stderr under ``-p`` (``--json``
has its ``persistence_error`` event).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

from opi_cli.agent.events import (
    AgentEvent,
    CompactionEnd,
    PermissionDenied,
    PersistenceErrorEvent,
    SessionSummary,
    TurnStart,
)
from opi_cli.ai.types import AssistantMessage, ImageContent, Usage
from opi_cli.cli.event_stream import EventWriter
from opi_cli.cli.exit_signals import describe, install_exit_signals
from opi_cli.cli.failures import STDOUT, output_error, write_stdout
from opi_cli.cli.runtime import Runtime
from opi_cli.session.session_hooks import PromptBlocked

__all__ = ["run_noninteractive"]


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except OSError:
        pass  # a hung-up terminal: nowhere left to say it


async def run_noninteractive(
    rt: Runtime, prompts: list[tuple[str, list[ImageContent]]], *, json_mode: bool, snapshots: bool = False
) -> int:
    """Send each prompt in turn; returns the process exit code (``snapshots``: pi's --json shape)."""
    try:  # @server:uri resources: a failure ends the run before any output, like bad options
        prompts = [await rt.expand_references(text, images) for text, images in prompts]
    except BaseException:
        await rt.aclose()
        raise
    started = time.monotonic()
    out = sys.stdout.buffer
    writer = EventWriter(out, snapshots=snapshots) if json_mode else None
    turns = 0
    usage = Usage()
    last: AssistantMessage | None = None
    compaction_error: str | None = None

    def observe(ev: AgentEvent) -> None:
        nonlocal turns, usage, last, compaction_error
        if isinstance(ev, TurnStart):
            turns += 1
        elif isinstance(ev, PersistenceErrorEvent) and writer is None:
            _stderr(f"opi: warning: {ev.message}\n")  # --json reports it as an event
        elif isinstance(ev, CompactionEnd) and ev.reason == "overflow" and ev.error_message and not ev.will_retry:
            compaction_error = ev.error_message
        elif isinstance(ev, PermissionDenied) and not json_mode:  # --json has it as an event
            sys.stderr.write(f"opi: {ev.tool_name} call refused: {ev.reason}\n")
        elif ev.type == "message_end":
            m = ev.message
            if isinstance(m, AssistantMessage):
                usage = usage.plus(m.usage)
                last = m

    if writer is not None:
        writer.line(rt.session.header_json())
    if rt.trust is not None and rt.trust.notice:
        sys.stderr.write(f"opi: {rt.trust.notice}\n")
    unsubscribe = rt.session.subscribe(observe)
    unsubscribe_json = rt.session.subscribe(writer) if writer is not None else None
    interrupted: int | None = None  # the exit code of the signal that stopped the run
    loop = asyncio.get_running_loop()

    def stop(code: int) -> None:
        nonlocal interrupted
        if interrupted is None:
            interrupted = code
        rt.session.abort("Interrupted" if code == 130 else describe(code))

    try:
        loop.add_signal_handler(signal.SIGINT, stop, 130)
    except (NotImplementedError, RuntimeError):
        pass
    blocked: str | None = None
    restore_exit_signals = install_exit_signals(stop)
    try:
        for text, images in prompts:
            try:
                await rt.session.prompt(text, images)
            except PromptBlocked as exc:  # a UserPromptSubmit hook said no: nothing was sent
                blocked = str(exc)
                break
            if interrupted or (last is not None and last.stop_reason in ("error", "aborted")):
                break
    finally:
        try:
            await rt.aclose()
        finally:
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError):
                pass
            restore_exit_signals()
    code = interrupted or (1 if blocked or last is None or last.stop_reason in ("error", "aborted") else 0)
    error = (compaction_error or last.error_message) if last is not None and code else None
    if last is None and code:
        error = "the run produced no answer"
    error = blocked or error
    ceiling = rt.trust.ceiling if rt.trust is not None else None
    if code in (143, 129):
        error = describe(code)
    if writer is not None:
        summary = SessionSummary(
            rt.session.session_id,
            rt.session.session_file,
            "max_cost" if ceiling is not None and ceiling.reached else last.stop_reason if last else "error",
            turns,
            usage,
            int((time.monotonic() - started) * 1000),
            code,
            error,
        )
        writer(summary)
    else:
        if last is not None and code == 0:
            text = last.text
            write_stdout(text if text.endswith("\n") else text + "\n")
    if code and error:
        _stderr(f"opi: {error}\n")
    unsubscribe()
    if unsubscribe_json is not None:
        unsubscribe_json()
    if writer is not None and writer.error is not None:
        raise output_error(writer.error, STDOUT)
    return code
