"""The SSE decoder gives the events of wire-formats.md §0.1 whatever the chunking of the bytes."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from opi_cli.ai.sse import SSEDecoder, SSEEvent

_LINE_END = re.compile(rb"\r\n|\r|\n")


def reference(stream: bytes) -> list[SSEEvent]:
    """The spec applied to the whole stream at once: the oracle for the incremental decoder."""
    events: list[SSEEvent] = []
    event, data = "", None
    for raw in _LINE_END.split(stream):
        line = raw.decode("utf-8", "replace")
        if not line:
            if data is not None:
                events.append(SSEEvent(event, "\n".join(data)))
            event, data = "", None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data = [*(data or []), value]
        elif name == "event":
            event = value
        elif name == "error":
            events.append(SSEEvent("error", value))
    if data is not None:
        events.append(SSEEvent(event, "\n".join(data)))
    return events


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    dec = SSEDecoder()
    out = [ev for c in chunks for ev in dec.feed(c)]
    return out + dec.close()


_pieces = st.sampled_from([
    b"data: ", b"data:", b"data", b"event: ", b"event:x", b"error: ", b": comment", b"id: 1", b"retry: 5",
    b"{\"a\": 1}", b"[DONE]", b" ", b"x", b"\n", b"\r", b"\r\n", b"\n\n", "é".encode(), "日本".encode(),
    b"\xe6\x97", b"\xa5", b"\xff", b"ping",
])


@settings(max_examples=600, deadline=None)
@given(st.lists(_pieces, max_size=30), st.data())
def test_any_chunking_gives_the_events_of_the_whole_stream(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert decode(chunks) == reference(stream)


def test_the_usual_shapes() -> None:
    stream = (b'data: {"x": 1}\n\n'
              b"event: message_stop\r\ndata: {}\r\n\r\n"
              b"data: a\ndata: b\n\n"
              b": keep-alive\n\n"
              b"error: {\"message\": \"boom\"}\n\n"
              b"data: [DONE]")
    expected = [SSEEvent("", '{"x": 1}'), SSEEvent("message_stop", "{}"), SSEEvent("", "a\nb"),
                SSEEvent("error", '{"message": "boom"}'), SSEEvent("", "[DONE]")]
    assert decode([stream]) == expected
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == expected
    # a CR that ends one chunk and the LF that opens the next are one line end, even across an empty chunk
    assert decode([b"data: a\r", b"", b"\ndata: b\r", b"\n\r\n"]) == [SSEEvent("", "a\nb")]
