"""Classify provider failures: HTTP status + body, in-stream errors, transport exceptions.

The patterns for context overflow are those of wire-formats.md §4.1 (pi-mono's list plus
LM Studio's newer wording and Ollama's explicit text).
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from time import time

from opi_cli._util.jsonio import JsonValue, loads
from opi_cli.ai.events import ErrorKind, ProviderError

__all__ = [
    "EXCERPT_CHARS",
    "classify_http",
    "classify_stream_error",
    "describe_body",
    "excerpt",
    "is_overflow_message",
    "parse_retry_after_ms",
]

_OVERFLOW = re.compile(
    "|".join(
        [
            r"prompt is too long",
            r"input is too long for requested model",
            r"exceeds the context window",
            r"input token count.*exceeds the maximum",
            r"maximum prompt length is \d+",
            r"reduce the length of the messages",
            r"maximum context length is \d+ tokens",
            r"exceeds the limit of \d+",
            r"exceeds the available context size",
            r"greater than the context length",
            r"context the overflows",
            r"loaded with context length of only",
            r"context window exceeds limit",
            r"exceeded model token limit",
            r"too large for model with \d+ maximum context length",
            r"model_context_window_exceeded",
            r"context[_ ]length[_ ]exceeded",
            r"prompt too long; exceeded max context length",
            r"too many tokens",
            r"token limit exceeded",
        ]
    ),
    re.IGNORECASE,
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)
EXCERPT_CHARS = 200
"""How much of an unexpected response body an error message quotes."""
_NO_BODY = re.compile(r"^4(00|13)\s*(status code)?\s*\(no body\)", re.IGNORECASE)


def is_overflow_message(message: str) -> bool:
    """True when a provider's error text says the context window was exceeded."""
    return bool(_OVERFLOW.search(message) or _NO_BODY.search(message.strip()))


def parse_retry_after_ms(headers: dict[str, str]) -> int | None:
    """``retry-after-ms``, then ``retry-after`` (seconds or an HTTP date), in ms."""
    low = {k.lower(): v for k, v in headers.items()}
    raw = low.get("retry-after-ms")
    if raw:
        try:
            return max(0, int(float(raw)))
        except ValueError:
            pass
    raw = low.get("retry-after")
    if raw:
        try:
            return max(0, int(float(raw) * 1000))
        except ValueError:
            try:
                return max(0, int((parsedate_to_datetime(raw).timestamp() - time()) * 1000))
            except (TypeError, ValueError):
                return None
    return None


def excerpt(text: str, content_type: str = "", limit: int = EXCERPT_CHARS) -> str:
    """A short one-line look at a response body: markup dropped, whitespace collapsed."""
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        from html import unescape  # an HTML error page is rare: not every run's start

        text = unescape(_TAGS.sub(" ", text))
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe_body(status: int, url: str | None, content_type: str, body_text: str) -> str:
    """``502 Bad Gateway from URL (text/html): <excerpt>`` for a body that is not an API error."""
    try:
        reason = f" {HTTPStatus(status).phrase}"
    except ValueError:
        reason = ""
    where = f" from {url}" if url else ""
    kind = content_type.split(";", 1)[0].strip() or "no content type"
    text = excerpt(body_text, content_type)
    return f"{status}{reason}{where} ({kind}): {text}" if text else f"{status}{reason}{where} ({kind}, empty body)"


def _error_fields(body: JsonValue) -> tuple[str, str, str]:
    """(message, type, code) from the error shapes of OpenAI, Anthropic, vLLM, Ollama..."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, str):
            return err, "", ""
        if isinstance(err, dict):
            msg = str(err.get("message") or body.get("message") or "")
            meta = err.get("metadata")
            if isinstance(meta, dict) and meta.get("raw"):
                msg = f"{msg}: {meta['raw']}" if msg else str(meta["raw"])
            code = err.get("code")
            details = err.get("details")
            if isinstance(details, dict) and details.get("error_code"):
                code = details["error_code"]
            return msg, str(err.get("type") or ""), "" if code is None else str(code)
    return "", "", ""


def _kind_for(status: int | None, message: str, etype: str, code: str) -> ErrorKind:
    text = f"{message} {etype} {code}".lower()
    if is_overflow_message(message) or code == "context_length_exceeded" or etype == "exceed_context_size_error":
        return "overflow"
    if "insufficient_quota" in text or "enforced_spend_limit" in text or "billing" in etype:
        return "quota"
    if status == 429 or "rate_limit" in text:
        return "rate_limit"
    if status == 529 or "overloaded" in text:
        return "overloaded"
    if status in (401, 403) or etype in ("authentication_error", "permission_error") or code == "invalid_api_key":
        return "auth"
    if status in (408, 409):
        return "server"
    if status is not None and status >= 500:
        return "overloaded" if status == 503 else "server"
    if etype in ("api_error", "server_error") or code == "server_error":
        return "server"
    if status is not None and 400 <= status < 500:
        return "bad_request"
    return "other"


def classify_http(status: int, body_text: str, headers: dict[str, str], url: str | None = None) -> ProviderError:
    """A non-2xx response before streaming began.

    An API error body gives ``STATUS message``; anything else (a proxy's HTML page, plain
    text) gives the status, the URL, the content type and a short excerpt, never the whole page.
    """
    try:
        body = loads(body_text) if body_text.strip() else None
    except ValueError:
        body = None
    message, etype, code = _error_fields(body)
    described = not message and bool(body_text.strip())
    if described:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        message = describe_body(status, url, content_type, body_text)
    elif not message:
        message = "(no body)"
    kind = _kind_for(status, message, etype, code)
    text = f"{status} {message}" if not message.startswith(str(status)) else message
    if body is None and not body_text.strip() and status in (400, 413):
        text = f"{status} status code (no body)"
        kind = "overflow"
    return ProviderError(kind, text, status, parse_retry_after_ms(headers))


def classify_stream_error(payload: JsonValue, *, status: int | None = None) -> ProviderError:
    """An error object that arrived inside a 200 stream (``data: {"error":...}`` etc.)."""
    message, etype, code = _error_fields(payload)
    if not message and isinstance(payload, dict):
        message = str(payload.get("message") or "") or str(payload)[:500]
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("status_code"), int):
            status = status or inner["status_code"]
        if not code and payload.get("code") is not None:
            code = str(payload["code"])
    kind = _kind_for(status if status and status >= 400 else None, message, etype, code)
    if kind == "other" and status and status >= 400:
        kind = _kind_for(status, message, etype, code)
    label = etype or code
    text = f"{label}: {message}" if label and label not in message else message
    return ProviderError(kind, text, status)
