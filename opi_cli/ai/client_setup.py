"""What an HTTP client costs, paid only when used: TLS trust at the first handshake, the async-library probe once.

Two costs of a plain ``httpx.AsyncClient()`` that a request to ``http://127.0.0.1`` (a
local model server, the test server) never needs, and a request to an ``https://`` API
needs once per process, not once per client:

- **The CA certificates** (about 20 ms to load): httpx loads them when the client is
  built. :func:`trust_context` is a context that verifies exactly as httpx's default does
  (``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi's bundle) but loads the
  certificates at its first TLS handshake, once per process for every client.
- **The async-library probe**: httpcore asks ``import sniffio`` several times per
  request. Where sniffio is not installed every such import searches the whole
  ``sys.path`` again; :func:`settle_async_library` tries it once and records the absence,
  so the later imports fail at once, exactly as they would have (httpcore then assumes
  asyncio, which is what opi runs on).
"""

from __future__ import annotations

import os
import ssl
import sys
import threading

__all__ = ["load_trust", "settle_async_library", "trust_context"]


class _DeferredTrust(ssl.SSLContext):
    """httpx's ``verify=True`` context, its CA certificates loaded at the first handshake.

    opi's transport loads it in a worker thread before its first handshake
    (:func:`load_trust`), and anyio (httpx's own transports, behind a proxy) hands a context of
    a subclass to a worker thread for ``wrap_bio``: either way the load happens off the event
    loop; the lock keeps two first handshakes from loading twice.
    """

    _loaded = False
    _lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            cafile = os.environ.get("SSL_CERT_FILE")
            capath = os.environ.get("SSL_CERT_DIR")
            if cafile:
                self.load_verify_locations(cafile=cafile)
            elif capath:
                self.load_verify_locations(capath=capath)
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._loaded = True

    def wrap_bio(self, *args: object, **kwargs: object) -> ssl.SSLObject:
        self._load()
        return super().wrap_bio(*args, **kwargs)  # type: ignore[arg-type]

    def wrap_socket(self, *args: object, **kwargs: object) -> ssl.SSLSocket:
        self._load()
        return super().wrap_socket(*args, **kwargs)  # type: ignore[arg-type]


_shared: _DeferredTrust | None = None


def trust_context() -> ssl.SSLContext:
    """The process's verifying TLS context (hostname checked, certificate required)."""
    global _shared
    if _shared is None:
        _shared = _DeferredTrust(ssl.PROTOCOL_TLS_CLIENT)
    return _shared


def settle_async_library() -> None:
    """Try ``import sniffio`` once; if it is not installed, make later imports fail at once."""
    if "sniffio" in sys.modules:
        return
    try:
        import sniffio  # noqa: F401
    except ImportError:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


async def load_trust(context: ssl.SSLContext) -> None:
    """Load a :func:`trust_context`'s certificates in a worker thread (once), before a handshake
    on the event loop would load them there (~20 ms)."""
    if isinstance(context, _DeferredTrust) and not context._loaded:
        import asyncio

        await asyncio.to_thread(context._load)
