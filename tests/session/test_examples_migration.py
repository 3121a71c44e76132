"""Every file in sessions.example/ loads; pi's v1/v2 files migrate in memory and are never rewritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opi_cli.agent.messages import CompactionSummaryMessage, CustomMessage
from opi_cli.ai.types import AssistantMessage, TextContent, ToolResultMessage, UserMessage
from opi_cli.session import JsonlStore, SessionWriter, check
from opi_cli.session.entries import entry_to_json, parse_entry_line

EXAMPLES = Path(__file__).resolve().parents[2] / "sessions.example"


def _texts(messages: tuple[object, ...]) -> list[str]:
    out: list[str] = []
    for m in messages:
        if isinstance(m, UserMessage | ToolResultMessage | CustomMessage):
            out.append("".join(c.text for c in m.content if isinstance(c, TextContent)))
        elif isinstance(m, AssistantMessage):
            out.append(m.text or "<tool call>")
        elif isinstance(m, CompactionSummaryMessage):
            out.append("SUMMARY")
    return out


async def _load(path: Path, tmp_path: Path) -> SessionWriter:
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    return await SessionWriter.open(JsonlStore(tmp_path / "sessions"), str(copy))


EXPECTED = {
    "plain-chat.jsonl": ["What is the capital of France?", "Paris.", "And of Italy?", "Rome."],
    "tool-run.jsonl": ["How many Python files are in src/?", "Let me count them.", "12",
                       "There are 12 Python files in src/."],
    "branched.jsonl": ["Suggest a name for a CLI tool.", "How about `swift`?", "Shorter, then.", "`sw`."],
    "compacted.jsonl": ["SUMMARY", "Change it to 9090.", "Done: config.toml now says port = 9090.",
                        "What port is it now?", "9090."],
    "pi-0.58-v3.jsonl": ["List the files here.", "<tool call>", "README.md\nsrc\n",
                         "There is a README.md and a src folder.", "Thanks!", "You're welcome."],
    "pi-v1.jsonl": ["SUMMARY", "Second question.", "Second answer.", "Remember the style guide.", "Third question."],
}  # fmt: skip


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.jsonl")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example_loads_with_expected_context(name: str, tmp_path: Path) -> None:
    w = await _load(EXAMPLES / name, tmp_path)
    ctx = await w.context()
    assert _texts(ctx.messages) == EXPECTED[name]
    assert w.damaged == 0
    assert check(EXAMPLES / name).ok
    await w.close()


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if not n.startswith("pi-v1")])
def test_v3_examples_round_trip_byte_for_byte(name: str) -> None:
    for line in (EXAMPLES / name).read_bytes().splitlines()[1:]:
        entry = parse_entry_line(line)
        assert json.dumps(entry_to_json(entry)) == json.dumps(json.loads(line))  # type: ignore[arg-type]


async def test_branched_example_has_a_leaf_entry_and_label(tmp_path: Path) -> None:
    w = await _load(EXAMPLES / "branched.jsonl", tmp_path)
    types = [json.loads(line)["type"] for line in (EXAMPLES / "branched.jsonl").read_text().splitlines()]
    assert "leaf" in types
    assert list((await w.full_tree()).labels.values()) == ["naming"] and w.name == "naming a tool"
    await w.close()


async def test_v1_settings_and_compaction_migrate(tmp_path: Path) -> None:
    w = await _load(EXAMPLES / "pi-v1.jsonl", tmp_path)
    ctx = await w.context()
    assert w.index.migrated and ctx.model == ("anthropic", "claude-sonnet-4") and ctx.thinking_level == "low"
    assert isinstance(ctx.messages[3], CustomMessage) and ctx.messages[3].custom_type == "reminder"
    await w.close()


async def test_appending_to_a_migrated_file_forks_and_leaves_it_untouched(tmp_path: Path) -> None:
    copy = tmp_path / "old.jsonl"
    shutil.copyfile(EXAMPLES / "pi-v1.jsonl", copy)
    before = copy.read_bytes()
    store = JsonlStore(tmp_path / "sessions")
    w = await SessionWriter.open(store, str(copy))
    old_ctx = await w.context()
    await w.append_message(UserMessage((TextContent("continuing in opi"),), 1))
    assert copy.read_bytes() == before
    new_path = Path(w.location)
    assert new_path != copy and new_path.parent.name == "--home-user-old-project--"
    lines = new_path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 3 and header["parentSession"] == str(copy)
    assert header["id"] == w.session_id != "0b7f6a52-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
    ctx = await w.context()
    assert ctx.messages[:-1] == old_ctx.messages and _texts(ctx.messages)[-1] == "continuing in opi"
    await w.close()
    again = await SessionWriter.open(store, str(new_path))
    assert (await again.context()).messages == ctx.messages and not again.index.migrated
    await again.close()


async def test_v2_hook_message_and_ids_migrate(tmp_path: Path) -> None:
    path = tmp_path / "v2.jsonl"
    rows = [
        {"type": "session", "version": 2, "id": "v2-session", "timestamp": "2025-09-01T00:00:00.000Z", "cwd": "/v2"},
        {"type": "message", "id": "aaaaaaaa", "parentId": None, "timestamp": "2025-09-01T00:00:01.000Z",
         "message": {"role": "user", "content": "hi", "timestamp": 1}},
        {"type": "message", "id": "bbbbbbbb", "parentId": "aaaaaaaa", "timestamp": "2025-09-01T00:00:02.000Z",
         "message": {"role": "hookMessage", "customType": "hook", "content": [{"type": "text", "text": "from hook"}],
                     "display": False, "timestamp": 2}},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    w = await SessionWriter.open(JsonlStore(tmp_path / "s"), str(path))
    entries = await w.path_entries()
    assert [e.id for e in entries] == ["aaaaaaaa", "bbbbbbbb"]
    assert entry_to_json(entries[1])["message"]["role"] == "custom"  # type: ignore[index]
    assert _texts((await w.context()).messages) == ["hi", "from hook"]
    await w.close()
