"""A WebSocket client for the OpenAI Realtime API that runs the agent's tools for the model.

``connect`` opens ``wss://api.openai.com/v1/realtime?model=…`` (GA: ``Authorization:
Bearer``, no beta header) and declares the tools in ``session.update`` (flat format).
``process_events`` delivers every server event to a handler and handles function calling
(wire-formats.md §5.4): when a call's arguments are complete it validates them, runs the
tool, sends ``conversation.item.create {function_call_output}``, and once the response is
done sends ``response.create`` so the model answers. ``error`` events reach the handler
and are not fatal; a close with an application code (3000 bad key, 4000 bad request) is a
:class:`~opi_cli.errors.RequestError` with the reason; an abnormal close is retried
``reconnect_attempts`` times (a new server session: earlier items are gone).

``websockets`` is imported when connecting, not when this module is imported.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from opi_cli._util.abort import AbortController
from opi_cli._util.jsonio import JsonValue, dumps
from opi_cli.agent.tool import Tool
from opi_cli.agent.validation import validate_arguments
from opi_cli.errors import AgentError, ConfigError, RequestError
from opi_cli.realtime.events import (
    ClientEvent,
    ErrorEvent,
    FunctionCallArgumentsDone,
    OutputItemEvent,
    ResponseDone,
    ServerEvent,
    ToolCallExecuted,
    parse_server_event,
)

__all__ = ["DEFAULT_REALTIME_URL", "Handler", "RealtimeClient", "RealtimeOptions", "realtime_url"]

DEFAULT_REALTIME_URL = "wss://api.openai.com/v1/realtime"
Handler = Callable[[ServerEvent], bool | Awaitable[bool | None] | None]
"""Called with every event; returning True stops ``process_events``."""

_NORMAL_CLOSE = frozenset({1000, 1001})


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """How to connect and what to declare.

    Attributes:
        url: the endpoint without ``?model=`` (``ws://127.0.0.1:PORT/v1/realtime`` in tests).
        api_key: sent as ``Authorization: Bearer``; never logged.
        instructions: the session's instructions (the agent's system prompt).
        tools: the agent's tools, declared in ``session.update`` and run for the model.
        output_modalities: ``("text",)`` or ``("audio",)``.
        session: more ``session`` fields to send (``audio``, ``tool_choice``, ...).
        reconnect_attempts: how many times an abnormal close is answered by reconnecting.
        open_timeout_s: time allowed for the connection and handshake.
        headers: extra upgrade-request headers.
    """

    url: str = DEFAULT_REALTIME_URL
    api_key: str | None = field(default=None, repr=False)
    instructions: str = ""
    tools: Sequence[Tool] = ()
    output_modalities: tuple[str, ...] = ("text",)
    session: Mapping[str, JsonValue] = field(default_factory=dict)
    reconnect_attempts: int = 1
    open_timeout_s: float = 30.0
    headers: Mapping[str, str] = field(default_factory=dict)


def realtime_url(base: str, model: str) -> str:
    """``base`` with ``model=`` added to its query."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}model={quote(model, safe='')}"


def _tool_json(tool: Tool) -> JsonValue:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
    }


def _close_kind(last_error: ErrorEvent | None, code: int) -> str:
    if code < 3000:
        return "network"
    if code == 3000 or (last_error is not None and "api_key" in last_error.code):
        return "auth"
    return "bad_request"


