"""A scripted OpenAI Realtime server on 127.0.0.1 (websockets), run in a background thread.

Each connection plays one script (connection n uses ``scripts[n]``, the last one repeats).
A script is a list of steps:

- ``{"send": {...}}``: send this server event.
- ``{"expect": "response.create"}``: wait for the next client event of that type (every
  client event is recorded, whether expected or not).
- ``{"close": 3000, "reason": "..."}``: close the WebSocket with that code.
- ``{"drop": true}``: cut the TCP connection with no close frame (an abnormal close).

After its last step a connection keeps recording client events until the client closes.
``srv.connections[n]`` holds ``{"path", "headers", "received"}`` of connection n.
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import TracebackType
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Json = dict[str, Any]


class RealtimeServer:
    def __init__(self, scripts: list[list[Json]]) -> None:
        self.scripts = scripts
        self.connections: list[Json] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def __enter__(self) -> RealtimeServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("realtime test server did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def received(self, n: int = 0) -> list[Json]:
        return list(self.connections[n]["received"]) if n < len(self.connections) else []

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.connections)
        record: Json = {
            "path": ws.request.path if ws.request else "",
            "headers": {k.lower(): v for k, v in ws.request.headers.raw_items()} if ws.request else {},
            "received": [],
        }
        self.connections.append(record)
        script = self.scripts[min(index, len(self.scripts) - 1)]

        async def next_event() -> Json:
            event = json.loads(await ws.recv())
            record["received"].append(event)
            return event  # type: ignore[no-any-return]

        try:
            for step in script:
                if "send" in step:
                    await ws.send(json.dumps(step["send"]))
                elif "expect" in step:
                    while (await next_event()).get("type") != step["expect"]:
                        pass
                elif "close" in step:
                    await ws.close(code=step["close"], reason=step.get("reason", ""))
                    return
                elif step.get("drop"):
                    ws.transport.abort()
                    return
            while True:
                await next_event()
        except ConnectionClosed:
            return


def text_response(response_id: str, text: str) -> list[Json]:
    """Server events of a response that answers with ``text`` (GA names)."""
    item = {
        "id": f"item_{response_id}",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    events: list[Json] = [
        {
            "type": "response.created",
            "event_id": f"ev_{response_id}_0",
            "response": {"id": response_id, "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "response_id": response_id,
            "output_index": 0,
            "item": {**item, "content": []},
        },
    ]
    for i in range(0, len(text), 5):
        events.append(
            {
                "type": "response.output_text.delta",
                "response_id": response_id,
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": text[i : i + 5],
            }
        )
    events += [
        {
            "type": "response.output_text.done",
            "response_id": response_id,
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "text": text,
        },
        {"type": "response.output_item.done", "response_id": response_id, "output_index": 0, "item": item},
        {
            "type": "response.done",
            "response": {
                "id": response_id,
                "status": "completed",
                "output": [item],
                "usage": {"total_tokens": 42},
            },
        },
        {"type": "rate_limits.updated", "rate_limits": [{"name": "tokens", "limit": 1000, "remaining": 958}]},
    ]
    return [{"send": e} for e in events]


def function_call_response(response_id: str, calls: list[tuple[str, str, str]]) -> list[Json]:
    """Server events of a response that calls tools: ``calls`` is ``[(call_id, name, arguments)]``."""
    events: list[Json] = [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress", "output": []}}
    ]
    items = []
    for n, (call_id, name, args) in enumerate(calls):
        item = {
            "id": f"item_{call_id}",
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": args,
            "status": "completed",
        }
        items.append(item)
        events += [
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": n,
                "item": {**item, "arguments": "", "status": "in_progress"},
            },
            {
                "type": "response.function_call_arguments.delta",
                "response_id": response_id,
                "item_id": item["id"],
                "output_index": n,
                "call_id": call_id,
                "delta": args[:3],
            },
            {
                "type": "response.function_call_arguments.delta",
                "response_id": response_id,
                "item_id": item["id"],
                "output_index": n,
                "call_id": call_id,
                "delta": args[3:],
            },
            {
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "item_id": item["id"],
                "output_index": n,
                "call_id": call_id,
                "name": name,
                "arguments": args,
            },
            {
                "type": "response.output_item.done",
                "response_id": response_id,
                "output_index": n,
                "item": item,
            },
        ]
    events.append(
        {"type": "response.done", "response": {"id": response_id, "status": "completed", "output": items}}
    )
    return [{"send": e} for e in events]


def session_created() -> Json:
    return {
        "send": {
            "type": "session.created",
            "event_id": "ev_s0",
            "session": {"type": "realtime", "id": "sess_1", "model": "gpt-realtime"},
        }
    }


def session_updated() -> list[Json]:
    return [
        {"expect": "session.update"},
        {"send": {"type": "session.updated", "session": {"type": "realtime", "id": "sess_1"}}},
    ]
