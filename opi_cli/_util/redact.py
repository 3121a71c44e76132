"""Keep secrets out of text: every form an API key or a DSN password can take is masked.

A key reaches an error message in more shapes than the one opi holds: raw, with the
whitespace a CRLF ``.env`` left on it, JSON-escaped (a server echoing the request), as a
Python ``repr`` (an exception about a header value), URL-encoded (a query string) or
HTML-escaped (an export).
:class:`Redactor` masks all of them; :func:`mask_dsn` takes the password out of a database
URL, typed right or wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote

__all__ = ["MASK", "MIN_KEY_LENGTH", "Redactor", "dsn_passwords", "mask_dsn", "secret_forms"]

MASK = "***"
MIN_KEY_LENGTH = 8
"""Shorter "keys" are placeholders (``none``, ``x``, ``ollama``) that local servers accept;
masking them would garble ordinary words and protect nothing."""


def _escapes(value: str) -> set[str]:
    from html import escape  # loaded only where a secret is masked

    json_ascii = json.dumps(value)[1:-1]
    return {
        value,
        json_ascii,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(json_ascii)[1:-1],  # a JSON text quoted inside another JSON string
        json_ascii.replace("/", "\\/"),  # servers that escape "/" (PHP, some proxies)
        escape(value),  # an HTML export
        repr(value)[1:-1],
        repr(value.encode("utf-8", "surrogatepass"))[2:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
    }


def secret_forms(secret: str) -> set[str]:
    """The ways ``secret`` (and the same secret with surrounding whitespace stripped) can be written."""
    forms: set[str] = set()
    for value in {secret, secret.strip()}:
        forms |= _escapes(value)
    return forms


class Redactor:
    """Masks a set of secrets in text (every form of :func:`secret_forms`).

    Args:
        secrets: the secrets; ``None`` and values shorter than ``min_length`` are ignored.
        min_length: the shortest value treated as a secret.
    """

    __slots__ = ("_forms", "_min", "_pattern")

    def __init__(self, secrets: Iterable[str | None] = (), *, min_length: int = MIN_KEY_LENGTH) -> None:
        self._min = min_length
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        """Mask ``secret`` from now on."""
        if secret is None or len(secret.strip()) < self._min:
            return
        self._forms |= {f for f in secret_forms(secret) if len(f.strip()) >= self._min}
        ordered = sorted(self._forms, key=len, reverse=True)  # a longer form before its own prefix
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


_SCHEME = re.compile(r"^\s*[A-Za-z][\w+.-]*:/+")
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE)
_USERINFO = re.compile(r"([^\s:/@'\"]+:)([^\s@'\"/]+)@")


def dsn_passwords(dsn: str) -> list[str]:
    """The passwords a connection string holds, also when it is mistyped
    (``postgresql:/u:pw@host``, ``u:pw@host``) or in ``key=value`` form."""
    found: list[str] = []
    rest = _SCHEME.sub("", dsn)
    if "@" in rest:
        userinfo = rest.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    for m in _KV_PASSWORD.finditer(dsn):
        found.append(m.group(2).strip("'"))
    return [p for q in found if q for p in {q, unquote(q)}]


def mask_dsn(text: str, dsn: str | None = None) -> str:
    """``text`` (an error message, a DSN) without any DSN password: ``user:***@host``,
    ``password=***``, and the passwords of ``dsn`` wherever else they appear."""
    masked = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    masked = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", masked)
    if dsn:
        masked = Redactor(dsn_passwords(dsn), min_length=3).redact(masked)
    return masked
