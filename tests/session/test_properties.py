"""Property tests: a damaged file always loads, losing at most its damaged lines, and appends never glue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opi_cli.ai.types import TextContent, UserMessage
from opi_cli.errors import SessionError
from opi_cli.session import JsonlStore, SessionWriter
from opi_cli.session.entries import EntryError, parse_entry_line
from tests.conftest import SPEED_CHECKS

EXAMPLES = Path(__file__).resolve().parents[2] / "sessions.example"
SOURCE = (EXAMPLES / "branched.jsonl").read_bytes() + b"".join(
    (EXAMPLES / "compacted.jsonl").read_bytes().splitlines(keepends=True)[1:]
)
HEADER_LEN = SOURCE.index(b"\n") + 1
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[*SPEED_CHECKS, HealthCheck.function_scoped_fixture])


def _ids_of_intact_lines(data: bytes) -> set[str]:
    """Ids of the original entry lines that still stand whole, as lines of their own, in ``data``."""
    present = set(data.split(b"\n")[1:])
    if data and not data.endswith(b"\n"):
        present.discard(data.rsplit(b"\n", 1)[-1])  # an unterminated tail only counts if it is complete JSON
        tail = data.rsplit(b"\n", 1)[-1]
        if not isinstance(parse_entry_line(tail), EntryError):
            present.add(tail)
    out = set()
    for line in SOURCE.split(b"\n")[1:]:
        if line and line in present:
            out.add(json.loads(line)["id"])
    return out


def _load_and_append(path: Path, data: bytes) -> None:
    for side in (Path(f"{path}.torn"), Path(f"{path}.lock")):
        side.unlink(missing_ok=True)
    path.write_bytes(data)

    async def run() -> None:
        store = JsonlStore(path.parent / "sessions")
        try:
            w = await SessionWriter.open(store, str(path))
        except SessionError:
            assert data[:HEADER_LEN] != SOURCE[:HEADER_LEN]  # only a damaged header is refused
            assert path.read_bytes() == data  # ...and the file is left as it was
            return
        await w.context()  # from the partial index a resume loads ...
        await w.append_message(UserMessage((TextContent("after damage"),), 1))
        tree = await w.full_tree()  # ... and the whole tree, which has every intact line
        assert _ids_of_intact_lines(data) <= {tree.node(p).id for p in range(len(tree))}
        await w.close()
        if w.location != str(path):  # the header's version was changed: appends went to a fork
            assert w.index.header.parent_session == str(path) and path.read_bytes() == data
            return
        after = path.read_bytes()
        assert after.endswith(b"\n")
        lines = after.split(b"\n")[1:-1]
        assert json.loads(lines[-1])["message"]["content"][0]["text"] == "after damage"  # never glued
        intact_before = {line for line in data.split(b"\n")[1:-1] if line}
        assert intact_before <= set(lines)  # nothing complete was cut off

    asyncio.run(run())


@PROPS
@given(st.integers(min_value=0, max_value=len(SOURCE)))
def test_any_truncation_loads(tmp_path: Path, cut: int) -> None:
    _load_and_append(tmp_path / "s.jsonl", SOURCE[:cut])


@PROPS
@given(st.integers(min_value=0, max_value=len(SOURCE) - 1), st.integers(min_value=0, max_value=255))
def test_any_single_byte_corruption_loads(tmp_path: Path, at: int, value: int) -> None:
    data = bytearray(SOURCE)
    data[at] = value
    _load_and_append(tmp_path / "s.jsonl", bytes(data))


@pytest.mark.parametrize("at", [0, HEADER_LEN - 1, HEADER_LEN, len(SOURCE) - 1])
def test_edge_corruptions(tmp_path: Path, at: int) -> None:
    data = bytearray(SOURCE)
    data[at] = ord("#")
    _load_and_append(tmp_path / "s.jsonl", bytes(data))


@pytest.mark.parametrize("version", [b"1", b"2", b"9"])
def test_header_version_changed(tmp_path: Path, version: bytes) -> None:
    at = SOURCE.index(b'"version":3') + len(b'"version":')
    _load_and_append(tmp_path / "s.jsonl", SOURCE[:at] + version + SOURCE[at + 1 :])


@settings(max_examples=100, deadline=None, suppress_health_check=[*SPEED_CHECKS, HealthCheck.function_scoped_fixture])
@given(st.text())
def test_any_text_round_trips_through_a_session_file(tmp_path: Path, text: str) -> None:
    async def run() -> None:
        store = JsonlStore(tmp_path / "sessions")
        w = await SessionWriter.create(store, cwd="/t")
        await w.append_message(UserMessage((TextContent(text),), 1))
        await w.append_session_info(text)
        await w.close()
        data = Path(w.location).read_bytes()
        assert data.count(b"\n") == 3
        again = await SessionWriter.open(store, w.location)
        ctx = await again.context()
        assert ctx.messages == (UserMessage((TextContent(text),), 1),)
        assert again.name == text
        await again.close()

    asyncio.run(run())
