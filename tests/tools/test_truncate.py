from __future__ import annotations

from opi_cli.tools.truncate import format_size, truncate_head, truncate_line, truncate_tail


def test_format_size() -> None:
    assert format_size(123) == "123B"
    assert format_size(1023) == "1023B"
    assert format_size(51200) == "50.0KB"
    assert format_size(int(1.2 * 1024 * 1024)) == "1.2MB"


def test_head_untouched_below_limits() -> None:
    tr = truncate_head("a\nb")
    assert not tr.truncated and tr.truncated_by is None and tr.content == "a\nb"
    assert tr.to_json()["totalLines"] == 2


def test_head_by_lines() -> None:
    text = "\n".join(str(i) for i in range(2500))
    tr = truncate_head(text)
    assert tr.truncated_by == "lines" and tr.output_lines == 2000 and tr.total_lines == 2500
    assert tr.content.split("\n")[-1] == "1999"


def test_head_by_bytes_keeps_whole_lines() -> None:
    text = "\n".join("x" * 99 for _ in range(1000))  # 100 bytes per line with newline
    tr = truncate_head(text)
    assert tr.truncated_by == "bytes"
    assert tr.output_lines == 512 and tr.output_bytes <= 51200
    assert all(len(line) == 99 for line in tr.content.split("\n"))


def test_head_first_line_too_big() -> None:
    tr = truncate_head("y" * 60000 + "\nshort")
    assert tr.content == "" and tr.first_line_exceeds_limit and tr.truncated_by == "bytes"
    keys = set(tr.to_json())
    assert keys == {
        "content",
        "truncated",
        "truncatedBy",
        "totalLines",
        "totalBytes",
        "outputLines",
        "outputBytes",
        "lastLinePartial",
        "firstLineExceedsLimit",
        "maxLines",
        "maxBytes",
    }


def test_tail_by_lines_and_bytes() -> None:
    tr = truncate_tail("\n".join(str(i) for i in range(3000)))
    assert tr.truncated_by == "lines" and tr.content.split("\n")[0] == "1000"
    tr = truncate_tail("\n".join("z" * 999 for _ in range(100)))
    assert tr.truncated_by == "bytes" and tr.output_lines == 51


def test_tail_partial_last_line_is_utf8_safe() -> None:
    line = "é" * 40000  # 80000 bytes
    tr = truncate_tail("head\n" + line)
    assert tr.last_line_partial and tr.output_lines == 1
    assert tr.output_bytes <= 51200 and set(tr.content) == {"é"}


def test_truncate_line() -> None:
    assert truncate_line("a" * 500) == ("a" * 500, False)
    assert truncate_line("a" * 501) == ("a" * 500 + "... [truncated]", True)
