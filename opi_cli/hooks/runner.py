"""Run the configured hooks at the loop's and the session's hook points, as Claude Code does.

:class:`HookRunner` turns a :class:`~opi_cli.hooks.config.HookConfig` into one
:class:`~opi_cli.agent.hooks.AgentHooks` layer (``PreToolUse``, ``PostToolUse``) and one
:class:`~opi_cli.session.session_hooks.SessionHooks` layer (``SessionStart``,
``UserPromptSubmit``, ``Stop``, ``PreCompact``), combined with the other layers by
``compose_hooks`` / ``compose_session_hooks``. The CLI and the library use the same runner.

Every matching handler gets the event as a JSON object with Claude Code's field names
(``session_id``, ``transcript_path``, ``cwd``, ``hook_event_name``, plus the event's own);
matching handlers run at the same time and are read in configured order:

- exit 0: goes on. Plain stdout is context for ``UserPromptSubmit`` and ``SessionStart``;
  stdout that is a JSON object is read as Claude Code's output: ``continue: false``
  (+ ``stopReason``) and ``decision: "block"`` (+ ``reason``) block, ``PreToolUse``'s
  ``hookSpecificOutput.permissionDecision: "deny"`` (+ ``permissionDecisionReason``)
  blocks, ``hookSpecificOutput.additionalContext`` adds context, ``systemMessage`` is
  shown to the user.
- exit 2: blocks, with stderr as the reason. ``PreToolUse``: the tool is not run and the
  model reads the reason. ``PostToolUse``: the reason is added to the tool's result.
  ``UserPromptSubmit``: the prompt is not sent. ``Stop``: the model gets the reason and
  goes on. ``SessionStart`` and ``PreCompact`` cannot block; the reason is shown.
- any other code, a timeout (the process group is killed) or a failure to start: reported
  to the user through ``notify`` and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from collections.abc import Callable, Mapping

from opi_cli._util.jsonio import JsonValue, dumps_bytes
from opi_cli._util.records import record
from opi_cli.agent.hooks import (
    AfterToolCallResult,
    AgentHooks,
    BeforeToolCallResult,
    ToolCallContext,
    compose_hooks,
)
from opi_cli.agent.tool import ToolResult
from opi_cli.ai.types import TextContent
from opi_cli.hooks.config import CommandHook, Handler, HookConfig, PythonHook
from opi_cli.hooks.process import run_command
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.session_hooks import (
    CompactTrigger,
    PromptVerdict,
    SessionHooks,
    SessionStartSource,
    StopVerdict,
    compose_session_hooks,
)

__all__ = ["HookOutcome", "HookRunner"]

Notify = Callable[[str], None]
SessionInfo = Callable[[], tuple[str, str | None]]  # (session id, session file or None)


@record
class HookOutcome:
    """What one handler answered, read the way Claude Code reads it."""

    label: str
    exit_code: int | None  # None: it failed (timeout, could not start, raised)
    stdout: str = ""
    stderr: str = ""
    output: dict[str, JsonValue] | None = None  # stdout parsed as a JSON object (exit 0 only)

    @property
    def specific(self) -> dict[str, JsonValue]:
        value = (self.output or {}).get("hookSpecificOutput")
        return value if isinstance(value, dict) else {}

    def block_reason(self, event: str) -> str | None:
        """Why this outcome blocks, or ``None`` when it does not."""
        if self.exit_code == 2:
            return self.stderr.strip() or f"blocked by {self.label} (exit code 2, no message)"
        out = self.output or {}
        if out.get("continue") is False:
            return str(out.get("stopReason") or f"stopped by {self.label}")
        if event == "PreToolUse" and self.specific.get("permissionDecision") == "deny":
            return str(self.specific.get("permissionDecisionReason") or f"denied by {self.label}")
        if out.get("decision") == "block":
            return str(out.get("reason") or f"blocked by {self.label}")
        return None

    def context(self, event: str) -> str | None:
        """Text this outcome adds to the conversation (exit 0 only)."""
        if self.exit_code != 0:
            return None
        extra = self.specific.get("additionalContext")
        if isinstance(extra, str) and extra.strip():
            return extra.strip()
        if self.output is None and event in ("UserPromptSubmit", "SessionStart") and self.stdout.strip():
            return self.stdout.strip()
        return None


def _parse_output(stdout: str) -> dict[str, JsonValue] | None:
    text = stdout.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _first_line(text: str) -> str:
    lines = [s for s in text.strip().splitlines() if s.strip()]
    return lines[0][:300] if lines else ""


def _default_notify(message: str) -> None:
    import logging

    logging.getLogger("opi.hooks").warning(message)


class HookRunner:
    """The hooks of one session (see the module docstring).

    Args:
        config: the handlers by event.
        cwd: where commands run (also ``cwd``, ``OPI_PROJECT_DIR`` and ``CLAUDE_PROJECT_DIR``).
        env: the commands' environment (default: this process's).
        notify: shows the user a line (a hook that failed, a ``systemMessage``); by default
            a warning on the ``opi.hooks`` logger.
    """

    def __init__(
        self, config: HookConfig, *, cwd: str, env: Mapping[str, str] | None = None, notify: Notify | None = None
    ) -> None:
        self.config = config
        self.cwd = cwd
        base = dict(os.environ if env is None else env)
        self.env = {**base, "OPI_PROJECT_DIR": cwd, "CLAUDE_PROJECT_DIR": cwd}
        self.notify: Notify = notify or _default_notify
        self._session: SessionInfo = lambda: ("", None)

    def bind(self, session: SessionInfo) -> None:
        """Where ``session_id`` and ``transcript_path`` come from (the session, once it exists)."""
        self._session = session

    def attach(self, session: AgentSession) -> None:
        """Run these hooks in a session that already exists, after the hooks it has.

        The library's way in: the loop's layer joins ``session.agent.options.hooks`` and
        the session's layer joins ``session.session_hooks`` (both with ``compose_*``), so
        from the next prompt on, this session runs them as ``opi`` would. ``SessionStart``
        runs at the session's next start, ``/new`` or compaction.
        """
        self.bind(lambda: (session.session_id, session.session_file))
        options = session.agent.options
        layer = self.agent_hooks()
        if layer is not None:
            options.hooks = compose_hooks(options.hooks, layer)
        own = self.session_hooks()
        if own is not None:
            session.session_hooks = compose_session_hooks(session.session_hooks, own)

    # -- running ---------------------------------------------------------------------------
    async def run(self, event: str, value: str | None, fields: dict[str, JsonValue]) -> list[HookOutcome]:
        """Run every handler of ``event`` matching ``value``; one outcome each, in configured order."""
        handlers = self.config.handlers(event, value)
        if not handlers:
            return []
        session_id, transcript = self._session()
        payload: dict[str, JsonValue] = {
            "session_id": session_id,
            "transcript_path": transcript,
            "cwd": self.cwd,
            "hook_event_name": event,
            "permission_mode": "default",
            **fields,
        }
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self._one(h, payload)) for h in handlers]
        outcomes = [t.result() for t in tasks]
        for o in outcomes:
            self._report(event, o)
        return outcomes

    async def _one(self, handler: Handler, payload: dict[str, JsonValue]) -> HookOutcome:
        if isinstance(handler, CommandHook):
            r = await run_command(handler.command, dumps_bytes(payload), cwd=self.cwd, env=self.env,
                                  timeout=handler.timeout)
            if r.exit_code is None:
                return HookOutcome(handler.label, None, r.stdout, r.error or r.stderr)
            output = _parse_output(r.stdout) if r.exit_code == 0 else None
            return HookOutcome(handler.label, r.exit_code, r.stdout, r.stderr, output)
        return await self._python(handler, payload)

    async def _python(self, handler: PythonHook, payload: dict[str, JsonValue]) -> HookOutcome:
        try:
            value = handler.fn(dict(payload))
            if inspect.isawaitable(value):
                value = await value
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a handler's failure never stops the run
            if handler.on_error is not None:
                handler.on_error(exc)  # its owner says so (an extension is disabled, once)
                return HookOutcome(handler.label, 0)
            return HookOutcome(handler.label, None, stderr=f"raised {type(exc).__name__}: {exc}")
        if isinstance(value, dict):
            return HookOutcome(handler.label, 0, json.dumps(value, default=str), "", value)
        return HookOutcome(handler.label, 0, "" if value is None else str(value))

    def _report(self, event: str, o: HookOutcome) -> None:
        message = (o.output or {}).get("systemMessage")
        if isinstance(message, str) and message.strip():
            self.notify(f"{event} hook {o.label}: {message.strip()}")
        if o.exit_code is None:
            self.notify(f"{event} hook {o.label} failed: {_first_line(o.stderr)} (ignored)")
        elif o.exit_code not in (0, 2):
            detail = _first_line(o.stderr)
            self.notify(f"{event} hook {o.label} exited with {o.exit_code}{': ' + detail if detail else ''} (ignored)")
        elif o.exit_code == 2 and event in ("SessionStart", "PreCompact"):
            self.notify(f"{event} hook {o.label}: {_first_line(o.stderr)} ({event} cannot be blocked)")

    # -- the layers ------------------------------------------------------------------------
    def agent_hooks(self) -> AgentHooks | None:
        """The ``PreToolUse``/``PostToolUse`` layer, or ``None`` when neither is configured."""
        has = self.config.events
        if not has.get("PreToolUse") and not has.get("PostToolUse"):
            return None
        return AgentHooks(
            before_tool_call=self._before if has.get("PreToolUse") else None,
            after_tool_call=self._after if has.get("PostToolUse") else None,
        )

    def session_hooks(self) -> SessionHooks | None:
        """The session-level layer, or ``None`` when no session event is configured."""
        has = self.config.events
        names = ("SessionStart", "UserPromptSubmit", "Stop", "PreCompact")
        if not any(has.get(n) for n in names):
            return None
        return SessionHooks(
            session_start=self._session_start if has.get("SessionStart") else None,
            user_prompt_submit=self._prompt if has.get("UserPromptSubmit") else None,
            stop=self._stop if has.get("Stop") else None,
            pre_compact=self._pre_compact if has.get("PreCompact") else None,
        )

    async def _before(self, ctx: ToolCallContext) -> BeforeToolCallResult | None:
        call = ctx.tool_call
        outcomes = await self.run("PreToolUse", call.name, {
            "tool_name": call.name, "tool_input": ctx.args, "tool_use_id": call.id,
        })
        reasons = [r for r in (o.block_reason("PreToolUse") for o in outcomes) if r]
        if reasons:
            return BeforeToolCallResult(True, "Blocked by a PreToolUse hook: " + "\n".join(reasons))
        return None

    async def _after(self, ctx: ToolCallContext, result: ToolResult) -> AfterToolCallResult | None:
        call = ctx.tool_call
        response = {"content": result.text, "isError": result.is_error, "details": result.details}
        outcomes = await self.run("PostToolUse", call.name, {
            "tool_name": call.name, "tool_input": ctx.args, "tool_use_id": call.id, "tool_response": response,
        })
        notes = [f"PostToolUse hook: {r}" for r in (o.block_reason("PostToolUse") for o in outcomes) if r]
        notes += [c for c in (o.context("PostToolUse") for o in outcomes) if c]
        if not notes:
            return None
        return AfterToolCallResult(content=(*result.content, TextContent("\n\n" + "\n\n".join(notes))))

    async def _session_start(self, source: SessionStartSource) -> str | None:
        outcomes = await self.run("SessionStart", source, {"source": source})
        texts = [c for c in (o.context("SessionStart") for o in outcomes) if c]
        return "\n\n".join(texts) if texts else None

    async def _prompt(self, text: str) -> PromptVerdict | None:
        outcomes = await self.run("UserPromptSubmit", None, {"prompt": text})
        reasons = [r for r in (o.block_reason("UserPromptSubmit") for o in outcomes) if r]
        if reasons:
            return PromptVerdict(block=True, reason="\n".join(reasons))
        texts = [c for c in (o.context("UserPromptSubmit") for o in outcomes) if c]
        return PromptVerdict(context="\n\n".join(texts)) if texts else None

    async def _stop(self, active: bool) -> StopVerdict | None:
        outcomes = await self.run("Stop", None, {"stop_hook_active": active})
        reasons = [r for r in (o.block_reason("Stop") for o in outcomes) if r]
        return StopVerdict(True, "\n".join(reasons)) if reasons else None

    async def _pre_compact(self, trigger: CompactTrigger, instructions: str | None) -> None:
        await self.run("PreCompact", trigger, {"trigger": trigger, "custom_instructions": instructions or ""})
