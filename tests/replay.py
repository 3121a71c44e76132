"""Test helpers: serve recorded or scripted stream bytes through httpx.MockTransport.

``load_fixture(name)`` returns the raw bytes of a recorded stream as SSE (``.jsonl``
fixtures are wrapped as ``data: <line>\\n\\n``). ``chunkings(data)`` yields the same bytes
cut whole, one byte at a time and at random cut points, so a test can assert that the
parse does not depend on how bytes arrive.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx

FIXTURES = Path(__file__).parent / "fixtures" / "recorded"


def load_fixture(name: str) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    if name.endswith(".jsonl"):
        lines = [ln for ln in raw.split(b"\n") if ln.strip()]
        return b"".join(b"data: " + ln + b"\n\n" for ln in lines)
    return raw


def chunkings(data: bytes, seed: int = 7, random_cuts: int = 5) -> Iterator[tuple[str, list[bytes]]]:
    """(label, chunks) for: whole, byte-by-byte, and several random cut patterns."""
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)
    for n in range(random_cuts):
        cuts = sorted(rng.sample(range(1, max(2, len(data))), min(len(data) - 1, rng.randint(1, 40))))
        parts, prev = [], 0
        for c in cuts:
            parts.append(data[prev:c])
            prev = c
        parts.append(data[prev:])
        yield f"random{n}", [p for p in parts if p]


class _ChunkStream(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for c in self._chunks:
            yield c


def sse_transport(
    chunks: list[bytes], *, status: int = 200, headers: dict[str, str] | None = None, log: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    """A transport answering every request with ``chunks`` as a streamed body."""

    def handler(request: httpx.Request) -> httpx.Response:
        if log is not None:
            log.append(request)
        h = {"content-type": "text/event-stream"}
        h.update(headers or {})
        return httpx.Response(status, headers=h, stream=_ChunkStream(list(chunks)))

    return httpx.MockTransport(handler)
