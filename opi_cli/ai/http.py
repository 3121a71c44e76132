"""The one place opi talks HTTP: client factory and a streaming POST that yields SSE events.

There are no retries here (httpx's transport retries stay at 0): the agent loop owns the
one retry layer. Failures raise :class:`ProviderFailure` carrying a classified
:class:`~opi_cli.ai.events.ProviderError`; adapters turn that into a ``StreamError``.
Aborts and timeouts end a request at once in any phase (:mod:`~opi_cli.ai.request_guard`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any, Protocol

import httpx

from opi_cli._util.jsonio import JsonValue, dumps_bytes
from opi_cli._util.redact import Redactor
from opi_cli.ai.client_setup import settle_async_library, trust_context
from opi_cli.ai.errors import classify_http, describe_body
from opi_cli.ai.events import AssistantStreamEvent, ProviderError, StreamError
from opi_cli.ai.provider import MessageBuilder, StreamOptions, internal_failure
from opi_cli.ai.request_guard import ProviderFailure, RequestGuard
from opi_cli.ai.sse import SSEDecoder, SSEEvent
from opi_cli.ai.timeouts import HttpTimeouts

__all__ = [
    "ProviderFailure",
    "Request",
    "RequestGuard",
    "SSEParser",
    "list_model_ids",
    "make_client",
    "post_sse",
    "probe_models",
    "redact",
    "stream_sse",
]


settle_async_library()

_ERROR_BODY_LIMIT = 64 * 1024
"""At most this much of an error response is read: enough for any API error object."""
_SNIFF_LIMIT = 2048
"""While a 200 answer has produced no event yet, its first bytes are kept to quote."""


def make_client(transport: Any = None, timeout_s: float = 600.0) -> httpx.AsyncClient:
    """An AsyncClient with explicit timeouts and no hidden retries.

    The timeouts here are a backstop: each request sets its own (see :func:`post_sse`).
    """
    if transport is None and not _environment_proxies():
        from opi_cli.ai.transport import AsyncioTransport  # with a proxy, httpx's own transports

        transport = AsyncioTransport(trust_context())
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(connect=30.0, read=timeout_s, write=60.0, pool=30.0),
        follow_redirects=True,
        verify=trust_context(),
    )


def _environment_proxies() -> bool:
    """Whether the environment names a proxy (``HTTPS_PROXY``, ``ALL_PROXY``, ...). httpx honours
    those only for its own transports, so a client then keeps them."""
    from urllib.request import getproxies

    return any(key in ("http", "https", "all") for key in getproxies())


def redact(text: str, secret: str | None) -> str:
    """Remove an API key, in every form it can take, from a message (keys never reach logs, events or files)."""
    return Redactor([secret]).redact(text)


def _request_timeout(t: HttpTimeouts) -> httpx.Timeout:
    # Reads and writes are bounded by the guard's first-byte and idle timers, which know
    # the difference between a keep-alive comment and data; httpx only bounds the connect.
    return httpx.Timeout(connect=t.connect_s, read=None, write=None, pool=t.connect_s)


def _connect_failure(url: str, exc: httpx.HTTPError, options: StreamOptions) -> ProviderFailure:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        name = options.timeouts.connect_name
        return ProviderFailure(ProviderError("network", f"Request timed out: {url} could not be reached ({name})."))
    what = f"Cannot connect to {url}" if isinstance(exc, httpx.ConnectError) else f"Request to {url} failed"
    return ProviderFailure(ProviderError("network", redact(f"{what}: {detail}", options.api_key)))


async def _read_limited(response: httpx.Response, guard: RequestGuard, limit: int, *, data: bool = False) -> str:
    """At most ``limit`` decoded bytes of the body, as text. Only ``data`` (an answer, not an
    error page) restarts the idle clock: an error body must arrive within one idle period."""
    buf = bytearray()
    async for chunk in response.aiter_bytes():
        if data:
            guard.touch()
        buf += chunk
        if len(buf) >= limit:
            break
    return buf[:limit].decode("utf-8", "replace")


def _unexpected(response: httpx.Response, url: str, text: str) -> ProviderFailure:
    """A 2xx answer that is not an event stream (an HTML login page, plain text)."""
    content_type = response.headers.get("content-type", "")
    what = describe_body(response.status_code, url, content_type, text)
    return ProviderFailure(ProviderError("malformed", f"Not an event stream: {what}"))


async def post_sse(
    url: str, headers: dict[str, str], payload: bytes, options: StreamOptions
) -> AsyncGenerator[SSEEvent, None]:
    """POST ``payload`` (a JSON body) and yield the SSE events of the response.

    The abort signal and the time limits of ``options.timeouts`` end the request at once,
    whatever phase it is in (connecting, waiting for headers, streaming).

    One generator from the bytes to the events (each layer of async generators costs every
    event a hop): :func:`_send` does the request, :func:`_first_answer` the answers that are
    not an event stream.

    Raises:
        ProviderFailure: non-2xx status, a body that is not an event stream, network
            failure, timeout (kind ``network``, naming the URL and the limit), or abort
            (kind ``aborted``).
    """
    signal = options.signal
    if signal is not None and signal.aborted:
        raise ProviderFailure(ProviderError("aborted", "Request was aborted."))
    shared = options.client
    client = shared if isinstance(shared, httpx.AsyncClient) else make_client(options.transport, options.timeout_s)
    owns = client is not shared
    response: httpx.Response | None = None
    guard = RequestGuard(url, options.timeouts.capped(options.timeout_s), signal)
    decoder = SSEDecoder()
    try:
        response = await _send(client, url, headers, payload, options, guard)
        whole = await _first_answer(response, url, guard, options)
        if whole is not None:
            yield whole
            return
        sniff: bytearray | None = bytearray()  # the first bytes, until an event proves it is SSE
        encoded = response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")
        try:  # opi accepts gzip (and what else httpx decodes); a plain body skips the decoding layer
            async for chunk in (response.aiter_bytes() if encoded else response.aiter_raw()):
                if guard.failed:
                    raise guard.failure()
                events = decoder.feed(chunk)
                if events:
                    sniff = None
                    guard.touch()
                    for ev in events:
                        yield ev
                elif sniff is not None and len(sniff) < _SNIFF_LIMIT:
                    sniff += chunk
        except httpx.HTTPError as exc:
            if guard.failed:
                raise guard.failure() from exc
            # the bytes decoded so far are still delivered; the adapter decides completeness
            for ev in decoder.close():
                yield ev
            raise _lost(url, exc, options) from exc
        if guard.failed:
            raise guard.failure()
        tail = decoder.close()
        if sniff is not None and not tail:
            raise _unexpected(response, url, redact(bytes(sniff).decode("utf-8", "replace"), options.api_key))
        for ev in tail:
            yield ev
    finally:
        guard.close()
        if response is not None:
            await response.aclose()
        if owns:
            await client.aclose()


async def _send(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], payload: bytes, options: StreamOptions,
    guard: RequestGuard,
) -> httpx.Response:
    """Send the request under ``guard``; the response once its headers arrived."""
    request = client.build_request(
        "POST", url, headers=headers, content=payload,
        timeout=_request_timeout(options.timeouts), extensions={"trace": guard.trace},
    )
    guard.start()
    try:
        response = await guard.send(client.send(request, stream=True))
    except httpx.HTTPError as exc:
        raise _connect_failure(url, exc, options) from exc
    guard.streaming(response)
    return response


async def _first_answer(
    response: httpx.Response, url: str, guard: RequestGuard, options: StreamOptions
) -> SSEEvent | None:
    """An answer that is not an event stream: a whole JSON reply (``"stream": false``, or a
    server that ignores streaming) as one event, or a ``ProviderFailure`` for an HTTP error or
    an HTML page; None for an event stream."""
    try:
        if response.status_code >= 300:
            raw = await _read_limited(response, guard, _ERROR_BODY_LIMIT)
            err = classify_http(response.status_code, redact(raw, options.api_key), dict(response.headers), url)
            raise ProviderFailure(err)
        content_type = response.headers.get("content-type", "").lower()
        if "json" in content_type and "event-stream" not in content_type:
            return SSEEvent("", await _read_limited(response, guard, sys.maxsize, data=True))
        if "html" in content_type:
            raise _unexpected(response, url, redact(await _read_limited(response, guard, _SNIFF_LIMIT), options.api_key))
    except httpx.HTTPError as exc:
        if guard.failed:
            raise guard.failure() from exc
        raise _lost(url, exc, options) from exc
    return None


def _lost(url: str, exc: httpx.HTTPError, options: StreamOptions) -> ProviderFailure:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ProviderFailure(ProviderError("network", redact(f"Connection to {url} lost: {detail}", options.api_key)))


class SSEParser(Protocol):
    """One wire format's parser, as :func:`stream_sse` drives it."""

    @property
    def done(self) -> bool:
        """True once the response is complete or failed (stop reading)."""
        ...

    def feed(self, sse: SSEEvent) -> list[AssistantStreamEvent]: ...

    def at_eof(self) -> list[AssistantStreamEvent]:
        """Reading stopped (EOF or ``done``): the final event if not yet given (success,
        or an incomplete-stream error); nothing when the parser already ended."""
        ...

    def on_failure(self, error: ProviderError) -> list[AssistantStreamEvent]:
        """An HTTP, network or abort failure (nothing, if the parser already ended)."""
        ...


