"""Claude Code's ``-p --output-format stream-json|json [--input-format stream-json]``, as an alias.

Programs written to drive ``claude -p`` this way can drive opi where the two map cleanly
(docs/rpc.md lists the differences). Input, with ``--input-format stream-json``: one JSON
object per line, ``{"type": "user", "message": {"role": "user", "content": "text" |
[text and base64 image blocks]}}`` (one run each, in order: a message sent while a run
streams waits for it), and ``{"type": "control_request", "request_id", "request":
{"subtype": "interrupt" | "initialize"}}`` answered by a ``control_response``. Output:
``system``/``init`` first, then an ``assistant`` line per assistant message (Anthropic's
message shape), a ``user`` line per tool result, with ``--include-partial-messages`` a
``stream_event`` per Anthropic stream event, and a ``result`` line at the end of each run.
``--output-format json`` writes only the ``result`` lines.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Literal

from opi_cli._util.jsonio import JsonValue, loads
from opi_cli.agent.events import AgentEvent, MessageEnd, MessageStart, MessageUpdate, TurnStart
from opi_cli.ai.events import ContentDelta, ContentEnd, ContentStart
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
)
from opi_cli.cli.event_stream import EventWriter
from opi_cli.cli.runtime import Runtime
from opi_cli.cli.stdin_lines import LineReader, TooLong
from opi_cli.session.session_hooks import PromptBlocked

__all__ = ["ClaudeShape", "run_stream_json", "user_input"]

_STOP = {"stop": "end_turn", "toolUse": "tool_use", "length": "max_tokens"}
_DELTA = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking"),
          "toolcall": ("input_json_delta", "partial_json")}


def _usage(u: Usage) -> dict[str, JsonValue]:
    return {"input_tokens": u.input, "cache_creation_input_tokens": u.cache_write,
            "cache_read_input_tokens": u.cache_read, "output_tokens": u.output}


def _block(c: object) -> dict[str, JsonValue]:
    if isinstance(c, ToolCall):
        return {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
    if isinstance(c, ThinkingContent):
        if c.redacted:
            return {"type": "redacted_thinking", "data": c.thinking_signature or ""}
        return {"type": "thinking", "thinking": c.thinking, "signature": c.thinking_signature or ""}
    if isinstance(c, ImageContent):
        return {"type": "image", "source": {"type": "base64", "media_type": c.mime_type, "data": c.data}}
    return {"type": "text", "text": getattr(c, "text", "")}


def user_input(obj: JsonValue) -> tuple[str, list[ImageContent]]:
    """The prompt in one ``{"type": "user", ...}`` input line.

    Raises:
        ValueError: the line is not a user message opi can send (says why).
    """
    message = obj.get("message") if isinstance(obj, dict) else None
    if not isinstance(message, dict) or message.get("role", "user") != "user":
        raise ValueError('a user line is {"type": "user", "message": {"role": "user", "content": ...}}')
    content = message.get("content")
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise ValueError("message.content is a string or a list of content blocks")
    texts: list[str] = []
    images: list[ImageContent] = []
    for n, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        source = block.get("source") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "image" and isinstance(source, dict) and source.get("type") == "base64":
            images.append(ImageContent(str(source.get("data", "")), str(source.get("media_type", ""))))
        else:
            raise ValueError(f"content block {n} ({kind or 'no type'}): opi takes text and base64 image blocks")
    return "\n".join(texts), images


class ClaudeShape:
    """Turns opi's events into Claude Code's stream-json lines, and keeps the run's totals."""

    def __init__(self, rt: Runtime, *, partial: bool, quiet: bool) -> None:
        self.rt = rt
        self.partial = partial
        self.quiet = quiet
        self.turns = 0
        self.usage = Usage()
        self.last: AssistantMessage | None = None
        self._message_id = ""

    def _line(self, kind: str, **fields: JsonValue) -> dict[str, JsonValue]:
        return {"type": kind, **fields, "parent_tool_use_id": None, "session_id": self.rt.session.session_id,
                "uuid": str(uuid.uuid4())}

    def _event(self, event: dict[str, JsonValue]) -> dict[str, JsonValue]:
        return self._line("stream_event", event=event)

    def _assistant(self, m: AssistantMessage, *, content: bool = True) -> dict[str, JsonValue]:
        return {"id": self._message_id, "type": "message", "role": "assistant", "model": m.model,
                "content": [_block(c) for c in m.content] if content else [],
                "stop_reason": _STOP.get(m.stop_reason) if content else None, "stop_sequence": None,
                "usage": _usage(m.usage)}

    def init(self) -> dict[str, JsonValue]:
        """The first line: session, folder, model and tools."""
        s = self.rt.session
        return {"type": "system", "subtype": "init", "cwd": str(self.rt.settings.cwd), "session_id": s.session_id,
                "tools": list(self.rt.tools), "mcp_servers": [], "model": s.agent.model.id,
                "permissionMode": "bypassPermissions", "slash_commands": [], "apiKeySource": "none",
                "output_style": "default", "uuid": str(uuid.uuid4())}

    def __call__(self, ev: AgentEvent) -> Iterable[JsonValue]:
        if isinstance(ev, TurnStart):
            self.turns += 1
        elif isinstance(ev, MessageEnd) and isinstance(ev.message, AssistantMessage):
            self.usage = self.usage.plus(ev.message.usage)
            self.last = ev.message
        if self.quiet:
            return ()
        if isinstance(ev, MessageStart) and isinstance(ev.message, AssistantMessage):
            self._message_id = f"msg_{uuid.uuid4().hex[:24]}"
            if self.partial:
                return (self._event({"type": "message_start", "message": self._assistant(ev.message, content=False)}),)
        elif isinstance(ev, MessageUpdate) and self.partial:
            return (self._event(self._stream_event(ev)),)
        elif isinstance(ev, MessageEnd) and isinstance(ev.message, AssistantMessage):
            m = ev.message
            whole = self._line("assistant", message=self._assistant(m))
            if not self.partial:
                return (whole,)
            delta = {"type": "message_delta", "delta": {"stop_reason": _STOP.get(m.stop_reason), "stop_sequence": None},
                     "usage": {"output_tokens": m.usage.output}}
            return self._event(delta), self._event({"type": "message_stop"}), whole
        elif isinstance(ev, MessageEnd) and isinstance(ev.message, ToolResultMessage):
            r = ev.message
            result = {"type": "tool_result", "tool_use_id": r.tool_call_id, "content": [_block(c) for c in r.content],
                      "is_error": r.is_error}
            return (self._line("user", message={"role": "user", "content": [result]}),)
        return ()

    def _stream_event(self, ev: MessageUpdate) -> dict[str, JsonValue]:
        src = ev.source
        i = src.content_index
        if isinstance(src, ContentStart):
            block: dict[str, JsonValue] = {"type": "text", "text": ""}
            if src.kind == "thinking":
                block = {"type": "thinking", "thinking": "", "signature": ""}
            elif src.kind == "toolcall":
                call = ev.message.content[i] if i < len(ev.message.content) else None
                name, cid = (call.name, call.id) if isinstance(call, ToolCall) else ("", "")
                block = {"type": "tool_use", "id": cid, "name": name, "input": {}}
            return {"type": "content_block_start", "index": i, "content_block": block}
        if isinstance(src, ContentDelta):
            kind, key = _DELTA[src.kind]
            return {"type": "content_block_delta", "index": i, "delta": {"type": kind, key: src.delta}}
        assert isinstance(src, ContentEnd)
        return {"type": "content_block_stop", "index": i}

    def begin(self) -> None:
        self.turns, self.usage, self.last = 0, Usage(), None

    def result(self, duration_ms: int) -> dict[str, JsonValue]:
        """The ``result`` line of the run that just ended."""
        last = self.last
        failed = last is None or last.stop_reason in ("error", "aborted")
        r: dict[str, JsonValue] = {
            "type": "result", "subtype": "error_during_execution" if failed else "success", "is_error": failed,
            "duration_ms": duration_ms, "duration_api_ms": duration_ms, "num_turns": self.turns,
        }
        if failed:
            r["errors"] = [(last.error_message if last else None) or "the run produced no answer"]
        else:
            assert last is not None
            r["result"] = last.text
        r.update({"stop_reason": _STOP.get(last.stop_reason) if last else None,
                  "session_id": self.rt.session.session_id, "total_cost_usd": self.usage.cost.total,
                  "usage": _usage(self.usage), "permission_denials": [], "uuid": str(uuid.uuid4())})
        return r


