"""Exact JSON round trips of the header and every entry type; parsing never raises."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opi_cli._util.jsonio import loads
from opi_cli.session.entries import (
    EntryError,
    LeafEntry,
    MessageEntry,
    UnknownEntry,
    entry_to_json,
    entry_to_line,
    header_from_json,
    header_to_json,
    parse_entry,
    parse_entry_line,
)

BASE: dict[str, object] = {"id": "a1b2c3d4", "parentId": "00ff00ff", "timestamp": "2026-01-02T03:04:05.678Z"}
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp": 1767322245678}
ASSISTANT = {
    "role": "assistant",
    "content": [
        {"type": "thinking", "thinking": "hmm", "thinkingSignature": "reasoning_content"},
        {"type": "text", "text": "ok"},
        {"type": "toolCall", "id": "call_1", "name": "bash", "arguments": {"command": "ls"}},
    ],
    "api": "openai-completions",
    "provider": "mock",
    "model": "mock-model",
    "usage": {
        "input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 3,
        "cost": {"input": 0.1, "output": 0.2, "cacheRead": 0, "cacheWrite": 0, "total": 0.3},
    },
    "stopReason": "toolUse",
    "timestamp": 1767322245679,
}  # fmt: skip

ENTRIES = [
    {"type": "message", **BASE, "message": USER},
    {"type": "message", **BASE, "message": ASSISTANT},
    {"type": "message", **BASE, "message": {"role": "toolResult", "toolCallId": "call_1", "toolName": "bash",
        "content": [{"type": "text", "text": "x"}], "details": {"exit": 0}, "isError": False, "timestamp": 5}},
    {"type": "message", **BASE, "message": {"role": "bashExecution", "command": "ls", "output": "a", "exitCode": 0,
        "cancelled": False, "truncated": False, "timestamp": 6}},
    {"type": "message", **BASE, "message": {"role": "user", "content": "plain string content", "timestamp": 7}},
    {"type": "model_change", **BASE, "provider": "openai", "modelId": "gpt-5"},
    {"type": "thinking_level_change", **BASE, "thinkingLevel": "high"},
    {"type": "compaction", **BASE, "summary": "S", "firstKeptEntryId": "11111111", "tokensBefore": 9000},
    {"type": "compaction", **BASE, "summary": "S", "firstKeptEntryId": "11111111", "tokensBefore": 9000,
        "details": {"readFiles": ["a"], "modifiedFiles": []}, "fromHook": True},
    {"type": "branch_summary", **BASE, "fromId": "root", "summary": "went elsewhere"},
    {"type": "branch_summary", **BASE, "fromId": "22222222", "summary": "x", "details": {"k": 1}, "fromHook": False},
    {"type": "custom", **BASE, "customType": "ext", "data": {"state": [1, 2]}},
    {"type": "custom", **BASE, "customType": "ext"},
    {"type": "custom", **BASE, "customType": "ext", "data": None},
    {"type": "custom_message", **BASE, "customType": "ext", "content": "text", "display": True},
    {"type": "custom_message", **BASE, "customType": "ext", "content": [{"type": "text", "text": "t"},
        {"type": "image", "data": "AAAA", "mimeType": "image/png"}], "display": False, "details": [1]},
    {"type": "label", **BASE, "targetId": "33333333", "label": "here"},
    {"type": "label", **BASE, "targetId": "33333333"},
    {"type": "session_info", **BASE, "name": "my session"},
    {"type": "session_info", **BASE},
    {"type": "leaf", **BASE, "targetId": "44444444"},
    {"type": "leaf", **BASE, "targetId": None},
    {"type": "message", **BASE, "message": {**USER, "futureField": {"x": 1}}, "futureTopLevel": [1]},
    {"type": "some_future_type", **BASE, "payload": {"a": "b"}},
    {"type": "model_change", "id": "a1b2c3d4", "parentId": None, "timestamp": "t", "provider": "p", "modelId": "m"},
]  # fmt: skip


@pytest.mark.parametrize("raw", ENTRIES, ids=lambda r: str(r["type"]))
def test_entry_round_trip_is_exact(raw: dict[str, object]) -> None:
    entry = parse_entry(raw)
    assert not isinstance(entry, EntryError), entry
    out = entry_to_json(entry)
    assert out == raw
    assert list(out) == list(raw)  # key order too (pi's order)
    again = parse_entry_line(entry_to_line(entry))
    assert again == entry
    assert entry_to_line(again) == entry_to_line(entry)


def test_types_are_the_expected_classes() -> None:
    assert isinstance(parse_entry(ENTRIES[0]), MessageEntry)
    assert isinstance(parse_entry(ENTRIES[20]), LeafEntry)
    unknown = parse_entry(ENTRIES[23])
    assert isinstance(unknown, UnknownEntry) and unknown.data == {"payload": {"a": "b"}}


def test_header_round_trip_with_parent_and_extras() -> None:
    raw = {"type": "session", "version": 3, "id": "u-u-i-d", "timestamp": "2026-01-01T00:00:00.000Z",
           "cwd": "/x", "parentSession": "/old.jsonl", "newKey": 1}  # fmt: skip
    header = header_from_json(raw)
    assert not isinstance(header, EntryError)
    assert header_to_json(header) == raw and list(header_to_json(header)) == list(raw)
    v1 = header_from_json({"type": "session", "id": "x", "timestamp": "t", "cwd": "/"})
    assert not isinstance(v1, EntryError) and v1.version == 1


@pytest.mark.parametrize(
    "bad",
    [b"", b"   ", b"not json", b"[1,2]", b'{"type":"message"}', b'{"id":"x"}', b'{"type":"message","id":"x"}',
     b'{"type":"session","id":"x"}', b'{"type":"leaf","id":"x","targetId":5}', b'{"type":"message","id":"x",'
     b'"message":{"role":"alien"}}', b"\xff\xfe", b"[" * 100_000],
)  # fmt: skip
def test_bad_lines_give_errors_not_exceptions(bad: bytes) -> None:
    assert isinstance(parse_entry_line(bad), EntryError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["type", "id", "parentId", "timestamp", "message", "targetId", "summary",
                                         "content", "display", "label", "name", "customType", "data"]),
                       json_values, max_size=8))  # fmt: skip
def test_parse_entry_never_raises(d: dict[str, object]) -> None:
    result = parse_entry(d)
    if not isinstance(result, EntryError):
        loads(entry_to_line(result))  # whatever parsed can be written back


@given(st.text())
def test_any_text_round_trips_in_a_message(text: str) -> None:
    raw = {"type": "message", **BASE, "message": {"role": "user", "content": [{"type": "text", "text": text}],
                                                  "timestamp": 1}}  # fmt: skip
    entry = parse_entry(raw)
    assert not isinstance(entry, EntryError)
    line = entry_to_line(entry)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert "\u2028".encode() not in line and "\u2029".encode() not in line
    assert parse_entry_line(line) == entry
    assert json.loads(line)["message"]["content"][0]["text"] == text
