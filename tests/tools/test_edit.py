from __future__ import annotations

import json
from pathlib import Path

from opi_cli.agent.tool import Tool
from opi_cli.tools.edit_diff import line_diff
from tests.tools.conftest import read_then_edit


async def test_exact_edit_with_pi_diff(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("alpha\nbeta\nalpha")
    result = await read_then_edit(tools, {"path": "f.txt", "oldText": "beta", "newText": "BETA"})
    assert not result.is_error and result.text == "Successfully replaced text in f.txt."
    assert (cwd / "f.txt").read_text() == "alpha\nBETA\nalpha"
    assert result.details == {"diff": " 1 alpha\n-2 beta\n+2 BETA\n 3 alpha", "firstChangedLine": 2}


def test_diff_context_and_skips() -> None:
    old = "\n".join(f"l{i}" for i in range(1, 21))
    new = old.replace("l10", "X")
    diff = line_diff(old, new)
    assert diff.first_changed_line == 10
    assert diff.diff.split("\n") == [
        "    ...",
        "  6 l6",
        "  7 l7",
        "  8 l8",
        "  9 l9",
        "-10 l10",
        "+10 X",
        " 11 l11",
        " 12 l12",
        " 13 l13",
        " 14 l14",
        "    ...",
    ]


async def test_not_found_error(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("abc")
    result = await read_then_edit(tools, {"path": "f.txt", "oldText": "zzz", "newText": "y"})
    assert result.is_error and result.text == (
        "Could not find the exact text in f.txt. The old text must match exactly including all "
        "whitespace and newlines."
    )


async def test_several_occurrences_error(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("x = 1\nx = 1\n")
    result = await read_then_edit(tools, {"path": "f.txt", "oldText": "x = 1", "newText": "x = 2"})
    assert result.text == (
        "Found 2 occurrences of the text in f.txt. The text must be unique. Please provide more "
        "context to make it unique."
    )
    assert (cwd / "f.txt").read_text() == "x = 1\nx = 1\n"


async def test_identical_content_error(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("same")
    result = await read_then_edit(tools, {"path": "f.txt", "oldText": "same", "newText": "same"})
    assert result.is_error and result.text.startswith(
        "No changes made to f.txt. The replacement produced identical content."
    )


async def test_missing_file(tools: dict[str, Tool]) -> None:
    result = await read_then_edit(tools, {"path": "nope.txt", "oldText": "a", "newText": "b"})
    assert result.is_error and result.text == "File not found: nope.txt"


async def test_fuzzy_match_touches_only_the_region_defect_10(tools: dict[str, Tool], cwd: Path) -> None:
    original = (
        "title = “Quotes” — kept\u00a0as is   \ndef f():\n    return ‘x’   \ntail “also” kept – here  \n"
    )
    (cwd / "f.py").write_bytes(original.encode())
    result = await read_then_edit(tools, {"path": "f.py", "oldText": "    return 'x'\n", "newText": "    return 'y'\n"})
    assert not result.is_error, result.text
    expected = original.replace("    return ‘x’   \n", "    return 'y'\n")
    assert (cwd / "f.py").read_bytes() == expected.encode()


async def test_fuzzy_match_of_nfkc_and_dashes(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("ﬁle – A\nother “text”\n")
    result = await read_then_edit(tools, {"path": "f.txt", "oldText": "file - A", "newText": "FILE"})
    assert not result.is_error
    assert (cwd / "f.txt").read_text() == "FILE\nother “text”\n"


async def test_crlf_and_bom_preserved(tools: dict[str, Tool], cwd: Path) -> None:
    raw = "\ufeffone\r\ntwo\r\nthree\r\n".encode()
    (cwd / "w.txt").write_bytes(raw)
    result = await read_then_edit(tools, {"path": "w.txt", "oldText": "two\nthree", "newText": "2\n3"})
    assert not result.is_error, result.text
    assert (cwd / "w.txt").read_bytes() == "\ufeffone\r\n2\r\n3\r\n".encode()
    assert result.details == {"diff": " 1 one\n-2 two\n-3 three\n+2 2\n+3 3", "firstChangedLine": 2}


async def test_mixed_line_endings_outside_region_untouched(tools: dict[str, Tool], cwd: Path) -> None:
    raw = b"a\r\nb\nc\r\n"
    (cwd / "m.txt").write_bytes(raw)
    await read_then_edit(tools, {"path": "m.txt", "oldText": "c", "newText": "C"})
    assert (cwd / "m.txt").read_bytes() == b"a\r\nb\nC\r\n"


async def test_multiple_edits_against_original(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("a1\nb2\nc3\n")
    edits = [{"oldText": "c3", "newText": "a1"}, {"oldText": "a1", "newText": "A1"}]
    result = await read_then_edit(tools, {"path": "f.txt", "edits": edits})
    assert result.text == "Successfully replaced 2 blocks in f.txt."
    # the second edit matched the original "a1", not the one the first edit produced
    assert (cwd / "f.txt").read_text() == "A1\nb2\na1\n"


async def test_stringified_edits_coerced(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("x y")
    edits = json.dumps([{"oldText": "x", "newText": "1"}, {"oldText": "y", "newText": "2"}])
    result = await read_then_edit(tools, {"path": "f.txt", "edits": edits})
    assert not result.is_error and (cwd / "f.txt").read_text() == "1 2"


async def test_overlapping_edits_refused(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("hello world")
    edits = [{"oldText": "hello wo", "newText": "1"}, {"oldText": "world", "newText": "2"}]
    result = await read_then_edit(tools, {"path": "f.txt", "edits": edits})
    assert result.is_error and "edits[0] and edits[1] overlap in f.txt" in result.text
    assert (cwd / "f.txt").read_text() == "hello world"


async def test_multi_edit_errors_name_the_edit(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "f.txt").write_text("a a b")
    edits = [{"oldText": "b", "newText": "B"}, {"oldText": "q", "newText": "Q"}]
    result = await read_then_edit(tools, {"path": "f.txt", "edits": edits})
    assert result.is_error and "edits[1]" in result.text
    edits = [{"oldText": "b", "newText": "B"}, {"oldText": "a", "newText": "A"}]
    result = await read_then_edit(tools, {"path": "f.txt", "edits": edits})
    assert result.text.startswith("Found 2 occurrences of edits[1] in f.txt.")
    assert (cwd / "f.txt").read_text() == "a a b"
