"""The one place opi talks HTTP: client factory and a streaming POST that yields SSE events.

There are no retries here (httpx's transport retries stay at 0): the agent loop owns the
one retry layer. Failures raise :class:`ProviderFailure` carrying a classified
:class:`~opi_cli.ai.events.ProviderError`; adapters turn that into a ``StreamError``.
Aborts close the response at once, so a blocked read returns immediately.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, Protocol

import httpx

from opi_cli._util.jsonio import JsonValue, dumps_bytes
from opi_cli.ai.errors import classify_http
from opi_cli.ai.events import AssistantStreamEvent, ProviderError
from opi_cli.ai.provider import StreamOptions
from opi_cli.ai.sse import SSEDecoder, SSEEvent

__all__ = [
    "ProviderFailure",
    "SSEParser",
    "drive_sse",
    "list_model_ids",
    "make_client",
    "post_sse",
    "probe_models",
    "redact",
]


class ProviderFailure(Exception):
    """Raised inside adapters; never escapes a provider's ``stream``."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(error.message)
        self.error = error


def make_client(transport: Any = None, timeout_s: float = 600.0) -> httpx.AsyncClient:
    """An AsyncClient with explicit timeouts and no hidden retries."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(connect=30.0, read=timeout_s, write=60.0, pool=30.0),
        follow_redirects=True,
    )


def redact(text: str, secret: str | None) -> str:
    """Remove an API key from a message (keys never reach logs, events or files)."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


async def post_sse(
    url: str, headers: dict[str, str], payload: bytes, options: StreamOptions
) -> AsyncGenerator[SSEEvent, None]:
    """POST ``payload`` (a JSON body) and yield the SSE events of the response.

    Raises:
        ProviderFailure: non-2xx status, network failure, or abort (kind ``aborted``).
    """
    signal = options.signal
    if signal is not None and signal.aborted:
        raise ProviderFailure(ProviderError("aborted", "Request was aborted."))
    shared = options.client
    client = shared if isinstance(shared, httpx.AsyncClient) else make_client(options.transport, options.timeout_s)
    owns = client is not shared
    response: httpx.Response | None = None
    remove_cb = None
    pending_close: list[asyncio.Future[None]] = []
    try:
        request = client.build_request("POST", url, headers=headers, content=payload)
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise ProviderFailure(
                ProviderError("network", f"Request timed out: {url} could not be reached ({type(exc).__name__}).")
            ) from exc
        except httpx.HTTPError as exc:
            # the URL says which endpoint failed (a typo in --base-url, a local server not started)
            what = f"Cannot connect to {url}" if isinstance(exc, httpx.ConnectError) else f"Request to {url} failed"
            raise ProviderFailure(
                ProviderError("network", redact(f"{what}: {exc or type(exc).__name__}", options.api_key))
            ) from exc
        if signal is not None:
            resp = response

            def _close() -> None:
                stream = resp.stream
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    pending_close.append(asyncio.ensure_future(aclose()))

            remove_cb = signal.add_callback(_close)
        if response.status_code >= 300:
            raw = await response.aread()
            err = classify_http(
                response.status_code, redact(raw.decode("utf-8", "replace"), options.api_key), dict(response.headers)
            )
            raise ProviderFailure(err)
        decoder = SSEDecoder()
        try:
            content_type = response.headers.get("content-type", "")
            if "json" in content_type and "event-stream" not in content_type:
                # a whole JSON reply ("stream": false, or a server that ignores streaming):
                # handed to the parser as one event
                whole = await response.aread()
                yield SSEEvent("", whole.decode("utf-8", "replace"))
                return
            async for chunk in response.aiter_raw():
                if signal is not None and signal.aborted:
                    raise ProviderFailure(ProviderError("aborted", "Request was aborted."))
                for ev in decoder.feed(chunk):
                    yield ev
        except httpx.HTTPError as exc:
            if signal is not None and signal.aborted:
                raise ProviderFailure(ProviderError("aborted", "Request was aborted.")) from exc
            # the bytes decoded so far are still delivered; the adapter decides completeness
            for ev in decoder.close():
                yield ev
            raise ProviderFailure(
                ProviderError("network", redact(f"Connection to {url} lost: {type(exc).__name__}: {exc}", options.api_key))
            ) from exc
        if signal is not None and signal.aborted:
            raise ProviderFailure(ProviderError("aborted", "Request was aborted."))
        for ev in decoder.close():
            yield ev
    finally:
        if remove_cb is not None:
            remove_cb()
        if response is not None:
            await response.aclose()
        if owns:
            await client.aclose()


class SSEParser(Protocol):
    """One wire format's parser, as :func:`drive_sse` drives it."""

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


async def drive_sse(
    url: str,
    headers: dict[str, str],
    make_body: Callable[[], dict[str, JsonValue]],
    options: StreamOptions,
    parser: SSEParser,
) -> AsyncIterator[AssistantStreamEvent]:
    """POST the body ``make_body`` builds (after ``options.on_payload``) and feed the SSE events
    to ``parser``. The body's dicts are dropped once it is JSON, so a large context is held
    as its messages and one copy of the request bytes, not as a third copy in between."""
    body = make_body()
    if options.on_payload is not None:
        replaced = options.on_payload(body)
        body = body if replaced is None else replaced
    payload = dumps_bytes(body)
    del body
    try:
        async with aclosing(post_sse(url, headers, payload, options)) as events:
            async for sse in events:
                for ev in parser.feed(sse):
                    yield ev
                if parser.done:
                    break
    except ProviderFailure as exc:
        for ev in parser.on_failure(exc.error):
            yield ev
        return
    for ev in parser.at_eof():
        yield ev


async def probe_models(base_url: str, timeout_s: float = 0.4) -> bool:
    """True when an OpenAI-compatible server answers ``GET {base_url}/models``."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            r = await client.get(f"{base_url.rstrip('/')}/models")
            return r.status_code == 200
    except (httpx.HTTPError, OSError):
        return False


async def list_model_ids(base_url: str, timeout_s: float = 2.0) -> list[str]:
    """Model ids a local OpenAI-compatible server offers (empty on any failure)."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            r = await client.get(f"{base_url.rstrip('/')}/models")
            data = r.json().get("data", []) if r.status_code == 200 else []
    except (httpx.HTTPError, OSError, ValueError, AttributeError):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
