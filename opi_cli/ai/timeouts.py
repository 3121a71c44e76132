"""How long one HTTP request may take, phase by phase (no httpx here: every layer may build one).

A request has four limits: reaching the server (``connect``), the server starting its
answer (``first_byte``: from sending the request to the response headers), the gap between
two pieces of data once it streams (``idle``: keep-alive comments do not count, a trickle
that never completes an event does not either), and the whole request (``total``, off by
default). Each limit carries the name the user sets it by, so an error can say what to change.
"""

from __future__ import annotations

from opi_cli._util.records import record

__all__ = ["DEFAULT_TIMEOUTS", "HttpTimeouts"]


@record
class HttpTimeouts:
    """Per-request time limits in seconds (``None``: no limit) and their user-facing names.

    Attributes:
        connect_s: waiting for a pooled connection, TCP connect and TLS handshake.
        first_byte_s: from the first byte of the request to the response headers.
        idle_s: the longest silence between two data events of a response (or its body).
        total_s: the whole request, from the start to the last byte.
    """

    connect_s: float | None = 15.0
    first_byte_s: float | None = 300.0
    idle_s: float | None = 300.0
    total_s: float | None = None
    connect_name: str = "connect timeout"
    first_byte_name: str = "first-byte timeout"
    idle_name: str = "idle timeout"
    total_name: str = "request timeout"

    def capped(self, limit_s: float | None) -> HttpTimeouts:
        """These limits with the waits for data (first byte, idle) at most ``limit_s``."""
        if limit_s is None:
            return self

        def cap(v: float | None) -> float:
            return limit_s if v is None else min(v, limit_s)

        return HttpTimeouts(self.connect_s, cap(self.first_byte_s), cap(self.idle_s), self.total_s,
                            self.connect_name, self.first_byte_name, self.idle_name, self.total_name)


DEFAULT_TIMEOUTS = HttpTimeouts()