Request = tuple[str, dict[str, str], Callable[[], dict[str, JsonValue]]]
"""What a provider posts: the URL, the headers and a function that builds the JSON body."""


async def stream_sse(
    builder: MessageBuilder, parser: SSEParser, options: StreamOptions, request: Callable[[], Request]
) -> AsyncIterator[AssistantStreamEvent]:
    """A provider's whole stream: ``StreamStart``, then what ``parser`` makes of the SSE events
    of the POST ``request()`` describes, ending with exactly one ``StreamDone`` or
    ``StreamError``; never raises (a request that cannot be built, an ``options.on_payload``
    hook or a parser that fails is an error event).

    The body's dicts are dropped once it is JSON, so a large context is held as its messages
    and one copy of the request bytes, not as a third copy in between. One generator from
    here to the caller: each layer of async generators would cost every event a hop.
    """
    yield builder.start()
    try:
        url, headers, make_body = request()
        body = make_body()
        if options.on_payload is not None:
            replaced = options.on_payload(body)
            body = body if replaced is None else replaced
        payload = dumps_bytes(body)
        del body
        key = options.api_key
        refused = _foreign_endpoint(url, options)
        if refused is not None:
            for ev in parser.on_failure(refused):
                yield ev
            return
        try:
            async with aclosing(post_sse(url, headers, payload, options)) as events:
                failed = False
                async for sse in events:
                    for ev in parser.feed(sse):
                        failed = isinstance(ev, StreamError)
                        yield _redacted(ev, key) if failed else ev
                    if parser.done:
                        if not failed:
                            await drain(events)
                        break
        except ProviderFailure as exc:
            for ev in parser.on_failure(exc.error):
                yield _redacted(ev, key)
            return
        for ev in parser.at_eof():
            yield _redacted(ev, key)
    except Exception as exc:  # providers never raise
        yield internal_failure(builder, exc)


