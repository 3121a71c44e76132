"""Ends one HTTP request early, at once, when it is aborted or one of its time limits passes.

The guard owns one timer per phase and the abort callback. Before the response headers it
races the ``send`` against them (cancelling the send task reaches a request still
connecting or waiting for the server); once the body streams it closes the response,
which makes the pending read fail at once. The idle timer costs one timestamp per event:
it re-arms itself lazily instead of being reset on every chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from opi_cli._util.abort import AbortSignal
from opi_cli.ai.events import ProviderError
from opi_cli.ai.timeouts import HttpTimeouts

__all__ = ["ProviderFailure", "RequestGuard"]


class ProviderFailure(Exception):
    """Raised inside adapters; never escapes a provider's ``stream``."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(error.message)
        self.error = error


def _secs(value: float) -> str:
    return f"{value:g} s"


class RequestGuard:
    """Abort and time limits of one request to ``url`` (see the module docstring)."""

    def __init__(self, url: str, timeouts: HttpTimeouts, signal: AbortSignal | None) -> None:
        self._loop = asyncio.get_running_loop()
        self.url = url
        self._t = timeouts
        self._signal = signal
        self.error: ProviderError | None = None
        self._tripped: asyncio.Future[None] = self._loop.create_future()
        self._phase: asyncio.TimerHandle | None = None
        self._total: asyncio.TimerHandle | None = None
        self._remove_abort: Callable[[], None] | None = None
        self._interrupt: Callable[[], None] | None = None
        self._closing: asyncio.Future[None] | None = None  # the response being closed by a trip
        self._last = 0.0

    # -- lifecycle
    def start(self) -> None:
        """Start the whole-request and connect timers and listen for the abort."""
        t = self._t
        if t.total_s is not None:
            self._total = self._loop.call_later(
                t.total_s, self._trip, self._timeout(f"took longer than {_secs(t.total_s)}", t.total_name)
            )
        if t.connect_s is not None:
            self._phase = self._loop.call_later(
                t.connect_s, self._trip, self._timeout(f"could not be reached within {_secs(t.connect_s)}", t.connect_name)
            )
        if self._signal is not None:
            self._remove_abort = self._signal.add_callback(
                lambda: self._trip(ProviderError("aborted", "Request was aborted."))
            )

    def close(self) -> None:
        """Stop every timer and the abort listener."""
        self._cancel_phase()
        if self._total is not None:
            self._total.cancel()
            self._total = None
        if self._remove_abort is not None:
            self._remove_abort()
            self._remove_abort = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def failure(self) -> ProviderFailure:
        assert self.error is not None
        return ProviderFailure(self.error)

    # -- phases
    async def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: the request is on its way, so the first-byte wait begins."""
        if name.endswith(".send_request_headers.started") and self.error is None:
            self._first_byte()

    def _first_byte(self) -> None:
        self._cancel_phase()
        fb = self._t.first_byte_s
        if fb is not None:
            self._phase = self._loop.call_later(
                fb, self._trip, self._timeout(f"sent no response within {_secs(fb)}", self._t.first_byte_name)
            )

    async def send(self, sending: Awaitable[httpx.Response]) -> httpx.Response:
        """Await the response headers, or fail at once when the guard trips first.

        Raises:
            ProviderFailure: aborted or timed out before the headers arrived.
            httpx.HTTPError: the send itself failed.
        """
        task = asyncio.ensure_future(sending)
        waiters: set[asyncio.Future[Any]] = {task, self._tripped}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                done = (await asyncio.gather(task, return_exceptions=True))[0]
                if isinstance(done, httpx.Response):
                    await done.aclose()
        if self.error is not None:
            if task.done() and not task.cancelled() and task.exception() is None:
                await task.result().aclose()
            raise self.failure()
        return task.result()

    def streaming(self, response: httpx.Response) -> None:
        """The headers arrived: from now on a trip closes ``response`` and idle time counts."""

        def interrupt() -> None:
            self._closing = asyncio.ensure_future(response.aclose())

        self._interrupt = interrupt
        self._cancel_phase()
        self.touch()
        if self._t.idle_s is not None:
            self._phase = self._loop.call_later(self._t.idle_s, self._idle_check)

    def touch(self) -> None:
        """Data arrived (an SSE event, a piece of a body): the idle clock starts again."""
        self._last = self._loop.time()

    def _idle_check(self) -> None:
        idle = self._t.idle_s
        assert idle is not None
        due = self._last + idle
        if self._loop.time() >= due:
            self._trip(self._timeout(f"sent no data for {_secs(idle)}", self._t.idle_name))
        else:
            self._phase = self._loop.call_at(due, self._idle_check)

    # -- tripping
    def _timeout(self, what: str, name: str) -> ProviderError:
        return ProviderError("network", f"Request timed out: {self.url} {what} ({name}).")

    def _cancel_phase(self) -> None:
        if self._phase is not None:
            self._phase.cancel()
            self._phase = None

    def _trip(self, error: ProviderError) -> None:
        if self.error is not None:
            return
        self.error = error
        self._cancel_phase()
        if self._total is not None:
            self._total.cancel()
        if not self._tripped.done():
            self._tripped.set_result(None)
        if self._interrupt is not None:
            self._interrupt()
