from __future__ import annotations

import re

from opi_cli.tools.gitignore import IgnoreRules, glob_to_regex, parse_gitignore


def _ignored(text: str, path: str, is_dir: bool = False, base: str = "") -> bool:
    return IgnoreRules(tuple(parse_gitignore(text, base))).ignored(path, is_dir)


def test_glob_translation() -> None:
    assert re.fullmatch(glob_to_regex("*.py"), "a.py")
    assert not re.fullmatch(glob_to_regex("*.py"), "d/a.py")
    assert re.fullmatch(glob_to_regex("**/x"), "x") and re.fullmatch(glob_to_regex("**/x"), "a/b/x")
    assert re.fullmatch(glob_to_regex("a/**/b"), "a/b") and re.fullmatch(glob_to_regex("a/**/b"), "a/x/y/b")
    assert re.fullmatch(glob_to_regex("a/**"), "a/x/y") and not re.fullmatch(glob_to_regex("a/**"), "a")
    assert re.fullmatch(glob_to_regex("f?[0-9]"), "fa7") and not re.fullmatch(
        glob_to_regex("f?[!0-9]"), "fa7"
    )
    assert re.fullmatch(glob_to_regex(r"\*lit"), "*lit") and not re.fullmatch(glob_to_regex(r"\*lit"), "xlit")


def test_unanchored_matches_at_any_depth() -> None:
    assert _ignored("*.log", "a/b/c.log")
    assert _ignored("build", "src/build", is_dir=True)


def test_anchored_patterns() -> None:
    assert _ignored("/build", "build", is_dir=True)
    assert not _ignored("/build", "src/build", is_dir=True)
    assert _ignored("docs/*.md", "docs/a.md") and not _ignored("docs/*.md", "x/docs/a.md")


def test_dir_only() -> None:
    assert _ignored("out/", "out", is_dir=True)
    assert not _ignored("out/", "out", is_dir=False)


def test_negation_last_match_wins() -> None:
    text = "*.txt\n!keep.txt\n"
    assert _ignored(text, "a.txt") and not _ignored(text, "keep.txt")


def test_comments_blank_and_escapes() -> None:
    text = "# comment\n\n\\#hash\n\\!bang\ntrailing   \n"
    assert _ignored(text, "#hash") and _ignored(text, "!bang") and _ignored(text, "trailing")
    assert not _ignored(text, "comment")


def test_nested_file_base() -> None:
    assert _ignored("*.tmp", "sub/x.tmp", base="sub")
    assert not _ignored("*.tmp", "other/x.tmp", base="sub")
    assert _ignored("/only", "sub/only", base="sub") and not _ignored("/only", "sub/deep/only", base="sub")