class RealtimeClient:
    """One Realtime connection (reconnected on abnormal closes); not safe to share between tasks
    except that ``send`` may be called while ``process_events`` runs."""

    def __init__(self, options: RealtimeOptions) -> None:
        self.options = options
        self._ws: Any = None
        self._model: str | None = None
        self._closing = False
        self._reconnects_left = options.reconnect_attempts
        self._last_error: ErrorEvent | None = None
        self._done_calls: set[str] = set()
        self._outputs_for: dict[str, int] = {}
        self._send_lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._closing

    @property
    def model(self) -> str | None:
        return self._model

    def session_config(self, model: str) -> dict[str, JsonValue]:
        """The ``session`` object of the ``session.update`` sent after connecting (GA shape)."""
        o = self.options
        session: dict[str, JsonValue] = {
            "type": "realtime",
            "model": model,
            "output_modalities": list(o.output_modalities),
        }
        if o.instructions:
            session["instructions"] = o.instructions
        if o.tools:
            session["tools"] = [_tool_json(t) for t in o.tools]
            session["tool_choice"] = "auto"
        session.update(o.session)
        return session

    async def connect(self, model: str) -> None:
        """Open the connection and send ``session.update``.

        Raises:
            ConfigError: ``websockets`` is not installed, or a bad URL.
            RequestError: the server refused the upgrade (with its HTTP status) or is unreachable.
        """
        if not model:
            raise ConfigError("connect_realtime needs a model, e.g. 'gpt-realtime'")
        self._reconnects_left = self.options.reconnect_attempts
        self._last_error = None
        await self._open(model)

    async def _open(self, model: str) -> None:
        try:
            from websockets.asyncio.client import connect as ws_connect
            from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
        except ImportError as exc:
            raise ConfigError(
                "the Realtime client needs the websockets package: pip install websockets"
            ) from exc
        headers = dict(self.options.headers)
        if self.options.api_key:
            headers["Authorization"] = f"Bearer {self.options.api_key}"
        url = realtime_url(self.options.url, model)
        try:
            self._ws = await ws_connect(
                url, additional_headers=headers, open_timeout=self.options.open_timeout_s, max_size=None
            )
        except InvalidURI as exc:
            raise ConfigError(f"invalid Realtime URL {self.options.url!r}") from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace")[:300] if exc.response.body else ""
            raise RequestError(
                f"Realtime connection refused: HTTP {status} {body}".strip(),
                status=status,
                kind="auth" if status in (401, 403) else "other",
            ) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise RequestError(
                f"cannot connect to the Realtime API: {type(exc).__name__}: {exc}", kind="network"
            ) from exc
        self._model = model
        self._closing = False
        try:
            async with self._send_lock:
                await self._ws.send(dumps(ClientEvent.session_update(self.session_config(model)).to_json()))
        except ConnectionClosed:
            pass  # closed at once (a bad key, say): process_events reads why and reports it

    async def send(self, event: ClientEvent | Mapping[str, JsonValue]) -> None:
        """Send one client event (a :class:`ClientEvent` or a dict with a ``type``).

        Raises:
            AgentError: not connected.
            RequestError: the connection closed.
        """
        payload = event.to_json() if isinstance(event, ClientEvent) else dict(event)
        if not isinstance(payload.get("type"), str):
            raise AgentError("a Realtime event needs a string 'type'")
        if self._ws is None:
            raise AgentError("the Realtime connection is not open: call connect_realtime(model) first")
        from websockets.exceptions import ConnectionClosed

        try:
            async with self._send_lock:
                await self._ws.send(dumps(payload))
        except ConnectionClosed as exc:
            await self._drain_errors()
            raise self._closed_error(exc) from exc

    async def send_text(self, text: str) -> None:
        """Add a user message and ask for a response."""
        await self.send(ClientEvent.user_message(text))
        await self.send(ClientEvent.response_create())

    async def process_events(self, handler: Handler) -> None:
        """Deliver server events to ``handler`` until it returns True, the server closes
        normally, or :meth:`close` is called.

        Raises:
            AgentError: not connected.
            RequestError: the server closed with an error code (after any reconnects).
        """
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            raise AgentError("the Realtime connection is not open: call connect_realtime(model) first")
        while True:
            try:
                message = await self._ws.recv()
            except ConnectionClosed as exc:
                if self._closing:
                    return
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                if code in _NORMAL_CLOSE:
                    self._ws = None
                    return
                if code < 3000 and self._reconnects_left > 0:
                    self._reconnects_left -= 1
                    await self._reconnect()
                    continue
                self._ws = None
                raise self._closed_error(exc) from exc
            event = self._parse(message)
            if isinstance(event, ErrorEvent):
                self._last_error = event
            stop = await _call(handler, event)
            for extra in await self._after(event):
                stop = bool(await _call(handler, extra)) or bool(stop)
            if stop:
                return

    def _parse(self, message: str | bytes) -> ServerEvent:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        try:
            raw = json.loads(text)
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            err = {
                "type": "client_error",
                "code": "invalid_server_event",
                "message": f"not a JSON object: {text[:200]}",
            }
            return parse_server_event({"type": "error", "error": err})
        return parse_server_event(raw)

    async def _after(self, event: ServerEvent) -> list[ServerEvent]:
        """Function calling: run calls whose arguments are complete; ask for the next response."""
        if isinstance(event, FunctionCallArgumentsDone):
            return [await self._run_call(event.response_id, event.call_id, event.name, event.arguments)]
        if isinstance(event, OutputItemEvent) and event.type == "response.output_item.done":
            item = event.item
            call_id = item.get("call_id")
            if (
                item.get("type") == "function_call"
                and isinstance(call_id, str)
                and call_id not in self._done_calls
            ):
                args = item.get("arguments")
                name = item.get("name")
                return [
                    await self._run_call(
                        event.response_id,
                        call_id,
                        name if isinstance(name, str) else "",
                        args if isinstance(args, str) else "",
                    )
                ]
        if isinstance(event, ResponseDone):
            sent = self._outputs_for.pop(event.response_id, 0)
            if sent and event.status in ("completed", ""):
                await self.send(ClientEvent.response_create())
        return []

    async def _run_call(self, response_id: str, call_id: str, name: str, arguments: str) -> ToolCallExecuted:
        self._done_calls.add(call_id)
        output, is_error = await self.execute_tool(call_id, name, arguments)
        await self.send(ClientEvent.function_call_output(call_id, output))
        self._outputs_for[response_id] = self._outputs_for.get(response_id, 0) + 1
        raw: dict[str, JsonValue] = {
            "type": "client.tool_call.executed",
            "call_id": call_id,
            "name": name,
            "output": output,
            "is_error": is_error,
        }
        return ToolCallExecuted(
            str(raw["type"]), raw, call_id=call_id, name=name, output=output, is_error=is_error
        )

    async def execute_tool(self, call_id: str, name: str, arguments: str) -> tuple[str, bool]:
        """Validate and run one call with the agent's tools; returns (output text, is_error)."""
        tool = next((t for t in self.options.tools if t.name == name), None)
        if tool is None:
            return f"Tool {name} not found", True
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            return f'Validation failed for tool "{name}":\n  - root: invalid JSON arguments ({exc})', True
        if not isinstance(args, dict):
            return f'Validation failed for tool "{name}":\n  - root: must be object', True
        checked, problem = validate_arguments(name, tool.parameters, args)
        if problem is not None:
            return problem, True
        try:
            result = await tool.execute(call_id, checked, AbortController().signal, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a tool failure is an output the model reads
            return str(exc) or type(exc).__name__, True
        return result.text, result.is_error

    async def _drain_errors(self) -> None:
        """After a failed send: read what the server said before closing, to report its error."""
        from websockets.exceptions import ConnectionClosed

        while self._ws is not None:
            try:
                message = await asyncio.wait_for(self._ws.recv(), 1.0)
            except (ConnectionClosed, TimeoutError):
                return
            event = self._parse(message)
            if isinstance(event, ErrorEvent):
                self._last_error = event

    async def _reconnect(self) -> None:
        assert self._model is not None
        old, self._ws = self._ws, None
        if old is not None:
            await old.close()
        self._done_calls.clear()
        self._outputs_for.clear()
        await self._open(self._model)

    def _closed_error(self, exc: Any) -> RequestError:
        code = exc.rcvd.code if exc.rcvd is not None else 1006
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        last = self._last_error
        detail = reason or (f"{last.code}: {last.message}" if last is not None else "connection lost")
        if last is not None and reason and last.message and last.message not in reason:
            detail = f"{reason} ({last.code}: {last.message})"
        return RequestError(
            f"Realtime connection closed with code {code}: {detail}",
            status=code,
            kind=_close_kind(last, code),
        )

    async def close(self) -> None:
        """Close the connection (idempotent); a running ``process_events`` returns."""
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()


async def _call(handler: Handler, event: ServerEvent) -> bool | None:
    result = handler(event)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)