class _Runner:
    def __init__(self, rt: Runtime, writer: EventWriter, shape: ClaudeShape) -> None:
        self.rt = rt
        self.writer = writer
        self.shape = shape
        self.failed = False
        self.stop: Literal["", "interrupted", "terminated"] = ""
        self.signum = 0

    async def one(self, text: str, images: list[ImageContent]) -> None:
        started = time.monotonic()
        self.shape.begin()
        try:
            await self.rt.session.prompt(self.rt.expand(text), images)
        except PromptBlocked as exc:  # a UserPromptSubmit hook said no
            sys.stderr.write(f"opi: {exc}\n")
        except Exception as exc:  # the loop reports failures as messages: this is a bug's last stop
            sys.stderr.write(f"opi: the run failed: {type(exc).__name__}: {exc}\n")
        result = self.shape.result(int((time.monotonic() - started) * 1000))
        self.failed = bool(result["is_error"])
        self.writer.line(result)

    async def prompts(self, prompts: list[tuple[str, list[ImageContent]]]) -> None:
        for text, images in prompts:
            await self.one(text, images)
            if self.failed or self.stop:
                return

    def _control(self, obj: dict[str, JsonValue]) -> None:
        rid = obj.get("request_id")
        request = obj.get("request")
        subtype = request.get("subtype") if isinstance(request, dict) else None
        response: dict[str, JsonValue] = {"subtype": "success", "request_id": rid, "response": {}}
        if subtype == "interrupt":
            self.rt.session.abort("Interrupted")
        elif subtype != "initialize":
            response = {"subtype": "error", "request_id": rid,
                        "error": f"Unsupported control request: {subtype} (opi answers interrupt and initialize)"}
        self.writer.line({"type": "control_response", "response": response})

    async def serve(self, lines: LineReader) -> None:
        queue: asyncio.Queue[tuple[str, list[ImageContent]] | None] = asyncio.Queue()

        async def work() -> None:
            while (item := await queue.get()) is not None and self.stop != "terminated":
                await self.one(*item)

        worker = asyncio.create_task(work(), name="opi-stream-json-runs")
        number = 0
        while (raw := await lines.get()) is not None:
            number += 1
            problem = self._take(raw, queue)
            if problem:
                sys.stderr.write(f"opi: stream-json input line {number}: {problem}; skipped.\n")
        queue.put_nowait(None)
        await worker

    def _take(self, raw: bytes | TooLong, queue: asyncio.Queue[tuple[str, list[ImageContent]] | None]) -> str:
        if isinstance(raw, TooLong):
            return f"{raw.size} bytes, longer than the limit"
        if not raw.strip():
            return ""
        try:
            obj = loads(raw)
        except (ValueError, RecursionError) as exc:
            return f"not JSON ({exc})"
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "control_request":
            self._control(obj)
            return ""
        if kind != "user":
            return f"type {kind!r}: opi reads user messages and control requests"
        try:
            queue.put_nowait(user_input(obj))
        except ValueError as exc:
            return str(exc)
        return ""

    def on_signal(self, signum: int) -> None:
        self.rt.session.abort("Interrupted")
        if signum == signal.SIGINT:
            self.stop = self.stop or "interrupted"
        else:
            self.stop, self.signum = "terminated", signum