def _foreign_endpoint(url: str, options: StreamOptions) -> ProviderError | None:
    """An error when the key would go to a server other than the one it was given for."""
    bound = options.key_endpoint.rstrip("/") if options.key_endpoint else None
    if bound is None or not options.api_key or url == bound or url.startswith(bound + "/"):
        return None
    return ProviderError(
        "auth",
        f"Not sending the API key given for {bound} to {url}. Configure a key for this provider "
        "(its environment variable or auth.json), or switch back to a model on that endpoint.",
    )


def _redacted(ev: AssistantStreamEvent, key: str | None) -> AssistantStreamEvent:
    """An error event without the key in it (servers echo keys; errors arrive inside streams too)."""
    if not isinstance(ev, StreamError) or not key:
        return ev
    redactor = Redactor([key])  # made for an error only: building one costs a compiled pattern
    message = ev.message
    text = message.error_message
    if text is not None:
        message = replace(message, error_message=redactor.redact(text))
    return StreamError(message, replace(ev.error, message=redactor.redact(ev.error.message)))


DRAIN_S = 0.5
"""How long the end of a body may take after the final event before its connection is dropped."""


async def drain(events: AsyncIterator[SSEEvent]) -> None:
    """Read what is left of a complete answer (after ``[DONE]``/``message_stop``: the end of
    the body), so its connection goes back to the pool for the next request instead of being
    closed. A server that neither ends the body nor closes within :data:`DRAIN_S` costs its
    connection, as a stream closed at once did; what arrives meanwhile is ignored."""
    try:
        async with asyncio.timeout(DRAIN_S):
            async for _ in events:
                pass
    except (TimeoutError, ProviderFailure):
        pass


async def probe_models(base_url: str, timeout_s: float = 0.4) -> bool:
    """True when an OpenAI-compatible server answers ``GET {base_url}/models``."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s, verify=trust_context()) as client:
            r = await client.get(f"{base_url.rstrip('/')}/models")
            return r.status_code == 200
    except (httpx.HTTPError, OSError):
        return False


async def list_model_ids(base_url: str, timeout_s: float = 2.0) -> list[str]:
    """Model ids a local OpenAI-compatible server offers (empty on any failure)."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s, verify=trust_context()) as client:
            r = await client.get(f"{base_url.rstrip('/')}/models")
            data = r.json().get("data", []) if r.status_code == 200 else []
    except (httpx.HTTPError, OSError, ValueError, AttributeError):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
