"""``sessions doctor`` checks and repairs; export renders the current path to HTML and Markdown."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from opi_cli.ai.types import ImageContent, TextContent, ToolCall, UserMessage
from opi_cli.session import JsonlStore, SessionWriter, check, export_html, export_markdown, repair

from .builders import assistant, tool_result

EXAMPLES = Path(__file__).resolve().parents[2] / "sessions.example"


def _copy(tmp_path: Path, name: str = "tool-run.jsonl") -> Path:
    dest = (
        tmp_path
        / "--home-user-project--"
        / "2026-11-21T10-05-54-376Z_54d9e0a1-3f36-4ca9-b541-8b7f1def2b76.jsonl"
    )
    dest.parent.mkdir()
    shutil.copyfile(EXAMPLES / name, dest)
    return dest


def test_check_clean_file(tmp_path: Path) -> None:
    report = check(_copy(tmp_path))
    assert report.ok and report.problems() == [] and report.entries == 6


def test_check_finds_every_kind_of_problem(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    lines = path.read_bytes().split(b"\n")[:-1]
    second = json.loads(lines[3])
    orphan = {**json.loads(lines[4]), "id": "0rphan00", "parentId": "missing!"}
    lines.insert(3, b"{broken")
    lines.append(json.dumps(second).encode())  # duplicate id
    lines.append(json.dumps(orphan).encode())
    lines.append(
        json.dumps(
            {"type": "leaf", "id": "1eaf0000", "parentId": "x", "timestamp": "t", "targetId": "nowhere"}
        ).encode()
    )
    path.write_bytes(b"\n".join(lines) + b'\n{"type":"mess')
    report = check(path)
    assert not report.ok
    assert [d.line for d in report.damaged] == [4]
    assert report.torn_tail and report.duplicate_ids == [second["id"]]
    assert report.orphans == ["0rphan00"] and report.bad_leaves == ["1eaf0000"]
    assert len(report.problems()) == 5


async def test_repair_writes_fixed_copy_and_keeps_backup(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    original = path.read_bytes()
    orphan = {**json.loads(original.split(b"\n")[4]), "id": "0rphan00", "parentId": "missing!"}
    damaged = original + b"{broken\n" + json.dumps(orphan).encode() + b'\n{"type":"mess'
    path.write_bytes(damaged)
    backup, report = repair(path)
    assert not report.ok and backup.read_bytes() == damaged
    fixed = check(path)
    assert fixed.ok, fixed.problems()
    w = await SessionWriter.open(JsonlStore(tmp_path), str(path))
    assert len((await w.context()).messages) == 5  # the 4 messages plus the re-attached one
    await w.close()


async def test_repair_rebuilds_a_lost_header_from_the_file_name(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    path.write_bytes(b"garbage header\n" + path.read_bytes().split(b"\n", 1)[1])
    assert check(path).header_error is not None
    repair(path)
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["id"] == "54d9e0a1-3f36-4ca9-b541-8b7f1def2b76"
    assert header["timestamp"] == "2026-11-21T10:05:54.376Z" and header["cwd"] == "/home/user/project"
    w = await SessionWriter.open(JsonlStore(tmp_path), str(path))
    assert len((await w.context()).messages) == 4
    await w.close()


async def test_export_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path)
    w = await SessionWriter.create(store, cwd="/x<y>")
    await w.append_model_change("mock", "m")
    await w.append_message(UserMessage((TextContent("<script>alert(1)</script> & \ud800"),
                                        ImageContent("iVBORw0KGgo=", "image/png")), 1))  # fmt: skip
    call = ToolCall("c1", "bash", {"command": "echo '<b>'"})
    await w.append_message(assistant("ok", calls=(call,), thinking="plan </details>"))
    await w.append_message(tool_result(call, "<b>bold</b>\n```\nfence"))
    page = export_html(w.header, await w.path_entries())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "plan &lt;/details&gt;" in page
    assert page.count("<details") == page.count("</details>") == 1  # the thinking; the short output shows
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "/x&lt;y&gt;" in page
    md = export_markdown(w.header, await w.path_entries())
    assert "## User" in md and "*model: mock/m*" in md
    assert "<script>" not in md and "&lt;script>alert(1)&lt;/script>" in md  # inert in a Markdown viewer
    assert "````\n<b>bold</b>\n```\nfence\n````" in md  # the fence outlasts the text's own
    await w.close()


async def test_export_of_compacted_example_shows_summary(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    shutil.copyfile(EXAMPLES / "compacted.jsonl", path)
    w = await SessionWriter.open(JsonlStore(tmp_path), str(path))
    page = export_html(w.header, await w.path_entries())
    assert "Compaction summary (5400 tokens before)" in page and "Read config.toml (port 8080)" in page
    await w.close()