async def run_stream_json(
    rt: Runtime, prompts: list[tuple[str, list[ImageContent]]] | None, *, final_only: bool, partial: bool
) -> int:
    """Run ``prompts`` (or the user lines of stdin when None) in Claude Code's shape; the exit code."""
    shape = ClaudeShape(rt, partial=partial, quiet=final_only)
    writer = EventWriter(sys.stdout.buffer, shape=shape)
    runner = _Runner(rt, writer, shape)
    lines = LineReader(sys.stdin.fileno()) if prompts is None else None
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):

        def on_signal(signum: int = signum) -> None:
            runner.on_signal(signum)
            if lines is not None and signum != signal.SIGINT:
                lines.end()

        try:
            loop.add_signal_handler(signum, on_signal)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    unsubscribe = rt.session.subscribe(writer)
    try:
        if not final_only:
            writer.line(shape.init())
        if lines is None:
            await runner.prompts(prompts or [])
        else:
            lines.start()
            await runner.serve(lines)
        writer.flush()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        unsubscribe()
        await rt.aclose()
    if runner.stop == "terminated":
        return 128 + runner.signum
    if runner.stop == "interrupted" and lines is None:
        return 130  # as -p: Ctrl+C ends a run from the command line; on stdin input it aborts one run
    return 1 if runner.failed else 0
